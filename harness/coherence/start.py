"""The caches' start state: which lines firmware may have left valid.

The arm64 boot protocol asks only that the loaded image be cleaned to PoC; it
does not ask firmware to invalidate, so valid clean lines over the image (and
whatever firmware touched) may still be cached when the loader starts. A
loader that writes memory with its caches off under such a line and then reads
it cached sees the stale copy. The model starts "warm" on direct-boot targets
(the image and the kernel's destination valid and clean) and "cold" (empty)
behind U-Boot, whose own cache handling is what the loader meets there.
``--cache-start warm|cold`` (CLI and pytest) or ``HARNESS_CACHE_START`` overrides
the default.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .args import MAX_WARM_RANGES
from .plugin_report import START_STATES

if TYPE_CHECKING:
    from ..payload import Payload

__all__ = ["START_ENV", "start_state", "warm_ranges"]

START_ENV = "HARNESS_CACHE_START"


def start_state(direct_boot: bool, chosen: str | None = None) -> str:
    """ "warm" on direct-boot targets, "cold" behind U-Boot, unless the person
    chose (`chosen`, from --cache-start) or the environment says otherwise
    (ValueError names the variable)."""
    if chosen:
        if chosen not in START_STATES:
            raise ValueError(f"--cache-start {chosen!r}: use one of {', '.join(START_STATES)}")
        return chosen
    chosen = os.environ.get(START_ENV, "").strip()
    if not chosen:
        return "warm" if direct_boot else "cold"
    if chosen not in START_STATES:
        raise ValueError(f"{START_ENV}={chosen!r}: use one of {', '.join(START_STATES)}")
    return chosen


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(x for x in spans if x[0] < x[1]):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    while len(out) > MAX_WARM_RANGES:  # close the smallest gap
        i = min(range(len(out) - 1), key=lambda k: out[k + 1][0] - out[k][1])
        out[i : i + 2] = [(out[i][0], out[i + 1][1])]
    return out


def warm_ranges(payload: "Payload", state: str) -> list[tuple[int, int]]:
    """Physical ranges that start valid and clean: the loader's image (its
    archive included) and every destination known before the boot: each image
    of ours, seL4's kernel, and seL4's user images where its placement rule puts
    them (`verify.image_offsets`, the one placement poison and the out-of-band
    dump also use; an image whose place only the run can tell is left out)."""
    if state == "cold":
        return []
    from ..errors import HarnessError
    from ..qemu.verify import image_offsets

    try:
        offsets = image_offsets(payload)
    except HarnessError:
        offsets = {}  # an archive the loader itself will reject: its images stay cold
    spans = [payload.loader.span]
    spans += [
        (seg.paddr + offsets[img.name], seg.paddr + offsets[img.name] + seg.memsz)
        for img in payload.images
        if img.name in offsets
        for seg in img.segments
    ]
    return _merged(spans)

"""The `destinations` check, before any boot: where the loader will unpack against the
firmware's carve-outs.

The early map is not the only way into a carve-out: the unpack itself writes there when
an image is placed over one. seL4's elfloader puts the kernel at its physical addresses
and each user image right after it, page by page, without asking where the firmware
lives, so a 596 MB rootserver behind a kernel at 0x40000000 runs straight through OP-TEE
at 0x56000000. On QEMU the bytes land and the boot passes; on the board the TZASC aborts
the first store. Both sides are known before power-on: the boot file and the target.
"""

from __future__ import annotations

from ..destinations import Area, unpack_destinations
from ..payload import Payload
from ..targets import Target
from .check import Check, _fail, _pass

NAME = "destinations"


def judge(areas: tuple[Area, ...], target: Target) -> list[str]:
    """Each unpack destination that overlaps a carve-out, named with both ranges."""
    return [
        f"{a.what} [{a.lo:#x}..{a.hi:#x}) overlaps {c.describe()} ({c.source})"
        for a in areas
        for c in target.carve_outs
        if a.overlaps(c.base, c.end)
    ]


def destinations_check(payload: Payload, target: Target) -> Check | None:
    """None where the target declares no carve-out, or the boot file is no loader whose
    destinations can be read (a bare kernel: nothing is unpacked)."""
    if not target.carve_outs:
        return None
    loader = payload.loader
    areas = (Area(loader.span[0], loader.span[1], "the loader itself"), *unpack_destinations(payload.elf))
    if len(areas) == 1:
        return None
    problems = judge(areas, target)
    if problems:
        return _fail(NAME, problems + ["the loader would write into memory the board's firmware keeps"])
    lo, hi = min(a.lo for a in areas), max(a.hi for a in areas)
    kept = ", ".join(c.describe() for c in target.carve_outs)
    return _pass(NAME, f"{len(areas)} unpack destinations in [{lo:#x}..{hi:#x}) keep clear of {kept}")

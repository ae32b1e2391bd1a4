"""The report's throughput section: unpack throughput against image size per
loader mode, measured (host clock, target timer) and modeled for the board.

Why a module of its own: the one section that pools the shown runs' boots
instead of following a run or a series -- the question is how each loader mode
scales with the image.
"""

from __future__ import annotations

from .. import plots
from .runs import Documents, RunWindow


def throughput_section(window: RunWindow, docs: Documents, figs: plots.Deferred) -> str:
    """Measured (host clock and target timer) and modeled unpack throughput against
    the unpacked size, per loader mode, over the shown runs' passing boots."""
    measured: list[plots.Throughput] = []
    modeled: dict[str, list[plots.Throughput]] = {}
    skipped = 0
    for b in window.shown_boots():
        m = window.metrics[b.id]
        size = m.get("image.unpacked_bytes")
        if size is None or not b.ok:
            continue
        mode = b.mode or "?"
        for clock, key in (("host", "unpack.host_s"), ("target", "unpack.target_s")):
            if key in m and m[key].value > 0:
                measured.append(plots.Throughput(mode, size.value, size.value / m[key].value, clock))
            elif key == "unpack.host_s" and key in m:
                skipped += 1
        if "modeled.total_s" in m and m["modeled.total_s"].value > 0:
            modeled.setdefault(docs.profile(b), []).append(
                plots.Throughput(mode, size.value, size.value / m["modeled.total_s"].value, "modeled")
            )
    parts = [
        "<p>Unpacked bytes over the unpack window (measured: host clock \u25cb, target timer "
        "\u25b3) and over the modeled loader time (modeled for the board by the cache model's "
        "timing profile), per loader mode; lines join the median per size.</p>"
    ]
    if skipped:
        parts.append(
            f"<p class=note>{skipped} boot(s) with a zero host-clock unpack window (the "
            "console delivered its stamps together) are left out of the host clock.</p>"
        )
    if measured:
        parts.append(
            '<figure class="throughput" data-kind="measured">'
            + figs.add(plots.throughput_svg, "unpack throughput \u2014 measured", measured, "tp-measured")
            + "</figure>"
        )
    for n, (profile, points) in enumerate(sorted(modeled.items())):
        parts.append(
            '<figure class="throughput" data-kind="modeled">'
            + figs.add(
                plots.throughput_svg, f"unpack throughput \u2014 modeled (profile {profile})", points, f"tp-modeled-{n}"
            )
            + "</figure>"
        )
    if not measured and not modeled:
        parts.append("<p>No boot in these runs has an unpack window and an image size.</p>")
    return "\n".join(parts)

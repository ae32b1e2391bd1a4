"""The throughput figure: unpack throughput against unpacked image size, log-log,
per loader mode and clock (host, target timer, modeled).

Why a module of its own: it is the one figure with real matplotlib axes (log
scales, a legend) and the one that aggregates boots (medians per size) before
drawing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from .svg import new_figure, svg_text

MODE_COLOURS = {"mmu-off": "#c62828", "early-mmu": "#2e7d32", "fallback": "#1565c0"}


@dataclass(frozen=True)
class Throughput:
    """One boot's unpack rate: image bytes over seconds, by which clock."""

    mode: str
    size: float  # unpacked bytes
    rate: float  # bytes per second
    clock: str  # "host" | "target" | "modeled"


def throughput_svg(title: str, points: Sequence[Throughput], salt: str) -> str:
    """Unpack throughput (MiB/s) against unpacked size, log-log, a colour per loader
    mode and a marker per clock: the median per (mode, size) joined by a line, since the
    question is how each mode scales with the image, and the range of the boots as a bar."""
    fig = new_figure(7.5, 4.2)
    ax = fig.add_axes((0.1, 0.13, 0.62, 0.78))
    markers = {"host": "o", "target": "^", "modeled": "s"}
    for (mode, clock), group in sorted(_groups(points).items()):
        colour = MODE_COLOURS.get(mode, "#6a1b9a")
        medians = _medians(group)
        ax.vlines(
            [s / 2**20 for s, _, _, _ in medians],
            [lo / 2**20 for _, _, lo, _ in medians],
            [hi / 2**20 for *_, hi in medians],
            color=colour,
            alpha=0.5,
            linewidth=3,
        )
        ax.plot(
            [s / 2**20 for s, *_ in medians],
            [r / 2**20 for _, r, _, _ in medians],
            color=colour,
            marker=markers.get(clock, "o"),
            markersize=5,
            linewidth=1.2,
            linestyle="-" if clock != "target" else ":",
            label=f"{mode} ({clock} clock)" if clock != "modeled" else mode,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # plain labels: log axes' default is mathtext (slow)
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_locator(NullLocator())
    ax.set_xlabel("unpacked image size (MiB)")
    ax.set_ylabel("unpack throughput (MiB/s)")
    ax.grid(True, which="major", color="#e0e0e0", linewidth=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7.5, frameon=False)
    ax.set_title(title)
    return svg_text(fig, salt)


def _groups(points: Sequence[Throughput]) -> dict[tuple[str, str], list[Throughput]]:
    out: dict[tuple[str, str], list[Throughput]] = {}
    for p in points:
        out.setdefault((p.mode, p.clock), []).append(p)
    return out


def _medians(group: Sequence[Throughput]) -> list[tuple[float, float, float, float]]:
    """(size, median, lowest, highest rate) per distinct size, by size: a few artists
    however many boots (a scatter of every boot costs an SVG element each)."""
    by_size: dict[float, list[float]] = {}
    for p in group:
        by_size.setdefault(p.size, []).append(p.rate)
    return [(size, statistics.median(rates), min(rates), max(rates)) for size, rates in sorted(by_size.items())]

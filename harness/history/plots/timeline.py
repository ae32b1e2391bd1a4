"""The per-boot timeline figure: a `systemd-analyze plot`-style chart of one boot's
phases (host clock) and the target timer's intervals.

Why a module of its own: it is the only figure of one boot rather than of many
runs, with its own colours, one per phase, the same in every boot's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from matplotlib.collections import PolyCollection
from matplotlib.ticker import MaxNLocator

from .svg import bare_axes, fmt_value, svg_text, tick_labels

#: Phase colours: the same phase has the same colour in every boot's timeline.
PHASE_COLOURS = {
    "firmware": "#9e9e9e",
    "u-boot": "#8d6e63",
    "setup": "#795548",
    "load": "#a1887f",
    "bootm": "#bcaaa4",
    "start": "#d7ccc8",
    "loader": "#5c6bc0",
    "unpack": "#ef6c00",
    "image": "#ffb74d",
    "verify+handoff": "#26a69a",
    "handoff": "#26a69a",
    "kernel": "#66bb6a",
}
TARGET_COLOUR = "#00838f"


@dataclass(frozen=True)
class Bar:
    """One row of a timeline: a span (host clock) or a target-timer interval."""

    label: str
    start: float
    length: float
    colour: str
    note: str = ""  # appended to the label after the duration
    target: bool = False  # measured by the target's timer, drawn hatched


def timeline_svg(title: str, bars: Sequence[Bar], salt: str) -> str:
    """A `systemd-analyze plot`-style chart: one bar per row in boot order, its label
    and duration to the right of it, seconds since power-on along the bottom."""
    end = max((b.start + b.length for b in bars), default=1.0) or 1.0
    height = 0.95 + 0.24 * max(len(bars), 1)
    fig, ax = bare_axes(10, height, (0.02, 0.6 / height, 0.96, 1 - 0.95 / height), title)
    minimum = end * 0.002  # a zero-length span stays visible
    boxes: dict[bool, list[list[tuple[float, float]]]] = {False: [], True: []}
    colours: dict[bool, list[str]] = {False: [], True: []}
    for row, bar in enumerate(bars):
        x0, x1 = bar.start, bar.start + max(bar.length, minimum)
        boxes[bar.target].append([(x0, row - 0.36), (x1, row - 0.36), (x1, row + 0.36), (x0, row + 0.36)])
        colours[bar.target].append(bar.colour)
        text = f"{bar.label}  {fmt_value(bar.length, 's')}" + (f"  {bar.note}" if bar.note else "")
        ax.text(x1 + end * 0.006, row, text, va="center", fontsize=7.5)
    for target in (False, True):  # one artist per kind: the SVG stays small
        if boxes[target]:
            ax.add_collection(
                PolyCollection(
                    boxes[target],
                    facecolors=colours[target],
                    linewidths=0,
                    hatch="////" if target else None,
                    edgecolors="white" if target else "none",
                ),
                autolim=False,
            )
    ax.set_ylim(len(bars) - 0.4, -0.6)
    ax.set_xlim(0, end * 1.45)  # room for the last labels
    ticks = [t for t in MaxNLocator(8).tick_values(0, end * 1.45) if 0 <= t <= end * 1.45]
    ax.vlines(ticks, -0.6, len(bars) - 0.4, color="#e0e0e0", linewidth=0.6, zorder=0)
    tick_labels(ax, ticks, [f"{t:g}" for t in ticks])
    ax.text(
        0.5,
        -0.25 / (height - 0.95),
        "seconds since power-on (bars: host clock; hatched: target timer)",
        transform=ax.transAxes,
        ha="center",
        va="top",
    )
    return svg_text(fig, salt)

"""The modeled-boot figure: a `systemd-analyze plot`-style chart of where the MODELED
board time of two routes goes, stock on top, the early-MMU patch below.

Why two panels and not a log or broken axis: bars laid end to end are read by their
lengths, and on a log axis a length is no longer a duration (nor can a bar start at
zero); a broken axis hides the very ratio the figure is about. So the stock panel's
axis is linear and shows the patched route's whole window to scale (a sliver), and the
patched route gets a panel of its own, zoomed to its own linear axis, which says how
much finer it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.ticker import MaxNLocator

from .svg import fmt_value, new_figure, svg_text, tick_labels

#: A colour per kind of work, by the phase name's start (the model's component).
KIND_COLOURS = (
    ("uncached fetch", "#c62828"),
    ("uncached data", "#ef6c00"),
    ("cached data", "#2e7d32"),
    ("cached insns", "#66bb6a"),
    ("cache maintenance", "#5c6bc0"),
    ("set/way ops", "#3949ab"),
    ("set/way", "#7e57c2"),
)
WHOLE_COLOUR = "#00838f"
ROW_IN, WIDTH_IN = 0.24, 10.0


@dataclass(frozen=True)
class RoutePhases:
    """One route's modeled phases (name, seconds), its total and its band's ends."""

    route: str
    mb: float
    phases: tuple[tuple[str, float], ...]
    total_s: float
    low_s: float
    high_s: float

    def describe(self) -> str:
        return (
            f"{self.route} MODELED {fmt_value(self.total_s, 's')} "
            f"(band {fmt_value(self.low_s, 's')}\u2013{fmt_value(self.high_s, 's')})"
        )


def colour(phase: str) -> str:
    return next((c for kind, c in KIND_COLOURS if phase.startswith(kind)), "#78909c")


Row = tuple[str, float, float, str]  # label, start, length, colour


def rows_of(r: RoutePhases) -> list[Row]:
    """The phases end to end, each starting where the one before it ended."""
    rows, start = [], 0.0
    for name, seconds in r.phases:
        rows.append((f"{name}  {fmt_value(seconds, 's')}", start, seconds, colour(name)))
        start += seconds
    return rows


def boot_timeline_svg(stock: RoutePhases, patched: RoutePhases, profile: str, counted: str, salt: str) -> str:
    """Stock's phases on a linear axis with the patched window to scale beneath them, then
    the patched route's phases zoomed to an axis of their own; every total with its band."""
    top = rows_of(stock) + [
        (
            f"{patched.route}, whole window to scale  {fmt_value(patched.total_s, 's')}",
            0.0,
            patched.total_s,
            WHOLE_COLOUR,
        )
    ]
    bottom = rows_of(patched)
    head, gap, foot = 0.75, 0.75, 0.45  # inches: title, between panels, under the last
    h_top, h_bottom = ROW_IN * len(top) + 0.1, ROW_IN * len(bottom) + 0.1
    height = head + h_top + gap + h_bottom + foot
    fig = new_figure(WIDTH_IN, height)
    fig.text(
        0.01,
        1 - 0.08 / height,
        f"MODELED armStone unpack, sel4test {stock.mb:g} MB: {stock.route} "
        f"vs {patched.route}\nprofile {profile}, counts of {counted}, priced now; not a measurement",
        ha="left",
        va="top",
        fontsize=9,
        fontweight="bold",
        linespacing=1.4,
    )
    ax_top = fig.add_axes((0.02, (foot + h_bottom + gap) / height, 0.96, h_top / height))
    ax_bottom = fig.add_axes((0.02, foot / height, 0.96, h_bottom / height))
    zoom = stock.total_s / patched.total_s if patched.total_s > 0 else float("inf")
    _panel(ax_top, top, stock.total_s, h_top, f"{stock.describe()} on {profile}")
    _panel(
        ax_bottom,
        bottom,
        patched.total_s,
        h_bottom,
        f"{patched.describe()} on {profile} \u2014 zoomed: its own axis, {zoom:.0f}\u00d7 finer than above",
    )
    return svg_text(fig, salt)


def _panel(ax: Axes, rows: Sequence[Row], end: float, height_in: float, title: str) -> None:
    """One route's rows: bars, a label right of each, ticks in modeled seconds."""
    ax.set_axis_off()
    end = end or 1.0
    minimum = end * 0.002  # a component priced at microseconds stays visible
    boxes, colours = [], []
    for row, (label, start, length, col) in enumerate(rows):
        x0, x1 = start, start + max(length, minimum)
        boxes.append([(x0, row - 0.36), (x1, row - 0.36), (x1, row + 0.36), (x0, row + 0.36)])
        colours.append(col)
        ax.text(x1 + end * 0.006, row, label, va="center", fontsize=7.5)
    ax.add_collection(PolyCollection(boxes, facecolors=colours, linewidths=0), autolim=False)
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.set_xlim(0, end * 1.5)  # room for the last labels
    ticks = [t for t in MaxNLocator(8).tick_values(0, end) if 0 <= t <= end * 1.001]
    ax.vlines(ticks, -0.6, len(rows) - 0.4, color="#e0e0e0", linewidth=0.6, zorder=0)
    ax.vlines([end], -0.6, len(rows) - 0.4, color="#455a64", linewidth=0.8, linestyles="dashed", zorder=0)
    tick_labels(ax, ticks, [f"{t:g}" for t in ticks])
    ax.text(
        0, 1 + 0.06 / height_in, title, transform=ax.transAxes, ha="left", va="bottom", fontsize=8.5, fontweight="bold"
    )
    ax.text(
        end * 0.5,
        -0.2 / height_in,
        "modeled seconds (components end to end: lengths are durations, the order is not the order they happen in)",
        transform=ax.get_xaxis_transform(),
        ha="center",
        va="top",
        fontsize=7,
    )

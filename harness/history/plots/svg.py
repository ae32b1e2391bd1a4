"""What every report figure shares: matplotlib's SVG output made fit to sit inline
in HTML (unique ids, no prologue, fewer bytes), the report's rcParams, one reused
bare canvas for the figures that draw their own labels, and the way a value is
written for a reader.

Why a module of its own: the timeline, trend and throughput figures each draw
differently, but the bytes they end up as and the fonts they use must be the same.
"""

from __future__ import annotations

import io
import re
from typing import Any, Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: rcParams for every figure: text as text, one short font list, no timestamps.
_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}


def svg_text(fig: Figure, salt: str) -> str:
    """`fig` as an `<svg>` element fit to sit inline in HTML.

    The salt makes matplotlib's clip-path and marker ids unique per figure (two
    inline SVGs sharing an id would borrow each other's clip paths); the XML
    prologue, metadata and matplotlib's unreferenced group ids are dropped
    (duplicate ids across figures, and bytes), indentation too."""
    buf = io.StringIO()
    rc: dict[Any, Any] = {**_RC, "svg.hashsalt": salt}
    with matplotlib.rc_context(rc):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'<g id="(?!mark-)[^"]*">', "<g>", text)
    text = re.sub(r'( d| x| y)="([^"]*)"', _rounded, text)  # 1/100 pt is plenty: a third of the bytes
    return re.sub(r"\n\s+", "\n", text).strip()


def _rounded(attr: re.Match[str]) -> str:
    """A geometry attribute with its numbers cut to two decimals (never text: the
    numbers a reader reads are in <text> elements, left alone)."""
    return f'{attr.group(1)}="' + re.sub(r"(\d\.\d\d)\d+", r"\1", attr.group(2)) + '"'


def new_figure(width: float, height: float) -> Figure:
    """A figure built under the report's rcParams (they apply at creation and at drawing)."""
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), dpi=72)


def fmt_value(value: float, unit: str | None) -> str:
    """A figure in the unit a reader thinks in: ms below a second, MiB for bytes."""
    if unit == "s":
        return f"{value * 1e3:.3g} ms" if abs(value) < 1 else f"{value:.4g} s"
    if unit == "bytes":
        return f"{value / 2**20:.4g} MiB" if abs(value) >= 2**20 else f"{value:.0f} B"
    return f"{value:.6g}" + (f" {unit}" if unit else "")


_CANVAS: list[tuple[Figure, Axes]] = []


def bare_axes(width: float, height: float, rect: tuple[float, float, float, float], title: str) -> tuple[Figure, Axes]:
    """A figure with axes but without matplotlib's axis machinery, the title as figure
    text; callers draw their own labels. Ticks are most of the cost of a small figure
    and creating the axes most of the rest, so one figure and axes are made once and
    emptied for each drawing (a report draws a hundred of them)."""
    if not _CANVAS:
        fig = new_figure(width, height)
        ax = fig.add_axes(rect)
        ax.set_axis_off()
        _CANVAS.append((fig, ax))
    fig, ax = _CANVAS[0]
    for artist in [*ax.lines, *ax.patches, *ax.texts, *ax.collections, *ax.artists, *fig.texts]:
        artist.remove()
    fig.set_size_inches(width, height)
    ax.set_position(rect)
    fig.text(0.01, 1 - 0.06 / height, title, ha="left", va="top", fontsize=9, fontweight="bold")
    return fig, ax


def tick_labels(ax: "Axes", xs: Sequence[float], labels: Sequence[str]) -> None:
    """Tick labels and a base line under the axes, drawn as plain text and lines."""
    ax.axhline(ax.get_ylim()[0], color="#616161", linewidth=0.8)
    for x, label in zip(xs, labels):
        ax.text(x, -0.012, label, transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7)

"""The trend figure: small multiples of one series' figures across the shown runs,
each strip on its own scale, with the baseline band compare judges against and
the judged points marked.

Why a module of its own: it is the figure a report has most of (one or two per
series), so it is drawn as rows of one axes with one artist per kind -- this
module is mostly about keeping that cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from matplotlib.axes import Axes
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

from .svg import bare_axes, fmt_value, svg_text, tick_labels

#: How a judged point is drawn: marker, colour, size (status from compare's rules).
STATUS_STYLE = {
    "regression": ("v", "#d50000", 9),
    "outlier": ("o", "#ff9100", 7),
    "improved": ("^", "#00c853", 8),
    "failed": ("x", "#616161", 6),
}


@dataclass
class TrendRow:
    """One metric of one series across the shown runs (x: 0 = oldest shown run)."""

    name: str
    unit: str | None
    points: list[tuple[int, float, str]] = field(default_factory=list)  # (x, value, status)
    band: list[tuple[int, float, float, float]] = field(default_factory=list)  # (x, median, low, high)
    limit: float | None = None  # the newest point's limit, for the row's text
    median: float | None = None


def _row_scale(row: TrendRow) -> tuple[float, float]:
    """The value range a row maps onto its strip: the points and the whole band, so
    that a point sits where it is within the band (the band's low side stops at zero
    for figures that cannot be negative)."""
    values = [v for _, v, _ in row.points]
    floor = 0.0 if min(values) >= 0 else float("-inf")
    values += [max(low, floor) for _, _, low, _ in row.band] + [h for *_, h in row.band]
    lo, hi = min(values), max(values)
    if hi - lo <= abs(hi) * 1e-9:
        pad = abs(hi) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    return lo, hi


def trend_svg(title: str, x_labels: Sequence[str], rows: Sequence[TrendRow], salt: str, gid: str) -> str:
    """Small multiples on one axes: a strip per metric with its own scale, the
    baseline band (median ± k·sigma of the rule that judges it) shaded, the median
    dashed, the points joined, and judged points marked (regression ▼ red, outlier
    orange, improved green, failed boot x). The row's text gives the numbers, since
    the strips have no y axis of their own."""
    n = max(len(x_labels), 1)
    height = 0.8 + 0.42 * len(rows)
    fig, ax = bare_axes(11, height, (0.21, 0.4 / height, 0.45, 1 - 0.8 / height), title)
    _draw_rows(ax, rows, n, gid)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(len(rows), 0)
    step = max(1, -(-n // 6))  # at most 6 labels: they are ~50 pt wide
    ticks = sorted({*range(n - 1, -1, -step)})
    tick_labels(ax, ticks, [x_labels[t] for t in ticks])
    return svg_text(fig, salt)


def _draw_rows(ax: "Axes", rows: Sequence[TrendRow], n: int, gid: str) -> None:
    """Every strip at once: backgrounds, bands and medians as one collection each and
    the points as one line broken between rows (matplotlib's cost is per artist),
    the flagged points per row and status (an SVG id each), and the rows' texts."""
    stripes, boxes, medians = [], [], []
    xs: list[float] = []
    ys: list[float] = []
    for i, row in enumerate(rows):
        at = _strip_map(row, float(i))
        if i % 2 == 0:
            stripes.append([(-0.6, i + 0.02), (n - 0.4, i + 0.02), (n - 0.4, i + 0.98), (-0.6, i + 0.98)])
        for run in _contiguous(row.band):
            top = _steps([(x, at(high)) for x, _, _, high in run])
            bottom = _steps([(x, at(low)) for x, _, low, _ in run])
            boxes.append(top + bottom[::-1])
            medians.append(_steps([(x, at(med)) for x, med, _, _ in run]))
        for x, v, status in row.points:
            if status != "failed":
                xs.append(x)
                ys.append(at(v))
        xs.append(float("nan"))
        ys.append(float("nan"))
        _flags(ax, row, at, gid)
        _row_texts(ax, row, float(i))
    ax.add_artist(_compound(stripes, True, facecolor="#f5f5f5", linewidth=0, zorder=0))
    ax.add_artist(_compound(boxes, True, facecolor="#bbdefb", linewidth=0, zorder=1))
    ax.add_artist(_compound(medians, False, fill=False, edgecolor="#1e88e5", linewidth=0.8, linestyle="--", zorder=2))
    dots = n <= 60  # beyond that a dot per run is bytes, not information: the line says it
    ax.plot(xs, ys, color="#37474f", linewidth=1, marker="o" if dots else "", markersize=2.5, zorder=3)


def _compound(shapes: Sequence[Sequence[tuple[float, float]]], closed: bool, **style: Any) -> PathPatch:
    """Many polygons or polylines as one SVG path element: matplotlib writes a
    collection member by member (a style each), a compound path once."""
    vertices: list[tuple[float, float]] = []
    codes: list[Any] = []
    for shape in shapes:
        vertices.extend(shape)
        codes.extend([MplPath.MOVETO] + [MplPath.LINETO] * (len(shape) - 1))
        if closed:
            vertices.append(shape[0])
            codes.append(MplPath.CLOSEPOLY)
    if not vertices:
        vertices, codes = [(0.0, 0.0)], [MplPath.MOVETO]
    return PathPatch(MplPath(vertices, codes), **style)


def _contiguous(band: Sequence[tuple[int, float, float, float]]) -> list[list[tuple[int, float, float, float]]]:
    """The band split where a run has no value (a gap stays a gap)."""
    out: list[list[tuple[int, float, float, float]]] = []
    for entry in band:
        if out and entry[0] == out[-1][-1][0] + 1:
            out[-1].append(entry)
        else:
            out.append([entry])
    return out


def _steps(points: Sequence[tuple[int, float]]) -> list[tuple[float, float]]:
    """A step line through (x, y): flat across each run's column, x ± 0.5."""
    out: list[tuple[float, float]] = []
    for x, y in points:
        out += [(x - 0.5, y), (x + 0.5, y)]
    return out


def _strip_map(row: TrendRow, y0: float) -> Callable[[float], float]:
    """Value -> y on the row's strip [y0 + 0.04, y0 + 0.76], larger values higher."""
    lo, hi = _row_scale(row)
    return lambda v: y0 + 0.76 - 0.72 * (min(max(v, lo), hi) - lo) / (hi - lo)


def _flags(ax: "Axes", row: TrendRow, at: Callable[[float], float], gid: str) -> None:
    """The judged points of a row, one artist per status with an id a test can find."""
    for status, (marker, colour, size) in STATUS_STYLE.items():
        hits = [(x, v) for x, v, s in row.points if s == status]
        if hits:
            (line,) = ax.plot(
                [x for x, _ in hits],
                [at(v) for _, v in hits],
                linestyle="",
                marker=marker,
                color=colour,
                markersize=size,
                zorder=4,
            )
            line.set_gid(f"mark-{status}-{gid}-{row.name}")


def _row_texts(ax: "Axes", row: TrendRow, y0: float) -> None:
    """The metric's name on the left; its newest value, median and limit on the right
    (the strips have no y axis: the numbers are here), coloured by the newest status."""
    ax.text(-0.01, y0 + 0.5, row.name, transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=8)
    newest = row.points[-1] if row.points else None
    words = []
    if newest is not None:
        words.append(f"newest {fmt_value(newest[1], row.unit)}" + (f" ({newest[2]})" if newest[2] else ""))
    if row.limit is not None and row.median is not None:
        words.append(f"median {fmt_value(row.median, row.unit)}, limit {fmt_value(row.limit, row.unit)}")
    colour = STATUS_STYLE[newest[2]][1] if newest is not None and newest[2] in STATUS_STYLE else "#212121"
    ax.text(
        1.01,
        y0 + 0.5,
        "; ".join(words),
        transform=ax.get_yaxis_transform(),
        ha="left",
        va="center",
        fontsize=7.5,
        color=colour,
    )

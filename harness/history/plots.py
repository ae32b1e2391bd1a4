"""The report's figures, drawn with matplotlib and returned as inline SVG text.

Why this shape: the page must open offline and stay small and quick with a
history of thousands of boots, so every figure is SVG text (no files, no
scripts), text stays text (`svg.fonttype: none`, a fraction of the size of
glyph outlines), and the figures that repeat per series are drawn as rows of
one axes rather than one axes per metric -- matplotlib's cost is per axes and
per tick, not per point. Nothing here reads the history: html.py decides what
to show, this module only draws it.
"""
from __future__ import annotations

import io
import multiprocessing
import os
import re
import statistics
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

#: rcParams for every figure: text as text, one short font list, no timestamps.
_RC: dict[Any, Any] = {"svg.fonttype": "none", "font.family": "sans-serif",
       "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"], "font.size": 8,
       "axes.titlesize": 9, "axes.titleweight": "bold", "axes.titlelocation": "left"}

#: Phase colours: the same phase has the same colour in every boot's timeline.
PHASE_COLOURS = {"firmware": "#9e9e9e", "u-boot": "#8d6e63", "load": "#a1887f", "bootm": "#bcaaa4",
                 "start": "#d7ccc8", "loader": "#5c6bc0", "unpack": "#ef6c00", "image": "#ffb74d",
                 "verify+handoff": "#26a69a", "kernel": "#66bb6a"}
TARGET_COLOUR = "#00838f"
MODE_COLOURS = {"mmu-off": "#c62828", "early-mmu": "#2e7d32", "fallback": "#1565c0"}
#: How a judged point is drawn: marker, colour, size (status from compare's rules).
STATUS_STYLE = {"regression": ("v", "#d50000", 9), "outlier": ("o", "#ff9100", 7),
                "improved": ("^", "#00c853", 8), "failed": ("x", "#616161", 6)}


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
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'<g id="(?!mark-)[^"]*">', "<g>", text)
    text = re.sub(r'( d| x| y)="([^"]*)"', _rounded, text)   # 1/100 pt is plenty: a third of the bytes
    return re.sub(r"\n\s+", "\n", text).strip()


class Deferred:
    """Figures asked for while the page is written and drawn afterwards, all at once:
    in a few forked processes when there are many and more than one core (drawing is
    nearly all of a large report's time and every figure is independent), else here.
    HARNESS_REPORT_JOBS=N caps the processes (1: never fork)."""

    MIN_PARALLEL = 12

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., str], tuple[Any, ...]]] = []

    def add(self, draw: Callable[..., str], *args: Any) -> str:
        """A placeholder for draw(*args), replaced by fill()."""
        self.jobs.append((draw, args))
        return f"\x00figure{len(self.jobs) - 1}\x00"

    def fill(self, page: str) -> str:
        svgs = self._draw()
        return re.sub("\x00figure(\\d+)\x00", lambda m: svgs[int(m.group(1))], page)

    def _draw(self) -> list[str]:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(cores, int(os.environ.get("HARNESS_REPORT_JOBS", "4")))
        if workers < 2 or len(self.jobs) < self.MIN_PARALLEL:
            return [_call(job) for job in self.jobs]
        try:
            # fork: the workers start with matplotlib imported and touch nothing else
            # of ours (the open history is never used there; they end with os._exit).
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(_call, self.jobs, chunksize=max(1, len(self.jobs) // (workers * 4))))
        except (OSError, BrokenExecutor):      # no fork here, or a worker died: draw them here
            return [_call(job) for job in self.jobs]


def _call(job: tuple[Callable[..., str], tuple[Any, ...]]) -> str:
    draw, args = job
    return draw(*args)


def _rounded(attr: re.Match[str]) -> str:
    """A geometry attribute with its numbers cut to two decimals (never text: the
    numbers a reader reads are in <text> elements, left alone)."""
    return f'{attr.group(1)}="' + re.sub(r"(\d\.\d\d)\d+", r"\1", attr.group(2)) + '"'


def _figure(width: float, height: float) -> Figure:
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


# -- per-boot timeline -------------------------------------------------------

@dataclass(frozen=True)
class Bar:
    """One row of a timeline: a span (host clock) or a target-timer interval."""

    label: str
    start: float
    length: float
    colour: str
    note: str = ""          # appended to the label after the duration
    target: bool = False    # measured by the target's timer, drawn hatched


def timeline_svg(title: str, bars: Sequence[Bar], salt: str) -> str:
    """A `systemd-analyze plot`-style chart: one bar per row in boot order, its label
    and duration to the right of it, seconds since power-on along the bottom."""
    end = max((b.start + b.length for b in bars), default=1.0) or 1.0
    height = 0.95 + 0.24 * max(len(bars), 1)
    fig, ax = _bare_axes(10, height, (0.02, 0.6 / height, 0.96, 1 - 0.95 / height), title)
    minimum = end * 0.002           # a zero-length span stays visible
    boxes: dict[bool, list[list[tuple[float, float]]]] = {False: [], True: []}
    colours: dict[bool, list[str]] = {False: [], True: []}
    for row, bar in enumerate(bars):
        x0, x1 = bar.start, bar.start + max(bar.length, minimum)
        boxes[bar.target].append([(x0, row - 0.36), (x1, row - 0.36), (x1, row + 0.36), (x0, row + 0.36)])
        colours[bar.target].append(bar.colour)
        text = f"{bar.label}  {fmt_value(bar.length, 's')}" + (f"  {bar.note}" if bar.note else "")
        ax.text(x1 + end * 0.006, row, text, va="center", fontsize=7.5)
    for target in (False, True):        # one artist per kind: the SVG stays small
        if boxes[target]:
            ax.add_collection(PolyCollection(boxes[target], facecolors=colours[target], linewidths=0,
                                             hatch="////" if target else None,
                                             edgecolors="white" if target else "none"), autolim=False)
    ax.set_ylim(len(bars) - 0.4, -0.6)
    ax.set_xlim(0, end * 1.45)            # room for the last labels
    ticks = [t for t in MaxNLocator(8).tick_values(0, end * 1.45) if 0 <= t <= end * 1.45]
    ax.vlines(ticks, -0.6, len(bars) - 0.4, color="#e0e0e0", linewidth=0.6, zorder=0)
    _x_labels(ax, ticks, [f"{t:g}" for t in ticks])
    ax.text(0.5, -0.25 / (height - 0.95), "seconds since power-on (bars: host clock; hatched: "
            "target timer)", transform=ax.transAxes, ha="center", va="top")
    return svg_text(fig, salt)


_CANVAS: list[tuple[Figure, Axes]] = []


def _bare_axes(width: float, height: float, rect: tuple[float, float, float, float],
               title: str) -> tuple[Figure, Axes]:
    """A figure with axes but without matplotlib's axis machinery, the title as figure
    text; callers draw their own labels. Ticks are most of the cost of a small figure
    and creating the axes most of the rest, so one figure and axes are made once and
    emptied for each drawing (a report draws a hundred of them)."""
    if not _CANVAS:
        fig = _figure(width, height)
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


def _x_labels(ax: "Axes", xs: Sequence[float], labels: Sequence[str]) -> None:
    """Tick labels and a base line under the axes, drawn as plain text and lines."""
    ax.axhline(ax.get_ylim()[0], color="#616161", linewidth=0.8)
    for x, label in zip(xs, labels):
        ax.text(x, -0.012, label, transform=ax.get_xaxis_transform(), ha="center", va="top", fontsize=7)


# -- trends ----------------------------------------------------------------

@dataclass
class TrendRow:
    """One metric of one series across the shown runs (x: 0 = oldest shown run)."""

    name: str
    unit: str | None
    points: list[tuple[int, float, str]] = field(default_factory=list)   # (x, value, status)
    band: list[tuple[int, float, float, float]] = field(default_factory=list)  # (x, median, low, high)
    limit: float | None = None      # the newest point's limit, for the row's text
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


def trend_svg(title: str, x_labels: Sequence[str], rows: Sequence[TrendRow], salt: str,
              gid: str) -> str:
    """Small multiples on one axes: a strip per metric with its own scale, the
    baseline band (median ± k·sigma of the rule that judges it) shaded, the median
    dashed, the points joined, and judged points marked (regression ▼ red, outlier
    orange, improved green, failed boot x). The row's text gives the numbers, since
    the strips have no y axis of their own."""
    n = max(len(x_labels), 1)
    height = 0.8 + 0.42 * len(rows)
    fig, ax = _bare_axes(11, height, (0.21, 0.4 / height, 0.45, 1 - 0.8 / height), title)
    _draw_rows(ax, rows, n, gid)
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylim(len(rows), 0)
    step = max(1, -(-n // 6))           # at most 6 labels: they are ~50 pt wide
    ticks = sorted({*range(n - 1, -1, -step)})
    _x_labels(ax, ticks, [x_labels[t] for t in ticks])
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
    ax.add_artist(_compound(medians, False, fill=False, edgecolor="#1e88e5", linewidth=0.8, linestyle="--",
                            zorder=2))
    dots = n <= 60        # beyond that a dot per run is bytes, not information: the line says it
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
            line, = ax.plot([x for x, _ in hits], [at(v) for _, v in hits], linestyle="",
                            marker=marker, color=colour, markersize=size, zorder=4)
            line.set_gid(f"mark-{status}-{gid}-{row.name}")


def _row_texts(ax: "Axes", row: TrendRow, y0: float) -> None:
    """The metric's name on the left; its newest value, median and limit on the right
    (the strips have no y axis: the numbers are here), coloured by the newest status."""
    ax.text(-0.01, y0 + 0.5, row.name, transform=ax.get_yaxis_transform(), ha="right", va="center",
            fontsize=8)
    newest = row.points[-1] if row.points else None
    words = []
    if newest is not None:
        words.append(f"newest {fmt_value(newest[1], row.unit)}" + (f" ({newest[2]})" if newest[2] else ""))
    if row.limit is not None and row.median is not None:
        words.append(f"median {fmt_value(row.median, row.unit)}, limit {fmt_value(row.limit, row.unit)}")
    colour = STATUS_STYLE[newest[2]][1] if newest is not None and newest[2] in STATUS_STYLE else "#212121"
    ax.text(1.01, y0 + 0.5, "; ".join(words), transform=ax.get_yaxis_transform(), ha="left",
            va="center", fontsize=7.5, color=colour)


# -- throughput against size -------------------------------------------------

@dataclass(frozen=True)
class Throughput:
    """One boot's unpack rate: image bytes over seconds, by which clock."""

    mode: str
    size: float          # unpacked bytes
    rate: float          # bytes per second
    clock: str           # "host" | "target" | "modeled"


def throughput_svg(title: str, points: Sequence[Throughput], salt: str) -> str:
    """Unpack throughput (MiB/s) against unpacked size, log-log, a colour per loader
    mode and a marker per clock: the median per (mode, size) joined by a line, since the
    question is how each mode scales with the image, and the range of the boots as a bar."""
    fig = _figure(7.5, 4.2)
    ax = fig.add_axes((0.1, 0.13, 0.62, 0.78))
    markers = {"host": "o", "target": "^", "modeled": "s"}
    for (mode, clock), group in sorted(_groups(points).items()):
        colour = MODE_COLOURS.get(mode, "#6a1b9a")
        medians = _medians(group)
        ax.vlines([s / 2**20 for s, _, _, _ in medians], [lo / 2**20 for _, _, lo, _ in medians],
                  [hi / 2**20 for *_, hi in medians], color=colour, alpha=0.5, linewidth=3)
        ax.plot([s / 2**20 for s, *_ in medians], [r / 2**20 for _, r, _, _ in medians], color=colour,
                marker=markers.get(clock, "o"), markersize=5, linewidth=1.2,
                linestyle="-" if clock != "target" else ":", label=f"{mode} ({clock} clock)"
                if clock != "modeled" else mode)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):      # plain labels: log axes' default is mathtext (slow)
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
    return [(size, statistics.median(rates), min(rates), max(rates))
            for size, rates in sorted(by_size.items())]

"""The report's figures, drawn with matplotlib and returned as inline SVG text.

Why this shape: the page must open offline and stay small and quick with a
history of thousands of boots, so every figure is SVG text (no files, no
scripts), text stays text (`svg.fonttype: none`, a fraction of the size of
glyph outlines), and the figures that repeat per series are drawn as rows of
one axes rather than one axes per metric -- matplotlib's cost is per axes and
per tick, not per point. Nothing here reads the history: the report's sections
(harness/history/report/) decide what to show, this package only draws it.

A module per kind of figure (timeline, trends, throughput), the SVG plumbing
they share in svg.py and the deferred, parallel drawing in deferred.py; every
public name is re-exported here, so a section just says `plots.trend_svg`.
"""

from __future__ import annotations

from .deferred import Deferred
from .svg import fmt_value, svg_text
from .throughput import MODE_COLOURS, Throughput, throughput_svg
from .timeline import PHASE_COLOURS, TARGET_COLOUR, Bar, timeline_svg
from .trends import STATUS_STYLE, TrendRow, trend_svg

__all__ = [
    "Bar",
    "Deferred",
    "MODE_COLOURS",
    "PHASE_COLOURS",
    "STATUS_STYLE",
    "TARGET_COLOUR",
    "Throughput",
    "TrendRow",
    "fmt_value",
    "svg_text",
    "throughput_svg",
    "timeline_svg",
    "trend_svg",
]

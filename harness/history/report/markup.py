"""The HTML the sections share: escaping, and the series anchors -- one function,
so that the summary's links land on the trends' sections.
"""

from __future__ import annotations

import html
import re


def series_anchor(series: str) -> str:
    """The id of a series' trends, which the summary's findings link to."""
    return "series-" + re.sub(r"[^A-Za-z0-9_-]+", "-", series).strip("-")


def esc(text: str) -> str:
    """`text` escaped for HTML text and attribute values."""
    return html.escape(text, quote=True)

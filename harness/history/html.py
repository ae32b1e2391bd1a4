"""`harness report`: the results history as one self-contained HTML page.

What a lab wants to see the morning after: did the newest run regress against
its baseline (compare's own findings, so page and exit code agree), where the
time of each of its boots went (a timeline per boot), how every figure moved
across the last runs and where the rule flagged it (trends with the band the
rule judges against), how unpack speed scales with the image per loader mode
(measured, and modeled for the board), and which checks failed when.

Why it is built this way:
- offline and self-contained: figures are inline SVG (plots/), styles are
  inline, there is no script and no URL to fetch, so the page opens from a CI
  artifact, a mail attachment or a laptop on a plane;
- it stays quick and small with a history of 10,000 boots: only the last
  `last_runs` runs are drawn (plus the baseline runs the rule needs to judge the
  oldest of them), only the newest run gets timelines, series and timelines are
  capped, and the figures are selected and counted in SQL instead of loading
  every row (bench/history_scale.py measures it);
- judged like `harness compare`: the band and the marks use compare.py's
  spread(), judge_noisy() and judge_exact(), never a second copy of the math.

Where it lives: this module writes the page -- its skeleton, styles and the
order of its sections; report/ holds what the page reads (report/runs.py)
and a module per section, plots/ draws the figures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from . import plots
from .compare import Rule
from .db import History
from .report.boot_timeline import boot_timeline_section
from .report.markup import esc
from .report.matrix import checks_section
from .report.summary import summary_section
from .report.throughput import throughput_section
from .report.timelines import timelines_section
from .report.trends import trends_section
from .report.runs import Documents, RunWindow, load_window


def write_report(h: History, out: Path, last_runs: int = 30, rule: Rule | None = None) -> Path:
    """Write the page for `h` to `out` (atomically: a half-written report is never left)."""
    rule = rule or Rule()
    page = render(h, max(1, last_runs), rule)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


def render(h: History, last_runs: int, rule: Rule) -> str:
    """The whole page as text."""
    window = load_window(h, last_runs, rule)
    figs = plots.Deferred()
    modeled = ("modeled-boot", "Modeled armStone boot: stock vs early MMU (MODELED)", boot_timeline_section(figs))
    if not window.runs:
        return figs.fill(
            _page(
                h,
                window,
                [("empty", "The history is empty", "<p>No boot is recorded yet: boot something first.</p>"), modeled],
            )
        )
    docs = Documents()
    comparison, summary = summary_section(h, rule)
    sections = [
        ("summary", "Newest run vs. baseline", summary),
        ("timelines", "Boot timelines (newest run)", timelines_section(h, window, docs, figs)),
        ("trends", f"Trends (last {window.shown} runs)", trends_section(window, rule, docs, comparison, figs)),
        ("throughput", "Unpack throughput against image size", throughput_section(window, docs, figs)),
        ("checks", "Check matrix", checks_section(h, window)),
        modeled,
    ]
    return figs.fill(_page(h, window, sections))


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1240px;
padding:0 16px 40px;color:#212121}
header{border-bottom:2px solid #455a64;margin-bottom:8px}
h1{font-size:22px;margin:14px 0 4px}h2{border-bottom:1px solid #cfd8dc;margin-top:32px}
h3{margin:18px 0 4px;font-size:15px}
.meta{color:#546e7a;margin:2px 0 10px}.note{color:#607d8b;font-size:13px}
nav a{margin-right:10px;white-space:nowrap}nav.boots a.fail{color:#c62828;font-weight:bold}
nav.series,nav.boots{font-size:12px;line-height:1.9}
svg{max-width:100%;height:auto;display:block}
figure{margin:10px 0 18px}figcaption{font-size:12px;color:#455a64}
table{border-collapse:collapse;font-size:12px;margin:6px 0}
td,th{border:1px solid #cfd8dc;padding:2px 6px;text-align:left;vertical-align:top}
table.matrix td{text-align:center;min-width:34px}
table.matrix thead th span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
td.pass{background:#c8e6c9}td.fail{background:#ef9a9a;font-weight:bold}td.skip{background:#e0e0e0}
td.none{background:#fff;color:#9e9e9e}
tr.regression td:first-child{background:#ef9a9a;font-weight:bold}tr.outlier td:first-child{background:#ffe0b2}
tr.improved td:first-child{background:#c8e6c9}tr.missing td:first-child{background:#fff9c4}
p.verdict{font-weight:bold;padding:6px 10px;border-radius:4px}
p.verdict.bad{background:#ffebee;color:#b71c1c}p.verdict.good{background:#e8f5e9;color:#1b5e20}
.m-regression,.flag.regression{color:#d50000;font-weight:bold}.m-outlier,.flag.outlier{color:#ef6c00}
.m-improved,.flag.improved{color:#00a152}.m-failed{color:#616161}
"""


def _page(h: History, window: RunWindow, sections: Sequence[tuple[str, str, str]]) -> str:
    """Header (which history, which runs, when), a table of contents, the sections."""
    n_runs, n_boots = h.db.execute("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM boots)").fetchone()
    covered = ""
    if window.runs:
        first = window.runs[window.shown - 1][1]
        covered = (
            f"runs shown: the newest {window.shown} of {n_runs} "
            f"({_when(first)} \u2013 {_when(window.runs[0][1])}), {n_boots} boots in all"
        )
    toc = " ".join(f'<a href="#{key}">{esc(title)}</a>' for key, title, _ in sections)
    body = "\n".join(
        f'<section id="{key}"><h2>{esc(title)}</h2>\n{content}\n</section>' for key, title, content in sections
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Boot history report \u2014 {esc(h.path.name)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>Boot history report</h1>"
        f"<p class=meta>history <code>{esc(str(h.path))}</code><br>{esc(covered)}<br>"
        f"generated {esc(time.strftime('%Y-%m-%d %H:%M:%S %Z'))}</p>"
        f"<nav>{toc}</nav></header>\n{body}\n</body></html>\n"
    )


def _when(started: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(started))

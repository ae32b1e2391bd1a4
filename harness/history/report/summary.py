"""The report's summary section: the newest run against its baseline, exactly as
`harness compare` judges it.

Why a module of its own: the page and the exit code of `harness compare` must
agree, so this section only presents compare()'s own findings.
"""

from __future__ import annotations

from typing import Sequence

from ...errors import HarnessError
from ..compare import Comparison, Finding, Rule, compare
from ..db import History
from .markup import esc, series_anchor

_SEVERITY = ("regression", "outlier", "missing", "changed", "improved", "insufficient")


def summary_section(h: History, rule: Rule) -> tuple[Comparison | None, str]:
    """compare() of the newest run with the previous runs, as `harness compare` prints it."""
    try:
        result = compare(h, None, "previous", rule)
    except HarnessError as exc:
        return None, f"<p>{esc(str(exc))}</p>"
    head = result.text().splitlines()[0]
    shown = sorted(
        (f for f in result.findings if f.status != "insufficient"),
        key=lambda f: (_SEVERITY.index(f.status) if f.status in _SEVERITY else 99, f.series),
    )
    quiet = [f for f in result.findings if f.status == "insufficient"]
    parts = [
        f'<p class="verdict {"bad" if result.regressions else "good"}">{esc(head)}</p>',
        f"<p class=note>Rule: k = {rule.k:g}, {rule.sustain} high runs in a row make a regression, "
        f"{rule.min_samples} baseline values needed, window {rule.window} runs "
        "(docs/history.md).</p>",
    ]
    if shown:
        parts.append(_findings_table(shown))
    if quiet:
        parts.append(f"<details><summary>{len(quiet)} figure(s) not judged</summary>{_findings_table(quiet)}</details>")
    return result, "\n".join(parts)


def _findings_table(findings: Sequence[Finding]) -> str:
    rows = "".join(
        f'<tr class="{esc(f.status)}"><td>{esc(f.status)}</td>'
        f'<td><a href="#{series_anchor(f.series)}">{esc(f.series)}</a></td>'
        f"<td>{esc(f.metric)}</td><td>{esc(f.detail)}</td></tr>"
        for f in findings
    )
    return (
        "<table class=findings><thead><tr><th>status</th><th>series</th><th>figure</th>"
        f"<th>detail</th></tr></thead><tbody>{rows}</tbody></table>"
    )

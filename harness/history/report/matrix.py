"""The report's check matrix: which check failed in which run (counted in SQL),
then the newest run boot by boot.

Why a module of its own: the one section about checks rather than figures, with
its own queries (counts per run and check, the failing boots' messages).
"""

from __future__ import annotations

import time
from typing import Sequence

from ..db import History
from .markup import esc
from .runs import RunWindow


def checks_section(h: History, window: RunWindow) -> str:
    """Runs × checks (counted in SQL), then the newest run's boots × checks."""
    run_ids = [r for r, _ in window.runs[: window.shown]]
    marks = ",".join("?" * len(run_ids))
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for run_id, name, status, n in h.db.execute(
        f"SELECT b.run_id, c.name, c.status, count(*) FROM checks c JOIN boots b ON b.id = c.boot "
        f"WHERE b.run_id IN ({marks}) GROUP BY b.run_id, c.name, c.status",
        run_ids,
    ):
        counts.setdefault((run_id, name), {})[status] = n
    for run_id, ok, n in h.db.execute(
        f"SELECT run_id, ok, count(*) FROM boots WHERE run_id IN ({marks}) GROUP BY run_id, ok", run_ids
    ):
        counts.setdefault((run_id, "boot"), {})["pass" if ok else "fail"] = n
    fails: dict[tuple[str, str], list[str]] = {}
    for run_id, name, series, message in h.db.execute(
        f"SELECT b.run_id, c.name, b.series, c.message FROM checks c JOIN boots b ON b.id = c.boot "
        f"WHERE b.run_id IN ({marks}) AND c.status = 'fail' LIMIT 2000",
        run_ids,
    ):
        fails.setdefault((run_id, name), []).append(f"{series}: {message or ''}"[:200])
    names = ["boot"] + sorted({n for _, n in counts} - {"boot"})
    head = "".join(f"<th><span>{esc(n)}</span></th>" for n in names)
    rows = []
    for run_id, started in window.runs[: window.shown]:
        cells = "".join(_count_cell(counts.get((run_id, n), {}), fails.get((run_id, n), [])) for n in names)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
        rows.append(f"<tr><th>{esc(run_id)}<br><small>{when}</small></th>{cells}</tr>")
    parts = [
        "<p>Cells: boots passing / failing / skipping the check in the run (hover a cell for the failing boots).</p>",
        f"<table class=matrix><thead><tr><th>run</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    ]
    parts.append(_boot_matrix(h, window))
    return "\n".join(parts)


def _count_cell(statuses: dict[str, int], fails: Sequence[str]) -> str:
    """One run's result for one check over its boots: fail if any boot failed it."""
    if not statuses:
        return '<td class="none">\u2013</td>'
    total = sum(statuses.values())
    fail, passed, skip = statuses.get("fail", 0), statuses.get("pass", 0), statuses.get("skip", 0)
    cls = "fail" if fail else "pass" if passed else "skip"
    text = {"fail": f"\u2717 {fail}/{total}", "pass": f"\u2713 {passed}", "skip": f"skip {skip}"}[cls]
    tip = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    if fails:
        tip += "\n" + "\n".join(fails[:10]) + (f"\n... {len(fails) - 10} more" if len(fails) > 10 else "")
    return f'<td class="{cls}" title="{esc(tip)}">{text}</td>'


def _boot_matrix(h: History, window: RunWindow) -> str:
    """The newest run, boot by boot: which boot failed which check, with its message."""
    run_id = window.runs[0][0]
    boots = window.boots[run_id]
    checks = h.checks_of([b.id for b in boots])
    names = sorted({n for per in checks.values() for n in per})
    head = "".join(f"<th><span>{esc(n)}</span></th>" for n in ["boot", *names])
    rows = []
    for b in boots:
        mark = "\u2713" if b.ok else "\u2717"
        cells = [f'<td class="{"pass" if b.ok else "fail"}" title="{esc(b.failure or "")}">{mark}</td>']
        for n in names:
            status, message = checks[b.id].get(n, ("", ""))
            cls = status if status in ("pass", "fail", "skip") else "none"
            shown = status or "\u2013"
            cells.append(f'<td class="{cls}" title="{esc(message or "")}">{esc(shown)}</td>')
        link = f'<a href="#boot-{b.id}">{esc(b.series)}</a>'
        rows.append(f"<tr><th>{link}</th>{''.join(cells)}</tr>")
    return (
        f"<h3>Run {esc(run_id)}, boot by boot</h3><table class=matrix><thead><tr><th>boot</th>"
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )

"""The report's trends section: how every figure of every series moved across the
shown runs, each point judged as `harness compare --baseline previous` would have
judged it on the night of its run, with the band the rule judges against.

Why a module of its own: it is the section that re-runs compare's rule point by
point (with compare.py's spread(), judge_noisy() and judge_exact(), never a
second copy of the math), and the bulk of a report.
"""

from __future__ import annotations

import time
from typing import Sequence

from .. import plots
from ..compare import Comparison, Rule, judge_exact, judge_noisy, spread
from ..db import Boot
from ..metrics import EXACT, Metric
from .markup import esc, series_anchor
from .runs import Documents, RunWindow

#: Series that get trends.
MAX_SERIES = 80

#: Boot order of the phases (harness/phases.py), for trend rows in the order a boot runs them.
PHASE_ORDER = (
    "firmware",
    "u-boot",
    "setup",
    "load",
    "bootm",
    "start",
    "loader",
    "unpack",
    "verify+handoff",
    "handoff",
    "kernel",
)
NOISY_EXTRA = ("unpack.host_s", "unpack.target_s", "uboot.load_s", "uboot.load_uboot_s", "uboot.tftp_s")


def trends_section(
    window: RunWindow, rule: Rule, docs: Documents, comparison: Comparison | None, figs: plots.Deferred
) -> str:
    """Per series a figure of its measured (noisy) figures and, when the cache model
    ran, one of its modeled figures; series with findings first."""
    flagged = {
        f.series
        for f in (comparison.findings if comparison else [])
        if f.status in ("regression", "outlier", "missing", "changed")
    }
    series = sorted({b.series for b in window.shown_boots()}, key=lambda s: (s not in flagged, s))
    x_labels = _run_labels([started for _, started in reversed(window.runs[: window.shown])])
    parts = [
        "<p>Each strip is one figure of the series over the runs (oldest left), on its own "
        "scale. Shaded: the baseline band, median \u00b1 k\u00b7sigma of the runs before "
        "(compare's rule; the median dashed); "
        "<span class=m-regression>\u25bc regression</span>, "
        "<span class=m-outlier>\u25cf outlier</span>, <span class=m-improved>\u25b2 improved"
        "</span>, <span class=m-failed>\u00d7 failed boot</span>.</p>"
    ]
    index = " ".join(f'<a href="#{series_anchor(s)}">{esc(s)}</a>' for s in series[:MAX_SERIES])
    parts.append(f"<nav class=series>{index}</nav>")
    if len(series) > MAX_SERIES:
        parts.append(
            f"<p class=note>{len(series) - MAX_SERIES} more series not drawn "
            f"(at most {MAX_SERIES}, flagged ones first).</p>"
        )
    for s in series[:MAX_SERIES]:
        parts.append(series_trends(s, window, rule, docs, x_labels, figs))
    return "\n".join(parts)


def _run_labels(started: Sequence[float]) -> list[str]:
    """The runs' start times as the x labels: dates for nightlies, times of day (to the
    second) when the runs all fall within a day, as in a morning of manual boots."""
    fmt = "%H:%M:%S" if started and max(started) - min(started) < 86400 else "%m-%d %H:%M"
    return [time.strftime(fmt, time.localtime(t)) for t in started]


def series_trends(
    series: str, window: RunWindow, rule: Rule, docs: Documents, x_labels: Sequence[str], figs: plots.Deferred
) -> str:
    """The figures of one series, with the flagged points listed under them."""
    seq = _series_boots(series, window)
    names = sorted({n for _, b in seq for n in window.metrics[b.id]})
    noisy = _noisy_order(names)
    modeled = sorted((n for n in names if n.startswith("modeled.")), key=lambda n: (n != "modeled.total_s", n))
    slug = series_anchor(series)
    out = [f'<section class=series id="{slug}"><h3>{esc(series)}</h3>']
    for kind, chosen, title in (("measured", noisy, f"{series} \u2014 measured"), ("modeled", modeled, "")):
        rows = [r for r in (trend_row(series, n, seq, window, rule) for n in chosen) if r.points]
        if kind == "modeled":  # the parts of the modeled time only when they moved
            rows = [r for r in rows if r.name == "modeled.total_s" or len({v for _, v, _ in r.points}) > 1]
        if not rows:
            continue
        if kind == "modeled":
            title = f"{series} \u2014 modeled (profile {docs.profile(seq[0][1])})"
        svg = figs.add(plots.trend_svg, title, x_labels, rows, f"{slug}-{kind}", f"{slug}-{kind}")
        flags = [(r.name, x, v, st) for r in rows for x, v, st in r.points if st and st != "failed"]
        out.append(
            f'<figure class=trend data-series="{esc(series)}" data-kind="{kind}" '
            f'data-flags="{esc(" ".join(sorted({f[3] for f in flags})))}">{svg}'
            f"<figcaption>{_flag_text(flags, rows, window)}</figcaption></figure>"
        )
    out.append("</section>")
    return "\n".join(out)


def _series_boots(series: str, window: RunWindow) -> list[tuple[int, Boot]]:
    """(run index, boot) of the series, newest run first, one boot per run (the newest)."""
    out = []
    for r, (run_id, _) in enumerate(window.runs):
        boot = next((b for b in window.boots[run_id] if b.series == series), None)
        if boot is not None:
            out.append((r, boot))
    return out


def _noisy_order(names: Sequence[str]) -> list[str]:
    """Phase times in boot order (not the per-image spans: too many, and inside the
    unpack already), then the unpack window and the U-Boot transfer."""
    phases = [f"phase.{p}.host_s" for p in PHASE_ORDER if f"phase.{p}.host_s" in names]
    return phases + [n for n in NOISY_EXTRA if n in names]


def trend_row(series: str, name: str, seq: Sequence[tuple[int, Boot]], window: RunWindow, rule: Rule) -> plots.TrendRow:
    """One figure of the series over the shown runs, each point judged as `harness
    compare --baseline previous` would have judged it on the night of its run."""
    row: plots.TrendRow | None = None
    for i, (r, boot) in enumerate(seq):
        if r >= window.shown:
            break
        metric = window.metrics[boot.id].get(name)
        if metric is None:
            continue
        row = row or plots.TrendRow(name, metric.unit)
        x = window.shown - 1 - r
        if metric.kind == EXACT:
            row.points.append(
                (x, metric.value, _judge_exact(series, name, metric, boot, r, seq[i + 1 :], window, rule))
            )
        else:
            _judge_point(row, series, name, metric, boot, r, seq[i + 1 :], window, rule, x)
    row = row or plots.TrendRow(name, None)
    row.points.reverse()
    row.band.reverse()
    return row


def _judge_point(
    row: plots.TrendRow,
    series: str,
    name: str,
    metric: Metric,
    boot: Boot,
    r: int,
    before: Sequence[tuple[int, Boot]],
    window: RunWindow,
    rule: Rule,
    x: int,
) -> None:
    """A noisy point: the baseline is the series' ok boots in the `window` runs before
    this one, less the `sustain - 1` boots just before it (the streak), as in compare."""
    if not boot.ok:  # a failed boot's times say nothing about speed
        row.points.append((x, metric.value, "failed"))
        return
    streak_boots = [b for _, b in before[: rule.sustain - 1]]
    base = [
        window.metrics[b.id][name].value
        for r2, b in before[rule.sustain - 1 :]
        if r2 <= r + rule.window and b.ok and name in window.metrics[b.id]
    ]
    streak = [window.metrics[b.id][name].value for b in reversed(streak_boots) if name in window.metrics[b.id]]
    finding = judge_noisy(series, name, metric.unit, base, streak + [metric.value], rule)
    status = finding.status if finding is not None and finding.status != "insufficient" else ""
    row.points.append((x, metric.value, status))
    if len(base) >= rule.min_samples:
        s = spread(base, rule)
        row.band.append((x, s.median, s.median - rule.k * s.sigma, s.limit))
        if row.limit is None:  # the newest judged point's: the row's text quotes it
            row.limit, row.median = s.limit, s.median


def _judge_exact(
    series: str,
    name: str,
    metric: Metric,
    boot: Boot,
    r: int,
    before: Sequence[tuple[int, Boot]],
    window: RunWindow,
    rule: Rule,
) -> str:
    """An exact point against the newest series boot of the `window` runs before it."""
    ref = next((b for r2, b in before if r2 <= r + rule.window), None)
    old = window.metrics[ref.id].get(name) if ref is not None else None
    if ref is None or old is None:
        return ""
    same = (
        boot.image_sha256 is not None
        and boot.image_sha256 == ref.image_sha256
        and boot.target_sha256 == ref.target_sha256
    )
    finding = judge_exact(series, name, old, metric, same, ref.run_id)
    return finding.status if finding is not None else ""


def _flag_text(flags: Sequence[tuple[str, int, float, str]], rows: Sequence[plots.TrendRow], window: RunWindow) -> str:
    """The flagged points in words, newest first (at most 8): the figure says where,
    the caption says which run and how much."""
    if not flags:
        return "no point flagged in these runs"
    units = {r.name: r.unit for r in rows}
    runs = [run_id for run_id, _ in reversed(window.runs[: window.shown])]
    newest = sorted(flags, key=lambda f: -f[1])
    words = [
        f'<span class="flag {esc(st)}">{esc(st)}</span> {esc(name)} = '
        f"{esc(plots.fmt_value(v, units.get(name)))} in run {esc(runs[x])}"
        for name, x, v, st in newest[:8]
    ]
    more = f"; {len(newest) - 8} more" if len(newest) > 8 else ""
    return "; ".join(words) + more

"""`harness report`: the results history as one self-contained HTML page.

What a lab wants to see the morning after: did the newest run regress against
its baseline (compare's own findings, so page and exit code agree), where the
time of each of its boots went (a timeline per boot), how every figure moved
across the last runs and where the rule flagged it (trends with the band the
rule judges against), how unpack speed scales with the image per loader mode
(measured, and modeled for the board), and which checks failed when.

Why it is built this way:
- offline and self-contained: figures are inline SVG (plots.py), styles are
  inline, there is no script and no URL to fetch, so the page opens from a CI
  artifact, a mail attachment or a laptop on a plane;
- it stays quick and small with a history of 10,000 boots: only the last
  `last_runs` runs are drawn (plus the baseline runs the rule needs to judge the
  oldest of them), only the newest run gets timelines, series and timelines are
  capped, and the figures are selected and counted in SQL instead of loading
  every row (bench/history_scale.py measures it);
- judged like `harness compare`: the band and the marks use compare.py's
  spread(), judge_noisy() and the exact rule, never a second copy of the math.
"""
from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..errors import HarnessError
from . import plots
from .compare import Comparison, Finding, Rule, _exact, compare, judge_noisy, spread
from .db import Boot, History
from .metrics import EXACT, Metric

#: Boots of the newest run that get a timeline; series that get trends.
MAX_TIMELINES = 40
MAX_SERIES = 80
#: Boot order of the phases (harness/phases.py), for trend rows in the order a boot runs them.
PHASE_ORDER = ("firmware", "u-boot", "load", "bootm", "start", "loader", "unpack", "verify+handoff",
               "kernel")
NOISY_EXTRA = ("unpack.host_s", "unpack.target_s", "uboot.tftp_s")
#: The only figures the page reads (the cache model's dozens of counts stay in the database).
_WANTED = ("(name LIKE 'phase.%' OR name LIKE 'modeled.%' OR name IN "
           "('unpack.host_s', 'unpack.target_s', 'uboot.tftp_s', 'image.unpacked_bytes'))")
_SEVERITY = ("regression", "outlier", "missing", "changed", "improved", "insufficient")


def write_report(h: History, out: Path, last_runs: int = 30, rule: Rule = Rule()) -> Path:
    """Write the page for `h` to `out` (atomically: a half-written report is never left)."""
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
    if not window.runs:
        return _page(h, window, [("empty", "The history is empty",
                                  "<p>No boot is recorded yet: boot something first.</p>")])
    docs, figs = Documents(), plots.Deferred()
    comparison, summary = summary_section(h, rule)
    sections = [("summary", "Newest run vs. baseline", summary),
                ("timelines", "Boot timelines (newest run)", timelines_section(h, window, docs, figs)),
                ("trends", f"Trends (last {window.shown} runs)",
                 trends_section(window, rule, docs, comparison, figs)),
                ("throughput", "Unpack throughput against image size",
                 throughput_section(window, docs, figs)),
                ("checks", "Check matrix", checks_section(h, window))]
    return figs.fill(_page(h, window, sections))


# -- what is drawn: the window of runs -----------------------------------------------------

@dataclass
class Window:
    """The newest runs and their boots: runs[:shown] are drawn, the runs after them
    are there only as baseline for judging the oldest drawn points."""

    runs: list[tuple[str, float]]                 # (run_id, started), newest first
    shown: int
    boots: dict[str, list[Boot]]                  # run id -> its boots, newest first
    metrics: dict[int, dict[str, Metric]]         # boot id -> the figures the page uses

    def shown_boots(self) -> Iterable[Boot]:
        for run_id, _ in self.runs[:self.shown]:
            yield from self.boots[run_id]


def load_window(h: History, last_runs: int, rule: Rule) -> Window:
    """The last `last_runs` runs plus `window + sustain` older ones (the baseline and
    streak of the oldest drawn run), with only the figures the page draws."""
    runs = [(r, s) for r, s in h.db.execute(
        "SELECT run_id, started FROM runs ORDER BY started DESC, run_id DESC LIMIT ?",
        (last_runs + rule.window + rule.sustain,))]
    boots = {run_id: h.boots(run_id=run_id) for run_id, _ in runs}
    ids = [b.id for bs in boots.values() for b in bs]
    return Window(runs, min(last_runs, len(runs)), boots, _figures(h, ids))


def _figures(h: History, ids: Sequence[int]) -> dict[int, dict[str, Metric]]:
    """The page's figures of `ids` (one query per 900 ids, filtered by name in SQL)."""
    out: dict[int, dict[str, Metric]] = {i: {} for i in ids}
    for start in range(0, len(ids), 900):
        chunk = list(ids[start:start + 900])
        marks = ",".join("?" * len(chunk))
        for boot, name, value, unit, kind in h.db.execute(
                f"SELECT boot, name, value, unit, kind FROM metrics WHERE boot IN ({marks}) AND {_WANTED}",
                chunk):
            out[boot][name] = Metric(name, value, unit, kind)
    return out


class Documents:
    """The boots' result.json files, read only when the database lacks something
    (the target timer's marks, the timing profile's name) and only for the boots
    shown; a missing or unreadable file is simply absent."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, Any] | None] = {}
        self._profiles: dict[tuple[str, str | None], str] = {}

    def of(self, boot: Boot) -> dict[str, Any] | None:
        if not boot.result_path:
            return None
        if boot.result_path not in self._docs:
            try:
                doc = json.loads((Path(boot.result_path) / "result.json").read_text())
                self._docs[boot.result_path] = doc if isinstance(doc, dict) else None
            except (OSError, ValueError):
                self._docs[boot.result_path] = None
        return self._docs[boot.result_path]

    def profile(self, boot: Boot) -> str:
        """The timing profile the boot's modeled time used: from its result.json, else
        from its target file when that file is byte-identical to the one it ran with."""
        key = (boot.target, boot.target_sha256)
        if key not in self._profiles:
            self._profiles[key] = self._profile_of(boot)
        return self._profiles[key]

    def _profile_of(self, boot: Boot) -> str:
        doc = self.of(boot) or {}
        name = ((doc.get("modeled") or {}).get("profile") or {}).get("name") \
            or (doc.get("target_file") or {}).get("timing_profile")
        if name:
            return str(name)
        from ..targets import load, resolve
        from .document import sha256_of
        try:
            path = resolve(boot.target)
            if boot.target_sha256 is None or sha256_of(path) == boot.target_sha256:
                return load(boot.target).timing_profile or "unknown"
        except HarnessError:
            pass
        return "unknown"


# -- summary --------------------------------------------------------------------------------

def summary_section(h: History, rule: Rule) -> tuple[Comparison | None, str]:
    """compare() of the newest run with the previous runs, as `harness compare` prints it."""
    try:
        result = compare(h, None, "previous", rule)
    except HarnessError as exc:
        return None, f"<p>{_e(str(exc))}</p>"
    head = result.text().splitlines()[0]
    shown = sorted((f for f in result.findings if f.status != "insufficient"),
                   key=lambda f: (_SEVERITY.index(f.status) if f.status in _SEVERITY else 99, f.series))
    quiet = [f for f in result.findings if f.status == "insufficient"]
    parts = [f'<p class="verdict {"bad" if result.regressions else "good"}">{_e(head)}</p>',
             f"<p class=note>Rule: k = {rule.k:g}, {rule.sustain} high runs in a row make a regression, "
             f"{rule.min_samples} baseline values needed, window {rule.window} runs "
             "(docs/history.md).</p>"]
    if shown:
        parts.append(_findings_table(shown))
    if quiet:
        parts.append(f"<details><summary>{len(quiet)} figure(s) not judged</summary>"
                     f"{_findings_table(quiet)}</details>")
    return result, "\n".join(parts)


def _findings_table(findings: Sequence[Finding]) -> str:
    rows = "".join(
        f'<tr class="{_e(f.status)}"><td>{_e(f.status)}</td>'
        f'<td><a href="#{_series_anchor(f.series)}">{_e(f.series)}</a></td>'
        f"<td>{_e(f.metric)}</td><td>{_e(f.detail)}</td></tr>" for f in findings)
    return ("<table class=findings><thead><tr><th>status</th><th>series</th><th>figure</th>"
            f"<th>detail</th></tr></thead><tbody>{rows}</tbody></table>")


# -- timelines --------------------------------------------------------------------------------

def timelines_section(h: History, window: Window, docs: Documents, figs: plots.Deferred) -> str:
    """A timeline per boot of the newest run (capped), with anchors to jump between them."""
    run_id = window.runs[0][0]
    boots = sorted(window.boots[run_id], key=lambda b: (b.ok, b.series))     # failed ones first
    drawn = boots[:MAX_TIMELINES]
    links = " ".join(f'<a class="{"pass" if b.ok else "fail"}" href="#boot-{b.id}">{_e(b.series)}</a>'
                     for b in drawn)
    parts = [f"<p>Run <b>{_e(run_id)}</b>, {len(boots)} boot(s). Bars: each phase by the host's "
             "clock (console stamps), images nested under the unpack; hatched: intervals between "
             "the target timer's marks.</p>", f"<nav class=boots>{links}</nav>"]
    if len(boots) > len(drawn):
        parts.append(f"<p class=note>{len(boots) - len(drawn)} more boot(s) not drawn "
                     f"(at most {MAX_TIMELINES}).</p>")
    for b in drawn:
        bars = timeline_bars(h.spans_of(b.id), docs.of(b))
        svg = figs.add(plots.timeline_svg, f"{b.series}  ({b.boot_id})", bars, f"boot-{b.id}") if bars \
            else "<p>(no spans recorded)</p>"
        parts.append(f'<figure class=timeline id="boot-{b.id}" data-series="{_e(b.series)}">{svg}'
                     f"<figcaption>{_e(b.series)}: {_e(_verdict(b))}</figcaption></figure>")
    return "\n".join(parts)


def _verdict(b: Boot) -> str:
    """'passed', or 'failed' with the first line of why."""
    if b.ok:
        return "passed"
    why = (b.failure or b.failure_kind or "").strip()
    return f"failed: {why.splitlines()[0][:300]}" if why else "failed"


def timeline_bars(spans: Sequence[tuple[str, float, float, float | None, str | None]],
                  doc: dict[str, Any] | None) -> list[plots.Bar]:
    """Rows in boot order: top-level phases, each followed by its nested spans (the
    images of the unpack), then the target timer's intervals when the result says them."""
    top = [s for s in spans if s[4] is None and s[1] is not None]
    bars: list[plots.Bar] = []
    for name, start, host_s, target_s, _ in top:
        note = f"(target timer {plots.fmt_value(target_s, 's')})" if target_s is not None else ""
        bars.append(plots.Bar(name, start, host_s or 0.0, plots.PHASE_COLOURS.get(name, "#78909c"), note))
        for child, c_start, c_host, _, parent in spans:
            if parent == name and c_start is not None:
                bars.append(plots.Bar(f"  \u21b3 {child}", c_start, c_host or 0.0,
                                      plots.PHASE_COLOURS["image"]))
    return bars + target_bars(doc)


def target_bars(doc: dict[str, Any] | None) -> list[plots.Bar]:
    """The target timer's marks (ticks / freq) as intervals between consecutive marks:
    on QEMU and boards alike the only clock that is not the console's arrival time."""
    marks = [m for m in ((doc or {}).get("timeline") or {}).get("marks") or []
             if isinstance(m.get("ticks"), (int, float)) and m.get("freq")]
    marks.sort(key=lambda m: m["ticks"])
    bars = []
    for a, b in zip(marks, marks[1:]):
        if a["ticks"] == b["ticks"]:        # two marks at one instant: nothing to draw
            continue
        start, stop = a["ticks"] / a["freq"], b["ticks"] / b["freq"]
        label = f"{a['name']} \u2192 {b['name']}"
        if a["name"] == "unpack.begin" and b["name"] == "unpack.end":
            label = f"unpack {a.get('image') or ''}".rstrip()
        bars.append(plots.Bar(f"timer: {label}", start, stop - start, plots.TARGET_COLOUR, target=True))
    return bars


# -- trends -----------------------------------------------------------------------------------

def trends_section(window: Window, rule: Rule, docs: Documents, comparison: Comparison | None,
                   figs: plots.Deferred) -> str:
    """Per series a figure of its measured (noisy) figures and, when the cache model
    ran, one of its modeled figures; series with findings first."""
    flagged = {f.series for f in (comparison.findings if comparison else [])
               if f.status in ("regression", "outlier", "missing", "changed")}
    series = sorted({b.series for b in window.shown_boots()}, key=lambda s: (s not in flagged, s))
    x_labels = _run_labels([started for _, started in reversed(window.runs[:window.shown])])
    parts = ["<p>Each strip is one figure of the series over the runs (oldest left), on its own "
             "scale. Shaded: the baseline band, median \u00b1 k\u00b7sigma of the runs before "
             "(compare's rule; the median dashed); "
             '<span class=m-regression>\u25bc regression</span>, '
             '<span class=m-outlier>\u25cf outlier</span>, <span class=m-improved>\u25b2 improved'
             '</span>, <span class=m-failed>\u00d7 failed boot</span>.</p>']
    index = " ".join(f'<a href="#{_series_anchor(s)}">{_e(s)}</a>' for s in series[:MAX_SERIES])
    parts.append(f"<nav class=series>{index}</nav>")
    if len(series) > MAX_SERIES:
        parts.append(f"<p class=note>{len(series) - MAX_SERIES} more series not drawn "
                     f"(at most {MAX_SERIES}, flagged ones first).</p>")
    for s in series[:MAX_SERIES]:
        parts.append(series_trends(s, window, rule, docs, x_labels, figs))
    return "\n".join(parts)


def _run_labels(started: Sequence[float]) -> list[str]:
    """The runs' start times as the x labels: dates for nightlies, times of day (to the
    second) when the runs all fall within a day, as in a morning of manual boots."""
    fmt = "%H:%M:%S" if started and max(started) - min(started) < 86400 else "%m-%d %H:%M"
    return [time.strftime(fmt, time.localtime(t)) for t in started]


def series_trends(series: str, window: Window, rule: Rule, docs: Documents,
                  x_labels: Sequence[str], figs: plots.Deferred) -> str:
    """The figures of one series, with the flagged points listed under them."""
    seq = _series_boots(series, window)
    names = sorted({n for _, b in seq for n in window.metrics[b.id]})
    noisy = _noisy_order(names)
    modeled = sorted((n for n in names if n.startswith("modeled.")),
                     key=lambda n: (n != "modeled.total_s", n))
    slug = _series_anchor(series)
    out = [f'<section class=series id="{slug}"><h3>{_e(series)}</h3>']
    for kind, chosen, title in (("measured", noisy, f"{series} \u2014 measured"),
                                ("modeled", modeled, "")):
        rows = [r for r in (trend_row(series, n, seq, window, rule) for n in chosen) if r.points]
        if kind == "modeled":       # the parts of the modeled time only when they moved
            rows = [r for r in rows if r.name == "modeled.total_s" or len({v for _, v, _ in r.points}) > 1]
        if not rows:
            continue
        if kind == "modeled":
            title = f"{series} \u2014 modeled (profile {docs.profile(seq[0][1])})"
        svg = figs.add(plots.trend_svg, title, x_labels, rows, f"{slug}-{kind}", f"{slug}-{kind}")
        flags = [(r.name, x, v, st) for r in rows for x, v, st in r.points if st and st != "failed"]
        out.append(f'<figure class=trend data-series="{_e(series)}" data-kind="{kind}" '
                   f'data-flags="{_e(" ".join(sorted({f[3] for f in flags})))}">{svg}'
                   f"<figcaption>{_flag_text(flags, rows, window)}</figcaption></figure>")
    out.append("</section>")
    return "\n".join(out)


def _series_boots(series: str, window: Window) -> list[tuple[int, Boot]]:
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


def trend_row(series: str, name: str, seq: Sequence[tuple[int, Boot]], window: Window,
              rule: Rule) -> plots.TrendRow:
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
            row.points.append((x, metric.value, _judge_exact(series, name, metric, boot, r,
                                                             seq[i + 1:], window, rule)))
        else:
            _judge_point(row, series, name, metric, boot, r, seq[i + 1:], window, rule, x)
    row = row or plots.TrendRow(name, None)
    row.points.reverse()
    row.band.reverse()
    return row


def _judge_point(row: plots.TrendRow, series: str, name: str, metric: Metric, boot: Boot, r: int,
                 before: Sequence[tuple[int, Boot]], window: Window, rule: Rule, x: int) -> None:
    """A noisy point: the baseline is the series' ok boots in the `window` runs before
    this one, less the `sustain - 1` boots just before it (the streak), as in compare."""
    if not boot.ok:                   # a failed boot's times say nothing about speed
        row.points.append((x, metric.value, "failed"))
        return
    streak_boots = [b for _, b in before[:rule.sustain - 1]]
    base = [window.metrics[b.id][name].value for r2, b in before[rule.sustain - 1:]
            if r2 <= r + rule.window and b.ok and name in window.metrics[b.id]]
    streak = [window.metrics[b.id][name].value for b in reversed(streak_boots)
              if name in window.metrics[b.id]]
    finding = judge_noisy(series, name, metric.unit, base, streak + [metric.value], rule)
    status = finding.status if finding is not None and finding.status != "insufficient" else ""
    row.points.append((x, metric.value, status))
    if len(base) >= rule.min_samples:
        s = spread(base, rule)
        row.band.append((x, s.median, s.median - rule.k * s.sigma, s.limit))
        if row.limit is None:         # the newest judged point's: the row's text quotes it
            row.limit, row.median = s.limit, s.median


def _judge_exact(series: str, name: str, metric: Metric, boot: Boot, r: int,
                 before: Sequence[tuple[int, Boot]], window: Window, rule: Rule) -> str:
    """An exact point against the newest series boot of the `window` runs before it."""
    ref = next((b for r2, b in before if r2 <= r + rule.window), None)
    old = window.metrics[ref.id].get(name) if ref is not None else None
    if ref is None or old is None:
        return ""
    same = (boot.image_sha256 is not None and boot.image_sha256 == ref.image_sha256
            and boot.target_sha256 == ref.target_sha256)
    finding = _exact(series, name, old, metric, same, ref.run_id)
    return finding.status if finding is not None else ""


def _flag_text(flags: Sequence[tuple[str, int, float, str]], rows: Sequence[plots.TrendRow],
               window: Window) -> str:
    """The flagged points in words, newest first (at most 8): the figure says where,
    the caption says which run and how much."""
    if not flags:
        return "no point flagged in these runs"
    units = {r.name: r.unit for r in rows}
    runs = [run_id for run_id, _ in reversed(window.runs[:window.shown])]
    newest = sorted(flags, key=lambda f: -f[1])
    words = [f'<span class="flag {_e(st)}">{_e(st)}</span> {_e(name)} = '
             f"{_e(plots.fmt_value(v, units.get(name)))} in run {_e(runs[x])}"
             for name, x, v, st in newest[:8]]
    more = f"; {len(newest) - 8} more" if len(newest) > 8 else ""
    return "; ".join(words) + more


# -- throughput -------------------------------------------------------------------------------

def throughput_section(window: Window, docs: Documents, figs: plots.Deferred) -> str:
    """Measured (host clock and target timer) and modeled unpack throughput against
    the unpacked size, per loader mode, over the shown runs' passing boots."""
    measured: list[plots.Throughput] = []
    modeled: dict[str, list[plots.Throughput]] = {}
    skipped = 0
    for b in window.shown_boots():
        m = window.metrics[b.id]
        size = m.get("image.unpacked_bytes")
        if size is None or not b.ok:
            continue
        mode = b.mode or "?"
        for clock, key in (("host", "unpack.host_s"), ("target", "unpack.target_s")):
            if key in m and m[key].value > 0:
                measured.append(plots.Throughput(mode, size.value, size.value / m[key].value, clock))
            elif key == "unpack.host_s" and key in m:
                skipped += 1
        if "modeled.total_s" in m and m["modeled.total_s"].value > 0:
            modeled.setdefault(docs.profile(b), []).append(
                plots.Throughput(mode, size.value, size.value / m["modeled.total_s"].value, "modeled"))
    parts = ["<p>Unpacked bytes over the unpack window (measured: host clock \u25cb, target timer "
             "\u25b3) and over the modeled loader time (modeled for the board by the cache model's "
             "timing profile), per loader mode; lines join the median per size.</p>"]
    if skipped:
        parts.append(f"<p class=note>{skipped} boot(s) with a zero host-clock unpack window (the "
                     "console delivered its stamps together) are left out of the host clock.</p>")
    if measured:
        parts.append('<figure class="throughput" data-kind="measured">' + figs.add(
            plots.throughput_svg, "unpack throughput \u2014 measured", measured, "tp-measured") + "</figure>")
    for n, (profile, points) in enumerate(sorted(modeled.items())):
        parts.append('<figure class="throughput" data-kind="modeled">' + figs.add(
            plots.throughput_svg, f"unpack throughput \u2014 modeled (profile {profile})", points,
            f"tp-modeled-{n}") + "</figure>")
    if not measured and not modeled:
        parts.append("<p>No boot in these runs has an unpack window and an image size.</p>")
    return "\n".join(parts)


# -- check matrix -----------------------------------------------------------------------------

def checks_section(h: History, window: Window) -> str:
    """Runs × checks (counted in SQL), then the newest run's boots × checks."""
    run_ids = [r for r, _ in window.runs[:window.shown]]
    marks = ",".join("?" * len(run_ids))
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for run_id, name, status, n in h.db.execute(
            f"SELECT b.run_id, c.name, c.status, count(*) FROM checks c JOIN boots b ON b.id = c.boot "
            f"WHERE b.run_id IN ({marks}) GROUP BY b.run_id, c.name, c.status", run_ids):
        counts.setdefault((run_id, name), {})[status] = n
    for run_id, ok, n in h.db.execute(
            f"SELECT run_id, ok, count(*) FROM boots WHERE run_id IN ({marks}) GROUP BY run_id, ok",
            run_ids):
        counts.setdefault((run_id, "boot"), {})["pass" if ok else "fail"] = n
    fails: dict[tuple[str, str], list[str]] = {}
    for run_id, name, series, message in h.db.execute(
            f"SELECT b.run_id, c.name, b.series, c.message FROM checks c JOIN boots b ON b.id = c.boot "
            f"WHERE b.run_id IN ({marks}) AND c.status = 'fail' LIMIT 2000", run_ids):
        fails.setdefault((run_id, name), []).append(f"{series}: {message or ''}"[:200])
    names = ["boot"] + sorted({n for _, n in counts} - {"boot"})
    head = "".join(f"<th><span>{_e(n)}</span></th>" for n in names)
    rows = []
    for run_id, started in window.runs[:window.shown]:
        cells = "".join(_count_cell(counts.get((run_id, n), {}), fails.get((run_id, n), []))
                        for n in names)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(started))
        rows.append(f"<tr><th>{_e(run_id)}<br><small>{when}</small></th>{cells}</tr>")
    parts = ["<p>Cells: boots passing / failing / skipping the check in the run "
             "(hover a cell for the failing boots).</p>",
             f"<table class=matrix><thead><tr><th>run</th>{head}</tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>"]
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
    return f'<td class="{cls}" title="{_e(tip)}">{text}</td>'


def _boot_matrix(h: History, window: Window) -> str:
    """The newest run, boot by boot: which boot failed which check, with its message."""
    run_id = window.runs[0][0]
    boots = window.boots[run_id]
    checks = h.checks_of([b.id for b in boots])
    names = sorted({n for per in checks.values() for n in per})
    head = "".join(f"<th><span>{_e(n)}</span></th>" for n in ["boot", *names])
    rows = []
    for b in boots:
        mark = "\u2713" if b.ok else "\u2717"
        cells = [f'<td class="{"pass" if b.ok else "fail"}" title="{_e(b.failure or "")}">{mark}</td>']
        for n in names:
            status, message = checks[b.id].get(n, ("", ""))
            cls = status if status in ("pass", "fail", "skip") else "none"
            shown = status or "\u2013"
            cells.append(f'<td class="{cls}" title="{_e(message or "")}">{_e(shown)}</td>')
        link = f'<a href="#boot-{b.id}">{_e(b.series)}</a>'
        rows.append(f"<tr><th>{link}</th>{''.join(cells)}</tr>")
    return (f"<h3>Run {_e(run_id)}, boot by boot</h3><table class=matrix><thead><tr><th>boot</th>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


# -- the page ---------------------------------------------------------------------------------

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


def _page(h: History, window: Window, sections: Sequence[tuple[str, str, str]]) -> str:
    """Header (which history, which runs, when), a table of contents, the sections."""
    n_runs, n_boots = h.db.execute("SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM boots)"
                                   ).fetchone()
    covered = ""
    if window.runs:
        first = window.runs[window.shown - 1][1]
        covered = (f"runs shown: the newest {window.shown} of {n_runs} "
                   f"({_when(first)} \u2013 {_when(window.runs[0][1])}), {n_boots} boots in all")
    toc = " ".join(f'<a href="#{key}">{_e(title)}</a>' for key, title, _ in sections)
    body = "\n".join(f'<section id="{key}"><h2>{_e(title)}</h2>\n{content}\n</section>'
                     for key, title, content in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Boot history report \u2014 {_e(h.path.name)}</title><style>{_CSS}</style></head>"
            f"<body><header><h1>Boot history report</h1>"
            f'<p class=meta>history <code>{_e(str(h.path))}</code><br>{_e(covered)}<br>'
            f"generated {_e(time.strftime('%Y-%m-%d %H:%M:%S %Z'))}</p>"
            f"<nav>{toc}</nav></header>\n{body}\n</body></html>\n")


def _when(started: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(started))


def _series_anchor(series: str) -> str:
    return "series-" + re.sub(r"[^A-Za-z0-9_-]+", "-", series).strip("-")


def _e(text: str) -> str:
    return html.escape(text, quote=True)

"""Did anything get worse? A run against a baseline, figure by figure.

The rules (docs/history.md says why):
- exact figures (byte counts, cache-model counts, modeled time) are compared
  with the newest baseline boot of the same series: any change is reported
  with its size. A change is a regression when the figure grew, or when it
  moved at all while image and target are byte-identical (a deterministic
  figure that moves on the same inputs means the harness, QEMU or the loader
  became non-deterministic). It is an improvement when it shrank with a new image.
- noisy figures (host and target times) are judged against the baseline's
  spread: median and MAD (robust to the odd bad night), sigma = 1.4826 * MAD
  floored at `rel_floor` of the median and at `abs_floor`. A value above
  median + k * sigma is *high*. One high night is an outlier (printed, not
  failing); `sustain` high runs in a row are a regression. Fewer than
  `min_samples` baseline values: no judgement, said so.
- a check that passed in the baseline and fails now, or a boot that passed
  and fails now, is a regression.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import HarnessError
from .db import Boot, History
from .metrics import EXACT, Metric


@dataclass(frozen=True)
class Rule:
    """The knobs of the noisy-figure judgement (defaults: a nightly on shared runners)."""

    k: float = 4.0  # robust z above which a value is high
    min_samples: int = 5  # baseline values needed to judge a noisy figure at all
    window: int = 10  # baseline runs considered for noisy figures
    sustain: int = 3  # high runs in a row that make a regression
    rel_floor: float = 0.05  # sigma is at least 5 % of the median...
    abs_floor: float = 0.002  # ...and at least 2 ms (host stamps are ~1 ms apart)


@dataclass(frozen=True)
class Finding:
    """One line of the comparison: what changed, where, by how much."""

    status: str  # regression | outlier | improved | changed | insufficient | missing
    series: str
    metric: str
    old: float | str | None
    new: float | str | None
    detail: str

    def line(self) -> str:
        return f"{self.status.upper():12} {self.series}: {self.metric}: {self.detail}"


@dataclass
class Comparison:
    run_id: str
    baseline: str
    series: int = 0
    judged: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "regression"]

    def text(self, verbose: bool = False) -> str:
        shown = [f for f in self.findings if verbose or f.status != "insufficient"]
        counts = {
            s: sum(f.status == s for f in self.findings)
            for s in ("regression", "outlier", "improved", "changed", "missing", "insufficient")
        }
        head = (
            f"compared run {self.run_id} with baseline {self.baseline}: {self.series} series, "
            f"{self.judged} figures judged; " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        )
        if not any(counts.values()):
            head += "no change"
        return "\n".join([head, *(f.line() for f in shown)])


def _fmt(value: float, unit: str | None) -> str:
    if unit == "s":
        return f"{value:.6g} s"
    return f"{value:.10g}" + (f" {unit}" if unit else "")


def _delta(old: float, new: float, unit: str | None) -> str:
    pct = f", {100 * (new - old) / old:+.1f}%" if old else ""
    return f"{_fmt(old, unit)} -> {_fmt(new, unit)} ({'+' if new >= old else ''}{_fmt(new - old, unit)}{pct})"


def judge_exact(series: str, name: str, old: Metric, new: Metric, same_inputs: bool, base_run: str) -> Finding | None:
    """An exact figure against its baseline value: any move is a finding (growth, or any
    move with the same image and target, a regression); None when it did not move."""
    if old.value == new.value:
        return None
    change = _delta(old.value, new.value, new.unit) + f" vs run {base_run}"
    if new.value > old.value:
        return Finding("regression", series, name, old.value, new.value, "exact figure grew: " + change)
    if same_inputs:
        return Finding(
            "regression",
            series,
            name,
            old.value,
            new.value,
            "exact figure moved with the same image and target (non-deterministic?): " + change,
        )
    return Finding("improved", series, name, old.value, new.value, "exact figure shrank: " + change)


@dataclass(frozen=True)
class Spread:
    """A baseline's centre and spread as the noisy rule sees them: one place for the
    math, so the report's trend band is exactly the limit compare judges against."""

    median: float
    mad: float
    sigma: float
    limit: float  # median + k * sigma: above it a value is high


def spread(baseline: list[float], rule: Rule) -> Spread:
    """Median, MAD and the floored sigma of non-empty `baseline` values."""
    med = statistics.median(baseline)
    mad = statistics.median(abs(v - med) for v in baseline)
    sigma = max(1.4826 * mad, rule.rel_floor * abs(med), rule.abs_floor)
    return Spread(med, mad, sigma, med + rule.k * sigma)


def judge_noisy(
    series: str, name: str, unit: str | None, baseline: list[float], streak: list[float], rule: Rule
) -> Finding | None:
    """`streak`: the newest values, oldest first, ending with the run under test; the
    runs before it in the streak are kept out of the baseline (they may be the shift)."""
    if len(baseline) < rule.min_samples:
        aside = f" ({len(streak) - 1} run(s) just before it set aside as a possible shift)" if len(streak) > 1 else ""
        return Finding(
            "insufficient",
            series,
            name,
            None,
            streak[-1],
            f"{len(baseline)} baseline value(s){aside}, {rule.min_samples} needed: not judged",
        )
    s = spread(baseline, rule)
    med, mad, limit = s.median, s.mad, s.limit
    stats = f"baseline median {_fmt(med, unit)}, MAD {_fmt(mad, unit)}, n={len(baseline)}, limit {_fmt(limit, unit)}"
    if streak[-1] <= limit:
        return None
    run = list(reversed(streak))
    high = 0
    while high < len(run) and run[high] > limit:
        high += 1
    values = ", ".join(_fmt(v, unit) for v in streak[-high:])
    if high >= rule.sustain:
        return Finding(
            "regression", series, name, med, streak[-1], f"{high} runs in a row above the limit ({values}); {stats}"
        )
    return Finding(
        "outlier",
        series,
        name,
        med,
        streak[-1],
        f"{_fmt(streak[-1], unit)} above the limit in {high} run(s), < {rule.sustain} in a row: watching; {stats}",
    )


def _checks(
    series: str, old: Boot, new: Boot, old_checks: dict[str, tuple[str, str]], new_checks: dict[str, tuple[str, str]]
) -> Iterable[Finding]:
    if old.ok and not new.ok:
        yield Finding(
            "regression",
            series,
            "boot",
            "pass",
            "fail",
            f"passed in run {old.run_id}, fails now: {(new.failure or '').splitlines()[0][:200]}",
        )
    for name, (status, message) in sorted(new_checks.items()):
        before = old_checks.get(name, (None, ""))[0]
        if before == "pass" and status == "fail":
            yield Finding(
                "regression",
                series,
                f"check {name}",
                "pass",
                "fail",
                f"passed in run {old.run_id}, fails now: {message[:200]}",
            )


def _baseline_runs(history: History, run_id: str, baseline: str, rule: Rule) -> tuple[list[str], str]:
    """The baseline's runs, newest first, and a label for it."""
    runs = [r[0] for r in history.runs()]
    if run_id not in runs:
        raise HarnessError(
            f"no run '{run_id}' in the history", file=history.path, fix="pick a run id from 'harness history'"
        )
    earlier = runs[runs.index(run_id) + 1 :]
    if baseline == "previous":
        return earlier[: rule.window], "previous"
    if baseline.startswith("last:"):
        try:
            n = int(baseline[5:])
        except ValueError:
            n = 0
        if n < 1:
            raise HarnessError(
                f"bad baseline '{baseline}'", field="--baseline", fix="use previous, last:N (N >= 1) or a baseline name"
            )
        return earlier[:n], f"the last {n} runs"
    named = history.baseline(baseline)
    if named == run_id or named not in runs:
        raise HarnessError(
            f"baseline '{baseline}' is run {named}, not an earlier run",
            field="--baseline",
            fix="compare a newer run, or name another baseline",
        )
    i = runs.index(named)
    return runs[i : i + rule.window], f"'{baseline}' (run {named})"


def compare(history: History, run_id: str | None = None, baseline: str = "previous", rule: Rule = Rule()) -> Comparison:
    """Compare `run_id` (default: the newest run) with `baseline`."""
    runs = history.runs()
    if not runs:
        raise HarnessError("the history is empty", file=history.path, fix="record some boots first")
    run_id = run_id or runs[0][0]
    base_runs, label = _baseline_runs(history, run_id, baseline, rule)
    out = Comparison(run_id, label)
    if not base_runs:
        out.findings.append(Finding("insufficient", "*", "*", None, None, "no earlier run to compare with"))
        return out
    order = {r: i for i, r in enumerate(r[0] for r in runs)}  # 0 = newest
    new_boots = history.boots(run_id=run_id)
    for new in new_boots:
        out.series += 1
        everything = history.boots(series=new.series)
        before = [b for b in everything if order.get(b.run_id, -1) > order[run_id]]
        in_base = [b for b in before if b.run_id in base_runs]
        if not in_base:
            out.findings.append(
                Finding("insufficient", new.series, "*", None, None, "the series is new: not in the baseline")
            )
            continue
        _compare_series(history, out, new, before, in_base, rule)
    seen = {b.series for b in new_boots}
    for b in history.boots(run_id=base_runs[0]):
        if b.series not in seen:
            seen.add(b.series)
            out.findings.append(
                Finding("missing", b.series, "*", None, None, f"in run {b.run_id}, not in run {run_id}")
            )
    return out


def _compare_series(
    history: History, out: Comparison, new: Boot, before: list[Boot], in_base: list[Boot], rule: Rule
) -> None:
    ref = in_base[0]  # newest baseline boot of the series
    streak_boots = before[: rule.sustain - 1]  # the nights just before this one
    noisy_base = [b for b in in_base if b not in streak_boots and b.ok]
    ids = [new.id, ref.id, *(b.id for b in streak_boots), *(b.id for b in noisy_base)]
    m = history.metrics_of(list(dict.fromkeys(ids)))
    checks = history.checks_of([new.id, ref.id])
    out.findings.extend(_checks(new.series, ref, new, checks[ref.id], checks[new.id]))
    same_inputs = (
        new.image_sha256 is not None and new.image_sha256 == ref.image_sha256 and new.target_sha256 == ref.target_sha256
    )
    for name, metric in sorted(m[new.id].items()):
        finding: Finding | None
        if metric.kind == EXACT:
            old = m[ref.id].get(name)
            if old is None:
                continue
            finding = judge_exact(new.series, name, old, metric, same_inputs, ref.run_id)
        elif not new.ok:  # a failed boot's times say nothing about speed
            continue
        else:
            streak = [m[b.id][name].value for b in reversed(streak_boots) if name in m[b.id]]
            base = [m[b.id][name].value for b in noisy_base if name in m[b.id]]
            finding = judge_noisy(new.series, name, metric.unit, base, streak + [metric.value], rule)
        out.judged += 1
        if finding is not None:
            out.findings.append(finding)

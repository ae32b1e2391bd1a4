"""The report's modeled-boot section: the MODELED armStone unpack of the seed's sizes,
stock seL4 elfloader against early MMU + set/way, as a `systemd-analyze plot`-style
timeline of what the board time is made of.

Where the numbers come from: the counts shipped in bench/counts/ (the routes table's
data, made by `bench/sel4_routes.py --save-counts`), priced now by the current profile
with harness.board_time.model() -- the function the routes table prices with -- so the
figure and the table can never disagree, and no figure is stored.

What a "phase" is, honestly: the cache model counts the whole window and the model
prices kinds of work (uncached data, uncached fetches, cached copy, maintenance), not
moments. So the phases are the model's own components, split further only where the
model is linear in a finer count: data by the target the plugin attributed it to
(archive reads, unpack writes, stack, ...), maintenance by VA per operation, set/way
into its operations and its write-backs. Each split is priced by model() itself on the
part's counts alone, and whatever a split leaves over is kept as a phase of its own,
so the phases always add up to the route's total. They are laid end to end: the order
is not the order they happen in (they interleave throughout the window).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from ...coherence import AccessCounts, Counts, TargetCounts
from ...coherence.plugin_report import CoherenceReport, ReportError
from ...errors import HarnessError
from ...board_time import SETWAY_OPS, Band, band, model
from ...profile import Profile, load_profile
from .. import plots
from ..plots.boot_timeline import RoutePhases, boot_timeline_svg
from .markup import esc

#: The shipped counts, beside the package in a checkout.
COUNTS = Path(__file__).resolve().parents[3] / "bench" / "counts"
MANIFEST = "manifest.json"
PROFILE = "imx8mp-armstone"
STOCK, PATCHED = "stock", "early MMU + set/way"
REGENERATE = ".venv/bin/python bench/sel4_routes.py --sizes 6,596 --save-counts bench/counts"
RESTORE = f"restore it (git checkout -- bench/counts) or regenerate it: {REGENERATE}"

#: What each of the plugin's target classes is, in the order the phases list them.
TARGETS = {
    "source": "archive reads",
    "dest": "unpack writes (copy + zeroing)",
    "stack": "stack",
    "loader": "loader's own data",
    "other": "other addresses",
}
_NONE = AccessCounts({}, {})


@dataclass(frozen=True)
class ShippedRun:
    """One route at one size, as shipped: its counts and when they were made."""

    route: str
    mb: float
    counts: Counts
    counted: str
    window: str


def load_shipped(where: Path = COUNTS) -> dict[float, dict[str, ShippedRun]]:
    """Every size's routes from `where`/manifest.json; one HarnessError naming the file,
    the field and the fix for anything missing or unreadable."""
    path = where / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError("no manifest of the shipped counts", file=path, fix=RESTORE) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"unreadable: {exc}", file=path, fix=RESTORE) from None
    if not isinstance(manifest, dict):
        raise HarnessError("not a JSON object", file=path, fix=RESTORE)
    out: dict[float, dict[str, ShippedRun]] = {}
    for size, routes in manifest.items():
        if size.startswith("_"):
            continue
        try:
            mb = float(size)
        except ValueError:
            raise HarnessError("not a size in MB", file=path, field=size, fix=RESTORE) from None
        if not isinstance(routes, dict) or not all(isinstance(f, str) for f in routes.values()):
            raise HarnessError("not a mapping of route to counts file", file=path, field=size, fix=RESTORE)
        out[mb] = {route: _run(where / file, route, mb) for route, file in routes.items()}
    if not out:
        raise HarnessError("no size listed", file=path, fix=RESTORE)
    return out


def _run(path: Path, route: str, mb: float) -> ShippedRun:
    try:
        rep = CoherenceReport.load(path)
    except ReportError as exc:
        raise HarnessError(f"counts of '{route}' at {mb:g} MB: {exc}", file=path, fix=RESTORE) from None
    for key in ("_counted", "_window"):
        if not isinstance(rep.raw.get(key), str):
            raise HarnessError("missing (not a shipped routes' counts file)", file=path, field=key, fix=RESTORE)
    return ShippedRun(route, mb, rep.counts, str(rep.raw["_counted"]), str(rep.raw["_window"]))


def _alone(loads: AccessCounts = _NONE, stores: AccessCounts = _NONE, cmo: Mapping[str, int] | None = None) -> Counts:
    """Counts of nothing but these accesses or operations: model() prices a part of a window."""
    return Counts(0, 0, 0, loads, stores, dict(cmo or {}))


def _data(part: str, targets: Mapping[str, TargetCounts], prof: Profile) -> list[tuple[str, float]]:
    """`part` ("uncached data" / "cached data") per target class, each priced alone."""
    order = [t for t in TARGETS if t in targets] + sorted(set(targets) - set(TARGETS))
    return [
        (f"{part}: {TARGETS.get(t, t)}", model(_alone(targets[t].loads, targets[t].stores), prof).parts[part])
        for t in order
    ]


def _by_op(part: str, label: str, ops: Mapping[str, int], prof: Profile) -> list[tuple[str, float]]:
    """`part` per maintenance operation, each priced alone."""
    return [
        (f"{label}: {op.replace('_', ' ')} \u00d7{n}", model(_alone(cmo={op: n}), prof).parts[part])
        for op, n in sorted(ops.items())
        if n
    ]


def _split(part: str, counts: Counts, prof: Profile) -> list[tuple[str, float]]:
    """The finer phases of one model component (none when it has no finer count)."""
    if part in ("uncached data", "cached data"):
        return _data(part, counts.by_target, prof)
    if part == "cache maintenance":
        return _by_op(part, part, {op: n for op, n in counts.cmo.items() if op not in SETWAY_OPS}, prof)
    if part == "set/way maintenance":  # the operations alone; the rest is their write-backs
        return _by_op(part, "set/way ops", {op: n for op, n in counts.cmo.items() if op in SETWAY_OPS}, prof)
    return []


def _rest(part: str, seconds: float, prof: Profile) -> str:
    """What is left of `part` after its finer phases: a set/way sweep's write-backs, or time
    the plugin attributed to no target."""
    if part == "set/way maintenance" and prof.writeback_line_s > 0:
        return f"set/way write-backs: {seconds / prof.writeback_line_s:.0f} dirty lines"
    return f"{part}: not attributed"


def phases(counts: Counts, prof: Profile) -> list[tuple[str, float]]:
    """(phase, modeled seconds) in the model's order of components, zero phases left out;
    they add up to model(counts, prof).total_s."""
    out: list[tuple[str, float]] = []
    for part, seconds in model(counts, prof).parts.items():
        finer = [(name, s) for name, s in _split(part, counts, prof) if s > 0]
        rest = seconds - sum(s for _, s in finer)
        if abs(rest) > 1e-9 * max(seconds, 1e-12):
            finer.append((_rest(part, rest, prof) if finer else part, rest))
        out.extend(finer)
    check_sum(out, model(counts, prof).total_s)
    return out


def check_sum(parts: list[tuple[str, float]], total: float) -> None:
    """The phases must be the whole route: a split that lost or invented time is a defect."""
    negative = [name for name, s in parts if s < 0]
    if negative:
        raise HarnessError(
            f"phase '{negative[0]}' has negative modeled time (its split priced more than the whole component)",
            field="boot timeline phases",
            fix="split a component only by counts the model is linear in (harness/history/report/boot_timeline.py)",
        )
    drawn = sum(s for _, s in parts)
    if abs(drawn - total) > 1e-9 * total:
        raise HarnessError(
            f"the phases add up to {drawn:.6g} s, the route's modeled total is {total:.6g} s",
            field="boot timeline phases",
            fix="every model component must be a phase (harness/history/report/boot_timeline.py)",
        )


def route_phases(run: ShippedRun, prof: Profile) -> RoutePhases:
    """One route's phases, its modeled total and its band over the profile's ranges."""
    b: Band = band(run.counts, prof)
    return RoutePhases(run.route, run.mb, tuple(phases(run.counts, prof)), b.nominal, b.low, b.high)


@dataclass(frozen=True)
class ModeledBoot:
    """One size's figure: both routes, when their counts were made, what window they count."""

    stock: RoutePhases
    patched: RoutePhases
    counted: str
    window: str


def boot_timelines(where: Path = COUNTS, profile: str = PROFILE) -> list[ModeledBoot]:
    """Stock against early MMU + set/way for every shipped size, the largest first."""
    shipped, prof = load_shipped(where), load_profile(profile)
    out = []
    for mb, runs in sorted(shipped.items(), reverse=True):
        missing = [r for r in (STOCK, PATCHED) if r not in runs]
        if missing:
            raise HarnessError(
                f"no '{missing[0]}' route at {mb:g} MB", file=where / MANIFEST, field=f"{mb:g}", fix=RESTORE
            )
        counted = max(runs[STOCK].counted, runs[PATCHED].counted)
        out.append(
            ModeledBoot(route_phases(runs[STOCK], prof), route_phases(runs[PATCHED], prof), counted, runs[STOCK].window)
        )
    return out


def boot_timeline_section(figs: plots.Deferred, where: Path = COUNTS, profile: str = PROFILE) -> str:
    """The section's HTML; says plainly when the shipped counts are not there or broken."""
    if not (where / MANIFEST).is_file():
        return (
            f"<p>No modeled boot timeline: <code>{esc(str(where / MANIFEST))}</code> is not here "
            f"(the routes' shipped counts). Make them with <code>{esc(REGENERATE)}</code>.</p>"
        )
    try:
        drawn = boot_timelines(where, profile)
    except HarnessError as exc:
        return f"<p class=note>No modeled boot timeline: {esc(str(exc))}</p>"
    parts = [_intro(profile, drawn[0].window)]
    for b in drawn:
        svg = figs.add(boot_timeline_svg, b.stock, b.patched, profile, b.counted, f"modeled-boot-{b.stock.mb:g}")
        parts.append(
            f'<figure class="modeled-boot" data-mb="{b.stock.mb:g}">{svg}<figcaption>'
            f"MODELED on {esc(profile)} from counts of {esc(b.counted)}, not a measurement: "
            f"{esc(_totals(b.stock))}; {esc(_totals(b.patched))}.</figcaption></figure>"
        )
    return "\n".join(parts)


def _totals(r: RoutePhases) -> str:
    return (
        f"{r.route} {plots.fmt_value(r.total_s, 's')} (band {plots.fmt_value(r.low_s, 's')}"
        f"\u2013{plots.fmt_value(r.high_s, 's')})"
    )


def _intro(profile: str, window: str) -> str:
    return (
        "<p>Where the board time of seL4's elfloader goes, <b>MODELED</b> (profile "
        f"<code>{esc(profile)}</code>), stock loader against the early-MMU patch closing its window "
        "by set/way, sel4test at the seed's sizes. Source: the cache model's counts shipped in "
        f"<code>bench/counts/</code> (<code>{esc(REGENERATE)}</code>), priced now by the profile, "
        "as <code>bench/sel4_routes.py --counts bench/counts</code> prices its table. Counting "
        f"window: {esc(window)}; the hand-off after it is not priced.</p>"
        "<p class=note>The model prices kinds of work over the whole window, not moments: each bar "
        "is one priced component (data split by what it touched, maintenance by operation), laid "
        "end to end so the bars add up to the total; their order is not the order they happen in. "
        "The patched route gets its own panel and axis, zoomed: on the stock axis it is a sliver "
        "(drawn there too, to scale). A log axis would stop bar lengths being durations.</p>"
    )

"""Cache-coherence checks over the plugin's report, named by image and segment.

QEMU has no caches, so these are the only checks that see a missing clean or
invalidate. Each hazard kind feeds exactly one check, so a loader with one
defect fails exactly one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..boot import BootResult
from .check import Check
from ..payload import Payload
from ..coherence import CoherenceReport, Hazard

if TYPE_CHECKING:
    from ..phases import Timeline

# check name -> (hazard kinds, what the check promises)
COHERENCE_CHECKS: dict[str, tuple[tuple[str, ...], str]] = {
    "cache-clean": (
        ("dirty-at-disable", "partial-clean", "dirty-at-handoff", "discarded-dirty", "valid-at-close"),
        "no dirty line when the caches go off or at the hand-off; nothing the "
        "loader's window wrote still cached when it closes",
    ),
    "cache-store-order": (("store-after-clean",), "no store between a clean and the cache disable"),
    "icache": (("stale-icache",), "I-cache invalidated for written code"),
    "device-mapping": (("device-normal",), "no device access through Normal memory"),
    "cache-stale": (
        ("stale-clean-line", "stale-walk", "stale-at-handoff"),
        "no stale cached copy (memory written uncached under a valid line) read, "
        "written, walked or left for a kernel entered with the D-cache on",
    ),
    "page-walk": (("walk-failed",), "every translation of the loader's accesses walked by the model"),
    "barriers": (
        ("maintenance-incomplete", "no-isb", "tlb-stale", "setway-unordered"),
        "cache/TLB maintenance completed by a dsb before the MMU/caches change, the "
        "window's end and the hand-off; SCTLR/TTBR/TCR/MAIR writes and TLB invalidates "
        "synchronised (isb) before they are relied on or handed on; the TLB invalidated "
        "before the MMU goes on; stores ordered before a set/way sweep",
    ),
}

#: Hazards judged only when the loader's own code caused them: firmware and
#: U-Boot before it keep their grace (they may probe flash through Normal
#: mappings, run their own tables, order their own barriers).
LOADER_ONLY: tuple[str, ...] = (
    "device-normal",
    "walk-failed",
    "maintenance-incomplete",
    "no-isb",
    "tlb-stale",
    "setway-unordered",
)


def _ranges(h: Hazard, payload: Payload, tl: "Timeline | None" = None) -> str:
    parts = []
    for start, end in h.ranges[:4]:
        parts.append(f"[{start:#x}..{end:#x}) in {payload.locate(start, tl)}")
    more = f" and {len(h.ranges) - 4} more ranges" if len(h.ranges) > 4 else ""
    return ", ".join(parts) + more


def _executable_spans(payload: Payload) -> list[tuple[int, int]]:
    return [(s.paddr, s.end) for img in payload.images for s in img.segments if s.executable]


def _minus(h: Hazard, covered: list[tuple[int, int]], line: int) -> Hazard | None:
    """`h` without the lines another, more specific hazard already explains."""
    if not covered:
        return h
    keep = []
    for s, e in h.ranges:
        cuts = sorted((max(s, a), min(e, b)) for a, b in covered if max(s, a) < min(e, b))
        pos = s
        for a, b in cuts:
            if pos < a:
                keep.append((pos, a))
            pos = max(pos, b)
        if pos < e:
            keep.append((pos, e))
    return h.clipped(keep, line) if keep else None


def relevant(report: CoherenceReport, payload: Payload, kind: str) -> list[Hazard]:
    """Hazards of `kind` that concern this payload.

    stale-icache only matters for code (executable segments); a dirty line
    already reported as stored-after-clean is that hazard, not a second one;
    device accesses before the loader runs (firmware probing flash) are not
    the loader's.
    """
    found = report.hazards_of(kind)
    if kind == "stale-icache":
        spans = _executable_spans(payload)
        found = [c for h in found if (c := h.clipped(spans, report.line_size)) is not None]
    elif kind in ("dirty-at-disable", "dirty-at-handoff"):
        covered = [r for h in report.hazards_of("store-after-clean") for r in h.ranges]
        found = [c for h in found if (c := _minus(h, covered, report.line_size)) is not None]
    elif kind in LOADER_ONLY:
        lo, hi = payload.loader.span
        found = [h for h in found if lo <= h.pc < hi]
    return found


def describe(h: Hazard, payload: Payload, tl: "Timeline | None" = None) -> str:
    """One hazard in words: kind, what the plugin saw, lines and ranges, VA, PC."""
    parts = [f"{h.kind}:"]
    if h.detail:
        parts.append(h.detail + ";")
    if h.ranges:
        parts.append(f"{h.lines} line(s) {_ranges(h, payload, tl)};")
    if h.va is not None:
        parts.append(f"va={h.va:#x}")
    parts.append(f"pc={h.pc:#x} ({payload.locate(h.pc, tl)})")
    return " ".join(parts)


def unjudged_devices(report: CoherenceReport, payload: Payload) -> list[Hazard]:
    """The loader's accesses outside RAM whose walk failed: device-mapping cannot
    say whether they went through a Normal mapping."""
    ram = report.raw.get("ram") or [0, 0]
    return [h for h in relevant(report, payload, "walk-failed") if any(not (ram[0] <= s < ram[1]) for s, _ in h.ranges)]


#: Hazards named per kind in a check's message (one defect can touch many PCs).
SHOWN = 4


def _check(name: str) -> Callable[[BootResult], Check]:
    kinds, promise = COHERENCE_CHECKS[name]

    def run(r: BootResult) -> Check:
        report = r.extras.get("coherence")
        if not isinstance(report, CoherenceReport):
            return Check(name, "skip", "no cache-model report (boot without --coherence)")
        problems = []
        for kind in kinds:
            found = relevant(report, r.payload, kind)
            problems += [describe(h, r.payload, r.timeline) for h in found[:SHOWN]]
            if len(found) > SHOWN:
                problems.append(f"{kind}: and {len(found) - SHOWN} more PC(s)")
        if problems:
            return Check(name, "fail", "; ".join(problems))
        if not report.handoff_seen:
            return Check(name, "fail", "the cache model never saw the kernel entry (hand-off)")
        blind = unjudged_devices(report, r.payload) if name == "device-mapping" else []
        if blind:
            return Check(
                name,
                "skip",
                "cannot judge "
                + ", ".join(f"the access at pc={h.pc:#x} va={h.va or 0:#x}" for h in blind[:4])
                + ": its page walk failed (see the page-walk check)",
            )
        return Check(name, "pass", promise)

    run.__doc__ = promise
    return run


def _all_checks() -> dict[str, Callable[[BootResult], Check]]:
    from .promise import PROMISE_CHECKS

    return {**{name: _check(name) for name in COHERENCE_CHECKS}, **PROMISE_CHECKS}


#: The hazard checks, then the checks of what an early-MMU loader promises (promise.py).
CHECKS: dict[str, Callable[[BootResult], Check]] = _all_checks()

"""Checks of what an early-MMU loader promises, beyond "no hazard".

A loader that announces caching for its unpack (seL4's patched loader: the
console line ``Early MMU: caches on for unpack``; our reference loader:
``@h mode early-mmu``) promises two things the hazard checks cannot see:

- ``unpack-cached``: the unpack really is cached. DRAM mapped write-through,
  Non-cacheable or Device, a MAIR left at its reset value (everything Device)
  or an SCTLR enable that never happened are all coherent, only as slow as
  the MMU-off loader: the window's destination stores and source loads must
  go through Normal write-back with the D-cache on.
- ``maintenance-coverage``: its maintenance covers what it must on every
  input, not only the lines this boot happened to touch: the final clean to
  PoC covers every destination and the loader's own writable range, and the
  invalidate before the caches go on covers the writable range.

A loader that promises nothing (seL4's stock loader, our ``mmu-off`` mode, the
announced fallback) is not judged by them: they skip, saying why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from ..boot import BootResult
from .check import Check
from ..coherence import CoherenceReport

if TYPE_CHECKING:
    from ..phases import Timeline

__all__ = ["PROMISE_CHECKS", "cache_promise", "check_coverage", "check_unpack_cached", "missed"]

#: The share of the window's destination stores and source loads that may go
#: through something other than Normal write-back before unpack-cached fails:
#: the clean patch and the reference early-mmu build have none (the window's
#: few MMU-off accesses, before the enable and after the disable, hit the loader's
#: own image, not the archive or a destination).
MAX_UNCACHED_SHARE = 0.01

WRITABLE_WORDS = "_writable_start.._writable_end, _archive_end.._end"

WRITABLE_WORDS = "_writable_start.._writable_end, _archive_end.._end"

ATTRIBUTE_WORDS = {
    "wt": "Normal write-through",
    "nc": "Normal Non-cacheable",
    "device": "Device",
    "mmu-off": "the MMU off",
    "dcache-off": "the MMU on with the D-cache off (SCTLR.C clear)",
    "unknown": "mappings the model could not walk",
}


def cache_promise(tl: "Timeline") -> tuple[str | None, str]:
    """(what the loader announced, or None; why not, when None)."""
    if tl.first("earlymmu.on") is not None:
        return "'Early MMU: caches on for unpack'", ""
    off = tl.first("earlymmu.off")
    if off is not None:
        return None, f"the loader announced its MMU-off fallback ({off.fields.get('reason', '?')})"
    for rec in tl.records:
        if rec.kind == "mode" and rec.words:
            if rec.words[0] == "early-mmu":
                return "'@h mode early-mmu'", ""
            return None, f"the loader announced mode {rec.words[0]!r}, which promises no caching"
    return None, "the loader promises no cached unpack (no early-MMU announcement)"


def _report(r: BootResult, name: str) -> tuple[CoherenceReport | None, str | None, Check | None]:
    report = r.extras.get("coherence")
    if not isinstance(report, CoherenceReport):
        return None, None, Check(name, "skip", "no cache-model report (boot without --coherence)")
    promise, why = cache_promise(r.timeline)
    if promise is None:
        return report, None, Check(name, "skip", why)
    return report, promise, None


def _share(by_attr: dict[str, int]) -> tuple[int, int, str | None]:
    """(accesses, those not write-back, the most common other attribute)."""
    total = sum(by_attr.values())
    other = {a: n for a, n in by_attr.items() if a != "wb" and n}
    worst = max(other, key=lambda a: other[a]) if other else None
    return total, sum(other.values()), worst


def check_unpack_cached(r: BootResult) -> Check:
    """The window's destination stores and source loads go through Normal write-back
    with the D-cache on, when the loader promised a cached unpack."""
    name = "unpack-cached"
    report, promise, early = _report(r, name)
    if early is not None or report is None:
        return early or Check(name, "skip", "no report")
    split = report.counts.by_target
    parts = [
        ("destination stores", split["dest"].stores_by_attr if "dest" in split else {}),
        ("source (archive) loads", split["source"].loads_by_attr if "source" in split else {}),
    ]
    if not all(by for _, by in parts):
        return Check(
            name,
            "fail",
            f"the loader announced {promise}, but the cache-model report has "
            "no per-attribute split of the window's destination stores and source loads "
            "(a plugin older than the check: rebuild it)",
        )
    problems = []
    for what, by in parts:
        total, other, worst = _share(dict(by))
        if total == 0:
            problems.append(f"no {what} in the window")
        elif worst is not None and other > MAX_UNCACHED_SHARE * total:
            shares = ", ".join(
                f"{ATTRIBUTE_WORDS.get(a, a)} {100 * n / total:.1f} %"
                for a, n in sorted(by.items(), key=lambda x: -x[1])
                if a != "wb" and n
            )
            problems.append(
                f"{100 * other / total:.1f} % of the {total} {what} went through "
                f"{ATTRIBUTE_WORDS.get(worst, worst)}, not Normal write-back ({shares})"
            )
    if problems:
        return Check(name, "fail", f"the loader announced {promise}: " + "; ".join(problems))
    return Check(
        name,
        "pass",
        f"the loader announced {promise}: the window's destination stores "
        "and source loads went through Normal write-back with the D-cache on",
    )


Span = tuple[int, int]


def missed(want: Span, have: "list[Span] | tuple[Span, ...]", line: int) -> list[Span]:
    """The line-aligned parts of `want` that no range of `have` covers."""
    mask = line - 1
    pos, end = want[0] & ~mask, (want[1] + mask) & ~mask
    out: list[Span] = []
    for s, e in sorted(have):
        if e <= pos:
            continue
        if s >= end:
            break
        if s > pos:
            out.append((pos, s))
        pos = max(pos, e)
        if pos >= end:
            break
    if pos < end:
        out.append((pos, end))
    return out


def _promised(r: BootResult) -> tuple[list[tuple[str, Span]], list[tuple[str, Span]]]:
    """(what the final clean must cover, what the invalidate before the enable must),
    each as (words, [start, end))."""
    from ..errors import HarnessError
    from ..qemu.verify import image_offsets
    from ..coherence.window import loader_writable

    clean: list[tuple[str, Span]] = []
    inval: list[tuple[str, Span]] = []
    own = loader_writable(r.payload)
    if own is not None:
        words = f"the loader's writable range ({own[0]})"
        clean.append((words, own[1]))
        inval.append((words, own[1]))
    try:
        offsets = image_offsets(r.payload, r.timeline)
    except HarnessError:
        offsets = {}
    for img in r.payload.images:
        if img.name not in offsets:
            continue
        for i, seg in enumerate(img.segments):
            if seg.memsz:
                start = seg.paddr + offsets[img.name]
                clean.append((f"image '{img.name}' segment {i}", (start, start + seg.memsz)))
    # The DTB copy is left out: the console prints the page-rounded room reserved for
    # it, not the bytes copied, so its promised extent is not known here.
    return clean, inval


def _first_gap(
    promised: list[tuple[str, Span]], have: tuple[Span, ...], line: int
) -> tuple[str, Span, Span, int] | None:
    """(words, promised range, first missed range, lines missed in all) or None."""
    first: tuple[str, Span, Span] | None = None
    lines = 0
    for words, want in promised:
        gaps = missed(want, have, line)
        lines += sum((e - s) // line for s, e in gaps)
        if gaps and first is None:
            first = (words, want, gaps[0])
    return None if first is None else (*first, lines)


def check_coverage(r: BootResult) -> Check:
    """The final clean to PoC covers every destination and the loader's writable range;
    the invalidate before the caches go on covers the writable range (a line missed is a
    defect on another input even when this boot never wrote it)."""
    name = "maintenance-coverage"
    report, promise, early = _report(r, name)
    if early is not None or report is None:
        return early or Check(name, "skip", "no report")
    if not report.has_maintained:
        return Check(
            name,
            "fail",
            f"the loader announced {promise}, but the cache-model report "
            "does not record the loader's maintenance (a plugin older than the check)",
        )
    clean, inval = _promised(r)
    if not inval:
        return Check(
            name,
            "fail",
            f"the loader announced {promise}, but its writable range is "
            f"unknown: none of the symbol pairs {WRITABLE_WORDS} is in the loader's ELF",
        )
    problems, deferred = [], []
    for what, promised, have, setway, check in (
        ("the final clean to PoC by VA", clean, report.cleaned, report.setway_cleaned, "cache-clean"),
        (
            "the invalidate by VA before the caches go on",
            inval,
            report.invalidated,
            report.setway_invalidated,
            "cache-stale",
        ),
    ):
        gap = None if setway else _first_gap(promised, have, report.line_size)
        if gap is None:
            continue
        words, want, (s, e), lines = gap
        if _shown_by_hazard(report, promised, have, check):
            deferred.append(f"{what} misses lines that are already {check}'s hazards")
            continue
        problems.append(
            f"{what} misses [{s:#x}..{e:#x}) ({(e - s) // report.line_size} line(s)) of "
            f"{words} [{want[0]:#x}..{want[1]:#x}) ({lines} line(s) missed in all)"
        )
    if problems:
        return Check(name, "fail", f"the loader announced {promise}: " + "; ".join(problems))
    if deferred:
        return Check(
            name, "pass", f"the loader announced {promise}: " + "; ".join(deferred) + " (that check names the defect)"
        )
    return Check(
        name,
        "pass",
        f"the loader announced {promise}: its final clean covers "
        f"{len(clean)} range(s) (every destination and its writable range), its "
        "invalidate before the enable covers its writable range",
    )


#: The hazard kinds through which a missed clean / invalidate shows in this boot.
SHOWN_AS: dict[str, tuple[str, ...]] = {
    "cache-clean": ("dirty-at-disable", "partial-clean", "dirty-at-handoff", "discarded-dirty"),
    "cache-stale": ("stale-clean-line", "stale-walk", "stale-at-handoff"),
}


def _shown_by_hazard(
    report: CoherenceReport, promised: list[tuple[str, Span]], have: tuple[Span, ...], check: str
) -> bool:
    """Did this boot already show the gap as a hazard (a missed line that is dirty or
    stale)? Then that check names the defect, and this one does not name it twice."""
    shown = [r for kind in SHOWN_AS[check] for r in report.ranges_of(kind)]
    for _, want in promised:
        for gap in missed(want, have, report.line_size):
            if any(max(gap[0], s) < min(gap[1], e) for s, e in shown):
                return True
    return False


#: Checks of the loader's promise (not of a hazard kind): they skip for a loader
#: that promises no cached unpack.
PROMISE_CHECKS: dict[str, Callable[[BootResult], Check]] = {
    "unpack-cached": check_unpack_cached,
    "maintenance-coverage": check_coverage,
}

"""The cache model's JSON report, read and validated.

The plugin writes one JSON file per run (its format is in the package
docstring); checks and the timing model must not each pick through raw JSON.
This module turns a report into frozen types (``CoherenceReport``,
``Hazard``, ``Counts``, ``AccessCounts``, ``TargetCounts``), raising
``ReportError`` that names the field when one is missing or of the wrong
type, and accepts the fields added after version 1 as optional.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = [
    "HAZARD_KINDS",
    "START_STATES",
    "TARGETS",
    "AccessCounts",
    "CoherenceReport",
    "Counts",
    "Hazard",
    "ReportError",
    "TargetCounts",
]

#: Every kind the plugin can report, in its order.
HAZARD_KINDS: tuple[str, ...] = (
    "dirty-at-disable",
    "partial-clean",
    "dirty-at-handoff",
    "stale-icache",
    "stale-clean-line",
    "store-after-clean",
    "device-normal",
    "handoff-state",
    "discarded-dirty",
    "walk-failed",
    "stale-walk",
    "stale-at-handoff",
    "maintenance-incomplete",
    "no-isb",
    "tlb-stale",
    "valid-at-close",
    "setway-unordered",
)

#: Start states of the model's caches: "cold" (empty) or "warm" (firmware left
#: valid clean lines over the given ranges, as the arm64 boot protocol allows).
START_STATES: tuple[str, ...] = ("cold", "warm")

ACCESS_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16)

#: Where the window's accesses went, most specific first (plugin order).
TARGETS: tuple[str, ...] = ("source", "stack", "loader", "dest", "other")

#: What a data access went through: Normal write-back, write-through, Non-cacheable,
#: Device, the MMU off, the MMU on with SCTLR.C clear, or a walk the model could not do.
ATTRIBUTES: tuple[str, ...] = ("wb", "wt", "nc", "device", "mmu-off", "dcache-off", "unknown")


class ReportError(ValueError):
    """A report file is missing, unreadable or lacks a required field."""


@dataclass(frozen=True)
class Hazard:
    """One hazard: a kind at one PC, with the physical lines it concerns.

    ``ranges`` are coalesced [start, end) physical ranges; ``count`` is how
    many times it happened.  ``sctlr``/``el`` are set for handoff-state only;
    ``va`` (the first virtual address) for walk-failed; ``detail`` says what
    the barrier hazards saw (the operation or register, and where it mattered).
    """

    kind: str
    ranges: tuple[tuple[int, int], ...]
    lines: int
    pc: int
    count: int
    sctlr: int | None = None
    el: int | None = None
    va: int | None = None
    detail: str | None = None

    def clipped(self, spans: Iterable[tuple[int, int]], line_size: int) -> Hazard | None:
        """This hazard restricted to ``spans`` (e.g. executable segments).

        Used to keep only what concerns an image: stale-icache reports every
        line written since the last I-cache invalidate, code or data.
        Returns None when nothing is left.
        """
        out: list[tuple[int, int]] = []
        for s, e in self.ranges:
            for a, b in spans:
                lo, hi = max(s, a), min(e, b)
                if lo < hi:
                    out.append((lo, hi))
        if not out:
            return None
        out.sort()
        merged: list[tuple[int, int]] = [out[0]]
        for s, e in out[1:]:
            if s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        mask = line_size - 1
        lines = sum(((e + mask) & ~mask) - (s & ~mask) for s, e in merged) // line_size
        return Hazard(self.kind, tuple(merged), lines, self.pc, self.count, self.sctlr, self.el, self.va, self.detail)


@dataclass(frozen=True)
class AccessCounts:
    """Data accesses by size in bytes, split by cacheability."""

    cacheable: Mapping[int, int]
    uncached: Mapping[int, int]

    def total(self) -> int:
        """All accesses, both kinds, every size."""
        return sum(self.cacheable.values()) + sum(self.uncached.values())


@dataclass(frozen=True)
class TargetCounts:
    """The window's data accesses to one target class (dest, source, stack...)."""

    loads: AccessCounts
    stores: AccessCounts
    ranges: tuple[tuple[int, int], ...] = ()
    #: accesses by the attribute they went through (ATTRIBUTES); empty in older reports
    loads_by_attr: Mapping[str, int] = field(default_factory=dict)
    stores_by_attr: Mapping[str, int] = field(default_factory=dict)

    def total(self) -> int:
        return self.loads.total() + self.stores.total()


@dataclass(frozen=True)
class Counts:
    """What the guest did inside the counting window, for the timing model.

    ``by_target`` is empty for reports from before the per-target split.
    """

    insns: int
    ifetch_cacheable: int
    ifetch_uncached: int
    loads: AccessCounts
    stores: AccessCounts
    cmo: Mapping[str, int]
    by_target: Mapping[str, TargetCounts] = field(default_factory=dict)


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Fetch a required field with its type, or raise ReportError naming it."""
    if key not in obj:
        raise ReportError(f"{where}: missing field '{key}'")
    value = obj[key]
    if isinstance(value, bool) and kind is int:
        raise ReportError(f"{where}: field '{key}' is not {kind.__name__}")
    if not isinstance(value, kind):
        raise ReportError(f"{where}: field '{key}' has the wrong type ({type(value).__name__})")
    return value


def _hex_or_none(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReportError(f"{where}: field '{key}' is not a hex string")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise ReportError(f"{where}: field '{key}' is not a hex string") from exc


def _access_counts(obj: Mapping[str, Any], where: str) -> AccessCounts:
    parts: dict[str, dict[int, int]] = {}
    for part in ("cacheable", "uncached"):
        sizes = _field(obj, part, dict, where)
        parts[part] = {size: _field(sizes, str(size), int, f"{where}.{part}") for size in ACCESS_SIZES}
    return AccessCounts(parts["cacheable"], parts["uncached"])


def _by_target(c: Mapping[str, Any], where: str) -> dict[str, TargetCounts]:
    """The optional per-target split (absent in older reports)."""
    raw = c.get("by_target")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: field 'by_target' is not an object")
    out: dict[str, TargetCounts] = {}
    for name, t in raw.items():
        tw = f"{where}.by_target.{name}"
        if not isinstance(t, dict):
            raise ReportError(f"{tw}: not an object")
        ranges = tuple((int(r[0]), int(r[1])) for r in t.get("ranges", []))
        attrs = [_by_attr(t, f"{part}_by_attr", tw) for part in ("loads", "stores")]
        out[name] = TargetCounts(
            _access_counts(_field(t, "loads", dict, tw), f"{tw}.loads"),
            _access_counts(_field(t, "stores", dict, tw), f"{tw}.stores"),
            ranges,
            attrs[0],
            attrs[1],
        )
    return out


def _by_attr(t: Mapping[str, Any], key: str, where: str) -> dict[str, int]:
    """One target's accesses by attribute (absent in older reports: empty)."""
    raw = t.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: field '{key}' is not an object")
    return {a: _field(raw, a, int, f"{where}.{key}") for a in ATTRIBUTES}


def _optional_int(obj: Mapping[str, Any], key: str, where: str) -> int:
    """A count added after version 1 first shipped: 0 when absent."""
    return _field(obj, key, int, where) if key in obj else 0


def _start_state(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The caches' start state (absent in older reports: cold)."""
    start = data.get("start", "cold")
    if start not in START_STATES:
        raise ReportError(f"{where}: field 'start' is {start!r}, not one of {', '.join(START_STATES)}")
    warm = []
    for r in data.get("warm", []):
        if not isinstance(r, list) or len(r) != 2 or not all(isinstance(x, int) for x in r):
            raise ReportError(f"{where}: bad warm range {r!r}")
        warm.append((int(r[0]), int(r[1])))
    iwarm = []
    for r in data.get("iwarm", []):
        if not isinstance(r, list) or len(r) != 2 or not all(isinstance(x, int) for x in r):
            raise ReportError(f"{where}: bad iwarm range {r!r}")
        iwarm.append((int(r[0]), int(r[1])))
    return {"start": start, "warm": tuple(warm), "iwarm": tuple(iwarm)}


def _spans(raw: Any, key: str, where: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(raw, list):
        raise ReportError(f"{where}: field 'maintained.{key}' is not a list")
    out = []
    for r in raw:
        if not isinstance(r, list) or len(r) != 2 or not all(isinstance(x, int) for x in r):
            raise ReportError(f"{where}: bad range {r!r} in 'maintained.{key}'")
        out.append((int(r[0]), int(r[1])))
    return tuple(out)


def _maintained(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The loader's maintenance by VA (absent in older reports)."""
    m = data.get("maintained")
    if m is None:
        return {}
    if not isinstance(m, dict):
        raise ReportError(f"{where}: field 'maintained' is not an object")
    return {
        "cleaned": _spans(m.get("clean", []), "clean", where),
        "invalidated": _spans(m.get("invalidate", []), "invalidate", where),
        "setway_cleaned": bool(m.get("setway_clean", False)),
        "setway_invalidated": bool(m.get("setway_invalidate", False)),
        "has_maintained": True,
    }


@dataclass(frozen=True)
class CoherenceReport:
    """The plugin's JSON report, validated.

    ``complete`` is true when the counting window ended (handoff seen, or no
    handoff PC was given and QEMU exited); a report that is not complete
    stopped before the kernel entry.
    """

    version: int
    line_size: int
    complete: bool
    handoff_seen: bool
    sctlr_at_handoff: int | None
    el_at_handoff: int | None
    hazards: tuple[Hazard, ...]
    counts: Counts
    begin_seen: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    end_seen: bool = False
    expect_handoff: str = "mmu-off"
    start: str = "cold"
    warm: tuple[tuple[int, int], ...] = ()
    iwarm: tuple[tuple[int, int], ...] = ()  # where the I-cache started with valid lines
    walks_failed: int = 0
    #: the loader's own maintenance by VA: lines cleaned to PoC before the window's end,
    #: lines invalidated with the D-cache off before the loader first turned it on
    cleaned: tuple[tuple[int, int], ...] = ()
    invalidated: tuple[tuple[int, int], ...] = ()
    #: a complete set/way clean (before the window's end) / invalidate (before the enable)
    setway_cleaned: bool = False
    setway_invalidated: bool = False
    #: False for reports from before the plugin recorded the loader's maintenance
    has_maintained: bool = False

    @property
    def handoff_pc(self) -> int | None:
        """The kernel entry the model watched for (from the report's window)."""
        pc = ((getattr(self, "raw", None) or {}).get("window") or {}).get("handoff_pc")
        return int(pc, 16) if isinstance(pc, str) else None

    @classmethod
    def load(cls, path: Path) -> CoherenceReport:
        """Read and validate a report; raises ReportError on anything missing."""
        where = str(path)
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise ReportError(f"{where}: no report (did QEMU load the plugin?)") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise ReportError(f"{where}: unreadable report: {exc}") from exc
        if not isinstance(data, dict):
            raise ReportError(f"{where}: not a JSON object")
        version = _field(data, "version", int, where)
        if version != 1:
            raise ReportError(f"{where}: unsupported report version {version}")
        hazards = []
        for i, h in enumerate(_field(data, "hazards", list, where)):
            hw = f"{where}: hazards[{i}]"
            if not isinstance(h, dict):
                raise ReportError(f"{hw}: not an object")
            kind = _field(h, "kind", str, hw)
            if kind not in HAZARD_KINDS:
                raise ReportError(f"{hw}: unknown kind '{kind}'")
            ranges = []
            for r in _field(h, "ranges", list, hw):
                if (
                    not isinstance(r, list)
                    or len(r) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in r)
                ):
                    raise ReportError(f"{hw}: bad range {r!r}")
                ranges.append((r[0], r[1]))
            pc = _hex_or_none(_field(h, "pc", str, hw), "pc", hw)
            assert pc is not None
            hazards.append(
                Hazard(
                    kind=kind,
                    ranges=tuple(ranges),
                    lines=_field(h, "lines", int, hw),
                    pc=pc,
                    count=_field(h, "count", int, hw),
                    sctlr=_hex_or_none(h.get("sctlr"), "sctlr", hw),
                    el=h.get("el") if isinstance(h.get("el"), int) else None,
                    va=_hex_or_none(h.get("va"), "va", hw),
                    detail=h["detail"] if isinstance(h.get("detail"), str) else None,
                )
            )
        c = _field(data, "counts", dict, where)
        cw = f"{where}: counts"
        cmo = _field(c, "cmo", dict, cw)
        counts = Counts(
            insns=_field(c, "insns", int, cw),
            ifetch_cacheable=_field(c, "ifetch_cacheable", int, cw),
            ifetch_uncached=_field(c, "ifetch_uncached", int, cw),
            loads=_access_counts(_field(c, "loads", dict, cw), f"{cw}.loads"),
            stores=_access_counts(_field(c, "stores", dict, cw), f"{cw}.stores"),
            cmo={k: _field(cmo, k, int, f"{cw}.cmo") for k in cmo},
            by_target=_by_target(c, cw),
        )
        window = _field(data, "window", dict, where)
        if "el_at_handoff" not in data or "sctlr_at_handoff" not in data:
            raise ReportError(f"{where}: missing field 'el_at_handoff' or 'sctlr_at_handoff'")
        el = data["el_at_handoff"]
        if el is not None and (not isinstance(el, int) or isinstance(el, bool)):
            raise ReportError(f"{where}: field 'el_at_handoff' is not an int")
        return cls(
            version=version,
            line_size=_field(data, "line_size", int, where),
            complete=_field(data, "complete", bool, where),
            handoff_seen=_field(data, "handoff_seen", bool, where),
            sctlr_at_handoff=_hex_or_none(data["sctlr_at_handoff"], "sctlr_at_handoff", where),
            el_at_handoff=el,
            hazards=tuple(hazards),
            counts=counts,
            begin_seen=_field(window, "begin_seen", bool, f"{where}: window"),
            raw=data,
            end_seen=bool(window.get("end_seen", False)),
            expect_handoff=str(data.get("expect_handoff", "mmu-off")),
            **_start_state(data, where),
            walks_failed=_optional_int(c, "walks_failed", cw),
            **_maintained(data, where),
        )

    def hazards_of(self, kind: str) -> list[Hazard]:
        """All hazards of one kind (one per PC), in PC order."""
        if kind not in HAZARD_KINDS:
            raise ValueError(f"unknown hazard kind {kind!r}; known: {', '.join(HAZARD_KINDS)}")
        return [h for h in self.hazards if h.kind == kind]

    def kinds(self) -> set[str]:
        """The hazard kinds present in the report."""
        return {h.kind for h in self.hazards}

    def ranges_of(self, kind: str) -> list[tuple[int, int]]:
        """The union of one kind's ranges over all its PCs, coalesced."""
        spans = sorted(r for h in self.hazards_of(kind) for r in h.ranges)
        merged: list[tuple[int, int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged

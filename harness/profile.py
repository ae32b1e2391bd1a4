"""Timing profiles: what each kind of access costs on a board, and how sure we are of it.

A profile prices the cache model's counts (harness/board_time.py). Every parameter says where
its value comes from (FITTED to the seed measurements, an ESTIMATE, or CITED) and the range
it may take on the board; the fitted uncached access cost is one fit per way the seed's
stock loader may have copied (4- or 8-byte units). Modeled figures are bands over these
ranges, so a profile that cannot say them is refused with the field to fix. An optional
`load:` section prices U-Boot's image load the same way (harness/load_time.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import HarnessError

__all__ = ["PROFILES", "KINDS", "PARAMETERS", "LOAD_PARAMETERS", "Parameter", "Alternative", "Profile", "load_profile"]

PROFILES = Path(__file__).resolve().parents[1] / "targets" / "profiles"


KINDS = ("FITTED", "ESTIMATE", "CITED")

#: The profile's parameters, in its order, and what a person reads them in.
PARAMETERS: dict[str, tuple[float, str]] = {
    "uncached_access_s": (1e9, "ns"),
    "uncached_ifetch_s": (1e9, "ns"),
    "cached_copy_bytes_per_s": (1e-9, "GB/s"),
    "cpu_hz": (1e-9, "GHz"),
    "cmo_line_s": (1e9, "ns"),
    "setway_op_s": (1e9, "ns"),
    "writeback_line_s": (1e9, "ns"),
    "dirty_capacity_lines": (1.0, "lines"),
}

#: The optional `load:` section: what U-Boot's image load costs on the board (load_time.py).
LOAD_PARAMETERS: dict[str, tuple[float, str]] = {
    "link_bits_per_s": (1e-6, "Mbit/s"),
    "tftp_round_trip_s": (1e3, "ms"),
    "tftp_block_bytes": (1.0, "bytes"),
    "tftp_window": (1.0, "blocks"),
    "uboot_frame_s": (1e6, "us"),
    "mmc_read_bytes_per_s": (1e-6, "MB/s"),
}
# Parameters that are counts: whole numbers, at least 1.
_WHOLE = ("tftp_block_bytes", "tftp_window")


@dataclass(frozen=True)
class Parameter:
    """One profile parameter: its value, the range it may take on the board, and why."""

    value: float
    low: float
    high: float
    kind: str  # FITTED (to the seeds) | ESTIMATE | CITED
    source: str

    def text(self, name: str) -> str:
        scale, unit = PARAMETERS[name] if name in PARAMETERS else LOAD_PARAMETERS[name]
        span = f" ({_g(self.low * scale)}-{_g(self.high * scale)})" if self.low < self.high else ""
        return f"{_g(self.value * scale)} {unit}{span} {self.kind.lower()}"


def _g(v: float) -> str:
    """Three significant digits, whole numbers up to a million without an exponent."""
    return f"{v:.0f}" if 1000 <= abs(v) < 1e6 else f"{v:.3g}"


@dataclass(frozen=True)
class Alternative:
    """One fit of the uncached access cost, for one way the seed's stock loader may have copied.

    seL4's memcpy copies in 8-byte units only when the archive member's data and its
    destination are co-aligned, else in 4-byte units; the seed's build is unknown, so each
    unit is a fit of its own. `value` is the minimax fit; `low`/`high` the costs that meet
    the large seed and the small seed exactly (the seeds disagree with any one cost).
    `data_per_8b`/`fetch_per_8b`: uncached data transactions and instruction fetches per 8
    bytes that loader copies, which keep the fit on the seeds when the fetch cost moves."""

    name: str
    unit: int
    value: float
    low: float
    high: float
    data_per_8b: float
    fetch_per_8b: float

    def refit(self, cost: float, fetch_ratio: float, nominal_ratio: float) -> float:
        """`cost` (one of this fit's costs) moved so the stock cost per byte stays as fitted
        when an instruction fetch costs `fetch_ratio` data transactions, not the nominal."""
        return (
            cost
            * (self.data_per_8b + nominal_ratio * self.fetch_per_8b)
            / (self.data_per_8b + fetch_ratio * self.fetch_per_8b)
        )


@dataclass(frozen=True)
class Profile:
    """Cost of each kind of access on one board (seconds per unit), with each cost's range."""

    name: str
    uncached_access_s: float  # one non-cacheable data transaction (<= 8 bytes)
    uncached_ifetch_s: float  # one non-cacheable instruction fetch
    cached_copy_bytes_per_s: float  # one core copying with caches on (bytes moved per second)
    cpu_hz: float  # cached instructions retire at about one per cycle
    cmo_line_s: float  # one cache-maintenance line operation by VA (estimate)
    # Set/way: each operation, and each dirty line it writes back; no more lines can be dirty
    # at the sweep than the caches hold (the rest was evicted, and paid for, during the copy).
    setway_op_s: float = 0.0
    writeback_line_s: float = 0.0
    dirty_capacity_lines: float = 0.0
    sources: str = ""
    params: Mapping[str, Parameter] = field(default_factory=dict, compare=False)
    alternatives: tuple[Alternative, ...] = ()
    # The image load's parameters (LOAD_PARAMETERS); empty when the profile has no `load:`.
    load: Mapping[str, Parameter] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        if not self.params:
            return (
                f"profile {self.name}: uncached data {self.uncached_access_s * 1e9:.0f} ns/access, "
                f"uncached fetch {self.uncached_ifetch_s * 1e9:.0f} ns/insn, cached copy "
                f"{self.cached_copy_bytes_per_s / 1e9:.2f} GB/s, {self.cpu_hz / 1e9:.2f} GHz, "
                f"{self.cmo_line_s * 1e9:.0f} ns per cache-maintenance line"
            )
        alts = ", ".join(
            f"{a.name} {a.value * 1e9:.0f} ns ({a.low * 1e9:.0f}-{a.high * 1e9:.0f})" for a in self.alternatives
        )
        return (
            f"profile {self.name}: uncached data {self.params['uncached_access_s'].text('uncached_access_s')}"
            + (f" [{alts}]" if alts else "")
            + f", uncached fetch {self.params['uncached_ifetch_s'].text('uncached_ifetch_s')}"
            + f", cached copy {self.params['cached_copy_bytes_per_s'].text('cached_copy_bytes_per_s')}"
            + f", {self.params['cpu_hz'].text('cpu_hz')}"
            + f", cache-maintenance line {self.params['cmo_line_s'].text('cmo_line_s')}"
            + f", set/way op {self.params['setway_op_s'].text('setway_op_s')}"
            + f" + write-back {self.params['writeback_line_s'].text('writeback_line_s')}"
            + f" per dirty line (at most {self.dirty_capacity_lines:.0f})"
        )


def _float(value: Any, path: Path, name: str) -> float:
    """A number; YAML reads 1.9e9 (no sign in the exponent) as a string, so those parse too."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HarnessError(
            f"not a number: {value!r}", file=path, field=name, fix="give seconds, Hz or bytes per second as a number"
        )
    return float(value)


def _range(raw: Any, path: Path, name: str) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise HarnessError(
            "no range",
            file=path,
            field=f"{name}.range",
            fix="give range: [low, high] (the same number twice for an exact one)",
        )
    low, high = (_float(v, path, f"{name}.range") for v in raw)
    if low > high:
        raise HarnessError(
            f"range [{low:g}, {high:g}] runs backwards", file=path, field=f"{name}.range", fix="give [low, high]"
        )
    return low, high


def _within(value: float, low: float, high: float, path: Path, name: str) -> None:
    if not low <= value <= high:
        raise HarnessError(
            f"value {value:g} outside its range [{low:g}, {high:g}]",
            file=path,
            field=name,
            fix="widen the range or correct the value",
        )


def _alternatives(raw: Any, path: Path, name: str) -> tuple[Alternative, ...]:
    if not isinstance(raw, dict) or not raw:
        raise HarnessError(
            "not a mapping of fits",
            file=path,
            field=f"{name}.alternatives",
            fix="give each fit as NAME: {unit, value, range, data_per_8B, fetch_per_8B}",
        )
    out = []
    for alt, spec in raw.items():
        where = f"{name}.alternatives.{alt}"
        if not isinstance(spec, dict):
            raise HarnessError(
                "not a mapping", file=path, field=where, fix="give {unit, value, range, data_per_8B, fetch_per_8B}"
            )
        missing = [k for k in ("unit", "value", "range", "data_per_8B", "fetch_per_8B") if k not in spec]
        if missing:
            raise HarnessError(
                "missing",
                file=path,
                field=f"{where}.{missing[0]}",
                fix="add it (bench/sel4_model.py --calibrate prints the fits)",
            )
        value = _float(spec["value"], path, f"{where}.value")
        low, high = _range(spec["range"], path, where)
        _within(value, low, high, path, where)
        out.append(
            Alternative(
                str(alt),
                int(spec["unit"]),
                value,
                low,
                high,
                _float(spec["data_per_8B"], path, f"{where}.data_per_8B"),
                _float(spec["fetch_per_8B"], path, f"{where}.fetch_per_8B"),
            )
        )
    return tuple(out)


def _parameter(raw: Any, path: Path, name: str) -> tuple[Parameter, tuple[Alternative, ...]]:
    """One parameter: value, kind, source, and a range or (the fitted cost) alternatives."""
    if not isinstance(raw, dict):
        raise HarnessError(
            "a bare number says neither where it comes from nor how sure it is",
            file=path,
            field=name,
            fix="give {value, kind, source, range: [low, high]}",
        )
    for key in ("value", "kind", "source"):
        if key not in raw:
            raise HarnessError(
                "missing",
                file=path,
                field=f"{name}.{key}",
                fix="every parameter states its value, kind (FITTED, ESTIMATE, CITED) and source",
            )
    value = _float(raw["value"], path, f"{name}.value")
    if raw["kind"] not in KINDS:
        raise HarnessError(
            f"unknown kind {raw['kind']!r}", file=path, field=f"{name}.kind", fix=f"use one of: {', '.join(KINDS)}"
        )
    alts = _alternatives(raw["alternatives"], path, name) if "alternatives" in raw else ()
    if alts:
        low, high = min(a.low for a in alts), max(a.high for a in alts)
    else:
        low, high = _range(raw.get("range"), path, name)
    _within(value, low, high, path, name)
    return Parameter(value, low, high, str(raw["kind"]), str(raw["source"]).strip()), alts


def _load_section(raw: Any, path: Path) -> dict[str, Parameter]:
    """`load:` - every LOAD_PARAMETERS entry, each with value, kind, source and range."""
    if not isinstance(raw, dict):
        raise HarnessError(
            "not a mapping",
            file=path,
            field="load",
            fix="give load: {link_bits_per_s: {...}, tftp_round_trip_s: {...}, ...}",
        )
    extra = sorted(str(k) for k in raw if k not in LOAD_PARAMETERS)
    if extra:
        raise HarnessError(
            f"unknown parameter '{extra[0]}'",
            file=path,
            field=f"load.{extra[0]}",
            fix=f"remove it or use one of: {', '.join(LOAD_PARAMETERS)}",
        )
    out: dict[str, Parameter] = {}
    for pname in LOAD_PARAMETERS:
        where = f"load.{pname}"
        if pname not in raw:
            raise HarnessError(
                "missing",
                file=path,
                field=where,
                fix="add it: {value, kind, source, range: [low, high]} (docs/uboot-load.md)",
            )
        if isinstance(raw[pname], dict) and "alternatives" in raw[pname]:
            raise HarnessError(
                "alternatives are for the fitted uncached access only",
                file=path,
                field=f"{where}.alternatives",
                fix="give range: [low, high]",
            )
        param, _ = _parameter(raw[pname], path, where)
        if param.low <= 0:
            raise HarnessError(
                f"range [{param.low:g}, {param.high:g}] reaches zero or below",
                file=path,
                field=f"{where}.range",
                fix="every load parameter is positive: give a positive low end",
            )
        if pname in _WHOLE and any(v != int(v) or v < 1 for v in (param.value, param.low, param.high)):
            raise HarnessError(
                f"{pname} counts {LOAD_PARAMETERS[pname][1]}: whole numbers >= 1",
                file=path,
                field=where,
                fix="give whole numbers, e.g. 1468 or 1",
            )
        out[pname] = param
    return out


def load_profile(name: str) -> Profile:
    path = PROFILES / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml")))
        raise HarnessError(
            f"unknown timing profile '{name}'", field="harness.timing_profile", fix=f"use one of: {known}"
        )
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise HarnessError("not a mapping", file=path, fix="see targets/profiles/imx8mp-armstone.yaml")
    params: dict[str, Parameter] = {}
    alternatives: tuple[Alternative, ...] = ()
    for pname in PARAMETERS:
        if pname not in data:
            raise HarnessError(
                "missing", file=path, field=pname, fix="add it: {value, kind, source, range: [low, high]}"
            )
        params[pname], alts = _parameter(data[pname], path, pname)
        alternatives = alternatives or alts
    if alternatives and not any(a.value == params["uncached_access_s"].value for a in alternatives):
        raise HarnessError(
            "the value is none of the fitted alternatives",
            file=path,
            field="uncached_access_s.value",
            fix="use one fit's value",
        )
    load = _load_section(data["load"], path) if "load" in data else {}
    return Profile(
        name,
        **{k: p.value for k, p in params.items()},
        sources=str(data.get("sources", "")),
        params=params,
        alternatives=alternatives,
        load=load,
    )

"""Modeled board time: access counts from the cache model x a board's timing profile.

QEMU copies as fast with the MMU off as with it on (TCG has no caches), so wall
time under QEMU cannot show what the early MMU buys. The plugin counts what the
unpack window does; a profile says what each kind of access costs on a board.
The result is always labelled "modeled" and printed with its parameters: on a
real board the measured window wins.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from .coherence import AccessCounts, Counts
from .errors import HarnessError

PROFILES = Path(__file__).resolve().parents[1] / "targets" / "profiles"


@dataclass(frozen=True)
class Profile:
    """Cost of each kind of access on one board (seconds per unit)."""

    name: str
    uncached_access_s: float      # one non-cacheable data transaction (<= 8 bytes)
    uncached_ifetch_s: float      # one non-cacheable instruction fetch
    cached_copy_bytes_per_s: float  # one core copying with caches on (bytes moved per second)
    cpu_hz: float                 # cached instructions retire at about one per cycle
    cmo_line_s: float             # one cache-maintenance line operation (estimate)
    sources: str = ""

    def describe(self) -> str:
        return (f"profile {self.name}: uncached data {self.uncached_access_s * 1e9:.0f} ns/access, "
                f"uncached fetch {self.uncached_ifetch_s * 1e9:.0f} ns/insn, cached copy "
                f"{self.cached_copy_bytes_per_s / 1e9:.2f} GB/s, {self.cpu_hz / 1e9:.2f} GHz, "
                f"{self.cmo_line_s * 1e9:.0f} ns per cache-maintenance line (estimate)")


def load_profile(name: str) -> Profile:
    path = PROFILES / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml")))
        raise HarnessError(f"unknown timing profile '{name}'", field="harness.timing_profile",
                           fix=f"use one of: {known}")
    data = yaml.safe_load(path.read_text()) or {}
    kwargs: dict[str, Any] = {"name": name}
    for f in fields(Profile):
        if f.name == "name":
            continue
        if f.name not in data:
            if f.name == "sources":
                continue
            raise HarnessError("missing", file=path, field=f.name, fix="add it (seconds, or Hz/bytes per s)")
        kwargs[f.name] = data[f.name] if f.name == "sources" else float(data[f.name])
    return Profile(**kwargs)


@dataclass(frozen=True)
class Modeled:
    """Modeled time of one unpack window, by cost component."""

    profile: Profile
    parts: dict[str, float]
    counts: Counts | None = None

    @property
    def total_s(self) -> float:
        return sum(self.parts.values())

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v:.4g} s" for k, v in self.parts.items() if v)
        line = f"modeled unpack {self.total_s:.4g} s on {self.profile.name} ({parts})"
        why = granularity(self.counts) if self.counts is not None else ""
        return f"{line}\n  why: {why}" if why else line


def _m(n: int) -> str:
    """Counts for people: 3.1M, 41k, 12."""
    return f"{n / 1e6:.3g}M" if n >= 1e5 else f"{n / 1e3:.3g}k" if n >= 1e3 else str(n)


def _sizes(acc: AccessCounts, cacheable: bool) -> dict[int, int]:
    return dict(acc.cacheable if cacheable else acc.uncached)


def granularity(counts: Counts, top: int = 4) -> str:
    """Why an unpack costs what it does: the copy granularity and who is accessed.

    E.g. "uncached 8-byte loads 6.76M (source 0.35M, stack 6.41M), ...; stack
    8.48M of 9.7M data accesses; 14.9M uncached instruction fetches". A byte
    copy (archive member not co-aligned with its destination) or an
    unoptimised loader's stack traffic shows up here at once.
    """
    rows: list[tuple[int, str]] = []
    for op, acc, attr in (("loads", counts.loads, "loads"), ("stores", counts.stores, "stores")):
        for cacheable in (False, True):
            for size, n in _sizes(acc, cacheable).items():
                if not n:
                    continue
                split = ", ".join(f"{t} {_m(v)}" for t, tc in counts.by_target.items()
                                  if (v := _sizes(getattr(tc, attr), cacheable).get(size, 0)))
                kind = "cached" if cacheable else "uncached"
                rows.append((n, f"{kind} {size}-byte {op} {_m(n)}" + (f" ({split})" if split else "")))
    rows.sort(key=lambda r: -r[0])
    text = "; ".join(r[1] for r in rows[:top])
    total = counts.loads.total() + counts.stores.total()
    stack = counts.by_target.get("stack")
    if stack is not None and total:
        text += f"; stack {_m(stack.total())} of {_m(total)} data accesses"
    if counts.ifetch_uncached:
        text += f"; {_m(counts.ifetch_uncached)} uncached instruction fetches"
    return text


def _uncached_transactions(access: dict[int, int]) -> int:
    # A 16-byte ldp/stp is two bus transactions when the memory is not cacheable.
    return sum(n * max(1, size // 8) for size, n in access.items())


def model(counts: Counts, profile: Profile) -> Modeled:
    """Board time for the counted window: each component is count x unit cost."""
    cached_bytes = sum(size * n for acc in (counts.loads, counts.stores)
                       for size, n in acc.cacheable.items())
    uncached = _uncached_transactions(dict(counts.loads.uncached)) + \
        _uncached_transactions(dict(counts.stores.uncached))
    cmo = sum(n for op, n in counts.cmo.items() if op.startswith("dc_"))
    return Modeled(profile, {
        "uncached data": uncached * profile.uncached_access_s,
        "uncached fetch": counts.ifetch_uncached * profile.uncached_ifetch_s,
        # a copy moves each byte twice (load + store) at the cited copy bandwidth
        "cached data": cached_bytes / (2 * profile.cached_copy_bytes_per_s),
        "cached insns": counts.ifetch_cacheable / profile.cpu_hz,
        "cache maintenance": cmo * profile.cmo_line_s,
    }, counts)


# Seed measurements on the armStone (U-Boot bootm -> seL4 elfloader, MMU off):
# image bytes -> seconds of unpack window.
SEEDS: tuple[tuple[float, float], ...] = ((596e6, 197.0), (6e6, 2.4))


@dataclass(frozen=True)
class Line:
    """A modeled quantity that grows linearly with the image: a + b * bytes."""

    a: float
    b: float

    def at(self, nbytes: float) -> float:
        return self.a + self.b * nbytes

    @classmethod
    def through(cls, p: tuple[float, float], q: tuple[float, float]) -> "Line":
        b = (q[1] - p[1]) / (q[0] - p[0])
        return cls(p[1] - b * p[0], b)


def split_uncached(m: Modeled) -> tuple[float, float]:
    """(the part that scales with uncached_access_s, everything else) of a model."""
    uncached = m.parts["uncached data"] + m.parts["uncached fetch"]
    return uncached, m.total_s - uncached


def fit_uncached_access(small: tuple[int, Modeled], large: tuple[int, Modeled],
                        seeds: tuple[tuple[float, float], ...] = SEEDS) -> float:
    """The uncached_access_s that meets every seed with the smallest worst relative error.

    Modeled time is linear in the image size and, for the MMU-off baseline,
    almost all of it is uncached accesses, whose unit cost is the one unknown.
    The uncached fetch cost keeps its fixed ratio to it. With two seeds the
    minimax fit makes the two relative errors equal and opposite.
    """
    base = small[1].profile.uncached_access_s
    unc = Line.through((small[0], split_uncached(small[1])[0] / base),
                       (large[0], split_uncached(large[1])[0] / base))
    rest = Line.through((small[0], split_uncached(small[1])[1]),
                        (large[0], split_uncached(large[1])[1]))
    if len(seeds) != 2:
        raise ValueError("the minimax fit takes exactly two seeds")
    # (u*U1 + R1)/T1 - 1 = -((u*U2 + R2)/T2 - 1)  =>  u = (2 - R1/T1 - R2/T2) / (U1/T1 + U2/T2)
    num = 2 - sum(rest.at(n) / t for n, t in seeds)
    den = sum(unc.at(n) / t for n, t in seeds)
    return num / den


def predict(small: tuple[int, Modeled], large: tuple[int, Modeled], nbytes: float) -> float:
    """Modeled seconds at `nbytes`, extrapolated along the line through two runs."""
    return Line.through((small[0], small[1].total_s), (large[0], large[1].total_s)).at(nbytes)

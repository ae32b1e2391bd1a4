"""Modeled board time: access counts from the cache model x a board's timing profile.

QEMU copies as fast with the MMU off as with it on (TCG has no caches), so wall
time under QEMU cannot show what the early MMU buys. The plugin counts what the
unpack window does; a profile says what each kind of access costs on a board.
The result is always labelled "modeled" and printed with its parameters: on a
real board the measured window wins.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Iterator

from .coherence import AccessCounts, Counts
from .profile import PROFILES, Alternative, Parameter, Profile, load_profile

__all__ = [
    "PROFILES",
    "Alternative",
    "Parameter",
    "Profile",
    "load_profile",
    "Modeled",
    "Band",
    "model",
    "band",
    "ratio_band",
    "corners",
    "copy_unit",
    "granularity",
    "SEEDS",
    "Line",
    "split_uncached",
    "fit_uncached_access",
    "predict",
]


@dataclass(frozen=True)
class Modeled:
    """Modeled time of one unpack window, by cost component."""

    profile: Profile
    parts: dict[str, float]
    counts: Counts | None = None

    @property
    def total_s(self) -> float:
        return sum(self.parts.values())

    def band(self) -> Band | None:
        """This window over the profile's ranges (None without counts)."""
        return band(self.counts, self.profile) if self.counts is not None else None

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v:.4g} s" for k, v in self.parts.items() if v)
        b = self.band()
        spread = f" ({b.describe()})" if b is not None and b.low < b.high else ""
        line = f"modeled unpack {_s(self.total_s)} s{spread} on {self.profile.name} ({parts})"
        if self.counts is None:
            return line
        unit = copy_unit(self.counts)
        fit = next((a for a in self.profile.alternatives if a.unit == unit), None)
        if unit and fit is None:
            line += f"\n  copy: this loader copies its archive in {unit}-byte units"
        elif fit is not None:  # seL4's memcpy: the unit follows the member's alignment
            line += (
                f"\n  copy: this image copies its archive in {unit}-byte units (the archive member "
                f"{'is' if unit == 8 else 'is not'} co-aligned with its destination); the profile's "
                f"{fit.name} fit ({fit.value * 1e9:.0f} ns) assumes the seed's image did too"
            )
        why = granularity(self.counts)
        return f"{line}\n  why: {why}" if why else line


def _s(seconds: float) -> str:
    """Seconds for people: 133 s, 2.41 s, 0.00133 s."""
    return f"{seconds:.0f}" if seconds >= 100 else f"{seconds:.3g}"


@dataclass(frozen=True)
class Band:
    """A modeled figure at the profile's values, and its least and greatest over the ranges."""

    nominal: float
    low: float
    high: float
    unit: str = "s"

    def describe(self) -> str:
        fmt = (lambda v: f"{v:.0f}") if self.unit == "x" else _s
        return f"band {fmt(self.low)}-{fmt(self.high)} {self.unit}".replace(" x", "x")


def corners(profile: Profile) -> Iterator[Profile]:
    """The profile at every combination of its uncertain parameters' ends.

    The uncached access cost is not free to move: it was fitted so the stock
    loader meets the seeds, once per copy unit the seed's image may have had.
    So each alternative fit is taken in turn, at its value and at the costs that
    meet one seed exactly, and when the fetch cost moves (it is priced as a
    fraction of a data transaction) the access cost is refitted to keep that
    alternative's stock cost per byte: a cheap fetch with a cheap access would
    no longer be the board the seeds measured. Every other ranged parameter
    takes its low and its high end. Modeled time is monotonic in each
    parameter, so its extremes are at these corners.
    """
    params = profile.params
    if not params:
        yield profile
        return
    u0 = params["uncached_access_s"].value
    fetch = params["uncached_ifetch_s"]
    nominal_ratio = fetch.value / u0
    ratios = sorted({fetch.low / u0, nominal_ratio, fetch.high / u0})
    access = params["uncached_access_s"]
    alts = profile.alternatives or (Alternative("fit", 0, u0, access.low, access.high, 1.0, 0.0),)
    free = [
        n
        for n in ("cached_copy_bytes_per_s", "cpu_hz", "cmo_line_s", "setway_op_s", "writeback_line_s")
        if n in params and params[n].low < params[n].high
    ]
    for alt, ratio in itertools.product(alts, ratios):
        for u in sorted({alt.refit(c, ratio, nominal_ratio) for c in (alt.low, alt.value, alt.high)}):
            yield from _ends(profile, free, u, ratio * u)


def _ends(profile: Profile, free: list[str], u: float, fetch: float) -> Iterator[Profile]:
    """`profile` with these uncached costs, at every combination of the `free` parameters' ends."""
    params = profile.params
    for ends in itertools.product(*[(params[n].low, params[n].high) for n in free]):
        moved: dict[str, Any] = dict(zip(free, ends))
        yield replace(profile, uncached_access_s=u, uncached_ifetch_s=fetch, **moved)


def band(counts: Counts, profile: Profile) -> Band:
    """One window's modeled time over the profile's ranges."""
    totals = [model(counts, p).total_s for p in corners(profile)]
    return Band(model(counts, profile).total_s, min(totals), max(totals))


def ratio_band(stock: Counts, patched: Counts, profile: Profile) -> Band:
    """stock/patched over the same corners: both windows priced by one board at a time."""
    ratios = [model(stock, p).total_s / model(patched, p).total_s for p in corners(profile)]
    return Band(model(stock, profile).total_s / model(patched, profile).total_s, min(ratios), max(ratios), unit="x")


def copy_unit(counts: Counts) -> int | None:
    """The unit a loader with the MMU off copied the archive in: the size of most uncached
    loads from it (None when it read the archive cached, or no split by target exists)."""
    src = counts.by_target.get("source")
    if src is None:
        return None
    sizes = {size: n for size, n in src.loads.uncached.items() if n}
    return max(sizes, key=lambda size: sizes[size]) if sizes else None


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
                split = ", ".join(
                    f"{t} {_m(v)}"
                    for t, tc in counts.by_target.items()
                    if (v := _sizes(getattr(tc, attr), cacheable).get(size, 0))
                )
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
    cached_bytes = sum(size * n for acc in (counts.loads, counts.stores) for size, n in acc.cacheable.items())
    uncached = _uncached_transactions(dict(counts.loads.uncached)) + _uncached_transactions(
        dict(counts.stores.uncached)
    )
    by_va = sum(n for op, n in counts.cmo.items() if op.startswith("dc_") and op not in SETWAY_OPS)
    setway = sum(counts.cmo.get(op, 0) for op in SETWAY_OPS)
    cleans = sum(counts.cmo.get(op, 0) for op in ("dc_csw", "dc_cisw"))
    # a sweep writes back what is dirty in the caches: at most their capacity, at most what
    # the window stored (the model has no capacity: its dirty count is the whole image)
    written_lines = cached_stored_bytes(counts) / LINE_BYTES
    dirty = min(written_lines, profile.dirty_capacity_lines) if cleans else 0.0
    return Modeled(
        profile,
        {
            "uncached data": uncached * profile.uncached_access_s,
            "uncached fetch": counts.ifetch_uncached * profile.uncached_ifetch_s,
            # a copy moves each byte twice (load + store) at the cited copy bandwidth
            "cached data": cached_bytes / (2 * profile.cached_copy_bytes_per_s),
            "cached insns": counts.ifetch_cacheable / profile.cpu_hz,
            "cache maintenance": by_va * profile.cmo_line_s,
            "set/way maintenance": setway * profile.setway_op_s + dirty * profile.writeback_line_s,
        },
        counts,
    )


SETWAY_OPS = ("dc_cisw", "dc_csw", "dc_isw")
LINE_BYTES = 64


def cached_stored_bytes(counts: Counts) -> int:
    return sum(size * n for size, n in counts.stores.cacheable.items())


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


def fit_uncached_access(
    small: tuple[int, Modeled], large: tuple[int, Modeled], seeds: tuple[tuple[float, float], ...] = SEEDS
) -> float:
    """The uncached_access_s that meets every seed with the smallest worst relative error.

    Modeled time is linear in the image size and, for the MMU-off baseline,
    almost all of it is uncached accesses, whose unit cost is the one unknown.
    The uncached fetch cost keeps its fixed ratio to it. With two seeds the
    minimax fit makes the two relative errors equal and opposite.
    """
    base = small[1].profile.uncached_access_s
    unc = Line.through((small[0], split_uncached(small[1])[0] / base), (large[0], split_uncached(large[1])[0] / base))
    rest = Line.through((small[0], split_uncached(small[1])[1]), (large[0], split_uncached(large[1])[1]))
    if len(seeds) != 2:
        raise ValueError("the minimax fit takes exactly two seeds")
    # (u*U1 + R1)/T1 - 1 = -((u*U2 + R2)/T2 - 1)  =>  u = (2 - R1/T1 - R2/T2) / (U1/T1 + U2/T2)
    num = 2 - sum(rest.at(n) / t for n, t in seeds)
    den = sum(unc.at(n) / t for n, t in seeds)
    return num / den


def predict(small: tuple[int, Modeled], large: tuple[int, Modeled], nbytes: float) -> float:
    """Modeled seconds at `nbytes`, extrapolated along the line through two runs."""
    return Line.through((small[0], small[1].total_s), (large[0], large[1].total_s)).at(nbytes)

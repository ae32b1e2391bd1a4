"""Stage-1 translation tables (VMSAv8-64, 4 KiB granule) read back from guest memory.

What a loader maps is decided by its tables, not by what it prints: the `early-map` check
walks the tables TTBR0 points at when the MMU turns on and judges every block and page by
the memory type its MAIR byte gives. Pure: the memory comes through `read(paddr, size)`,
so the walk is tested on synthetic tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

GRANULE_SHIFT = 12
ENTRIES_BITS = 9
ADDR_MASK = 0x0000_FFFF_FFFF_F000  # output address bits [47:12]
MAX_TABLES = 4096  # a walk that reads more is not a loader's early map


class WalkError(ValueError):
    """The tables cannot be walked (unsupported granule, a table outside memory, a loop)."""


def level_shift(level: int) -> int:
    """log2 of what one entry maps at `level` (0: 512 GiB, 1: 1 GiB, 2: 2 MiB, 3: 4 KiB)."""
    return GRANULE_SHIFT + ENTRIES_BITS * (3 - level)


def memory_type(attr: int) -> str:
    """A MAIR attribute byte in words: Device-nGnRnE .. Device-GRE, or Normal with its
    inner/outer cacheability."""
    if attr & 0xF0 == 0:
        return ("Device-nGnRnE", "Device-nGnRE", "Device-nGRE", "Device-GRE")[(attr >> 2) & 3]

    def cache(nibble: int) -> str:
        if nibble == 0b0100:
            return "non-cacheable"
        if nibble & 0b1100 == 0b0100 or nibble & 0b1100 == 0b1100:
            return "write-back"
        return "write-through"

    outer, inner = cache(attr >> 4), cache(attr & 0xF)
    return f"Normal {inner}" if inner == outer else f"Normal inner {inner}, outer {outer}"


def is_normal(attr: int) -> bool:
    """Normal memory, cacheable or not: the core may access it speculatively."""
    return attr & 0xF0 != 0


@dataclass(frozen=True)
class Mapping:
    """One contiguous identity-or-not range with one memory type."""

    va: int
    pa: int
    size: int
    attr: int  # the MAIR byte its AttrIndx selects
    attr_index: int

    @property
    def pa_end(self) -> int:
        return self.pa + self.size

    @property
    def normal(self) -> bool:
        return is_normal(self.attr)

    def describe(self) -> str:
        return (
            f"VA [{self.va:#x}..{self.va + self.size:#x}) -> PA [{self.pa:#x}..{self.pa_end:#x}) "
            f"{memory_type(self.attr)} (AttrIndx {self.attr_index}, MAIR byte {self.attr:#04x})"
        )


@dataclass(frozen=True)
class Regime:
    """The registers that define one translation regime's lower half (TTBR0)."""

    el: int
    tcr: int
    mair: int
    ttbr0: int

    @property
    def va_bits(self) -> int:
        return 64 - (self.tcr & 0x3F)  # T0SZ, the same place in every TCR layout

    def check(self) -> None:
        tg0 = (self.tcr >> 14) & 3
        if tg0 != 0:
            raise WalkError(f"TCR_EL{self.el}.TG0 = {tg0}: only the 4 KiB granule is walked")
        if not 25 <= self.va_bits <= 48:
            raise WalkError(f"TCR_EL{self.el}.T0SZ = {64 - self.va_bits}: a 4 KiB granule walk covers 25..48 VA bits")

    @property
    def start_level(self) -> int:
        # each level resolves 9 bits above the 12 of the page offset
        return 4 - -(-(self.va_bits - GRANULE_SHIFT) // ENTRIES_BITS)

    def attr(self, index: int) -> int:
        return (self.mair >> (8 * index)) & 0xFF


def walk(regime: Regime, read: Callable[[int, int], bytes]) -> list[Mapping]:
    """Every valid block and page under TTBR0, merged into ranges contiguous in VA and PA
    with one attribute, in VA order."""
    regime.check()
    start = regime.start_level
    top_entries = 1 << (regime.va_bits - level_shift(start))
    found: list[Mapping] = []
    tables = 0

    def visit(table: int, level: int, entries: int, va_base: int) -> None:
        nonlocal tables
        tables += 1
        if tables > MAX_TABLES:
            raise WalkError(f"more than {MAX_TABLES} tables: not an early map (a table loop?)")
        raw = read(table, entries * 8)
        if len(raw) != entries * 8:
            raise WalkError(f"level-{level} table at {table:#x}: read {len(raw)} of {entries * 8} bytes")
        for i in range(entries):
            desc = int.from_bytes(raw[8 * i : 8 * i + 8], "little")
            va = va_base + (i << level_shift(level))
            kind = desc & 3
            if kind in (0, 2):
                continue  # invalid
            if kind == 3 and level < 3:
                visit(desc & ADDR_MASK, level + 1, 1 << ENTRIES_BITS, va)
                continue
            if kind == 1 and level in (0, 3):
                continue  # reserved: faults like an invalid entry
            size = 1 << level_shift(level)
            pa = desc & ADDR_MASK & ~(size - 1)
            index = (desc >> 2) & 7
            found.append(Mapping(va, pa, size, regime.attr(index), index))

    visit(regime.ttbr0 & ADDR_MASK & ~0x1, start, top_entries, 0)
    return merge(found)


def merge(mappings: list[Mapping]) -> list[Mapping]:
    """Neighbours contiguous in VA and PA with the same attribute, as one range."""
    out: list[Mapping] = []
    for m in sorted(mappings, key=lambda m: m.va):
        last = out[-1] if out else None
        if (
            last is not None
            and last.va + last.size == m.va
            and last.pa_end == m.pa
            and last.attr == m.attr
            and last.attr_index == m.attr_index
        ):
            out[-1] = Mapping(last.va, last.pa, last.size + m.size, last.attr, last.attr_index)
        else:
            out.append(m)
    return out

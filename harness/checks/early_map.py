"""`early-map`: what the loader's page tables map Normal when its MMU turns on.

Normal memory, cacheable or not, may be accessed speculatively. Mapped over a secure
carve-out (OP-TEE behind the TZASC) that is an external abort on the board and nothing at
all on QEMU; mapped over something outside DRAM, an access to a device the loader never
meant to touch. So the tables the gdbstub stop read (harness/qemu/mmu_on.py) are held to
the target's memory map: no carve-out and nothing outside DRAM but the console UART's
page may be mapped Normal. Judged by physical address, where the access lands.
"""

from __future__ import annotations

from ..boot import BootResult
from ..memory_map import MACHINE_CONSOLE_UART, PAGE, MemoryMap
from ..pagetable import Mapping, memory_type
from .check import Check, _fail, _pass, _skip

NAME = "early-map"


def _overlap(m: Mapping, lo: int, hi: int) -> tuple[int, int] | None:
    """The part of `m` (by PA) inside [lo, hi), as (VA, PA) of its start and its size."""
    start, end = max(m.pa, lo), min(m.pa_end, hi)
    return None if start >= end else (start, end)


def _piece(m: Mapping, start: int, end: int) -> str:
    va = m.va + (start - m.pa)
    return (
        f"VA [{va:#x}..{va + end - start:#x}) -> PA [{start:#x}..{end:#x}) mapped "
        f"{memory_type(m.attr)} (AttrIndx {m.attr_index}, MAIR byte {m.attr:#04x})"
    )


def judge(mappings: list[Mapping] | tuple[Mapping, ...], mm: MemoryMap, uart: int | None) -> list[str]:
    """Every Normal range over a carve-out or outside DRAM (the UART page excepted)."""
    problems = []
    uart_page = (uart & ~(PAGE - 1), (uart & ~(PAGE - 1)) + PAGE) if uart is not None else None
    for m in mappings:
        if not m.normal:
            continue
        for c in mm.carve_outs:
            hit = _overlap(m, c.base, c.end)
            if hit is not None:
                problems.append(f"{c.describe()}: {_piece(m, *hit)}")
        outside = [(m.pa, min(m.pa_end, mm.dram_base)), (max(m.pa, mm.dram_end), m.pa_end)]
        for lo, hi in outside:
            if lo >= hi:
                continue
            if uart_page is not None and (lo, hi) == uart_page:
                continue
            problems.append(f"outside DRAM [{mm.dram_base:#x}..{mm.dram_end:#x}): {_piece(m, lo, hi)}")
    return problems


def check_early_map(r: BootResult) -> Check:
    from ..qemu.mmu_on import MmuOnState

    state = r.extras.get("early_map")
    if isinstance(state, str):
        return _skip(NAME, state)
    if not isinstance(state, MmuOnState):
        return _skip(NAME, "no stop at the loader's MMU enable (boot without --early-map)")
    where = f"{state.symbol} returned to {state.stopped_at:#x} at EL{state.el}"
    if not state.mmu_on:
        return _skip(
            NAME,
            f"the MMU never turned on: {where} with SCTLR_EL{state.el}.M = 0 "
            "(the loader unpacked with the MMU off: nothing was mapped)",
        )
    if state.error is not None or state.regime is None:
        return _fail(NAME, [f"{where} with the MMU on, but its tables could not be read: {state.error}"])
    t = r.target
    mm = MemoryMap(t.dram[0], t.dram[1], t.carve_outs)
    uart = t.console_uart if t.console_uart is not None else MACHINE_CONSOLE_UART.get(t.machine)
    problems = judge(state.mappings, mm, uart)
    if problems:
        return _fail(
            NAME, [f"at the MMU enable ({where}, TTBR0_EL{state.el} {state.regime.ttbr0:#x}): {p}" for p in problems]
        )
    normal = ", ".join(f"[{m.pa:#x}..{m.pa_end:#x})" for m in state.mappings if m.normal)
    other = ", ".join(f"[{m.pa:#x}..{m.pa_end:#x}) {memory_type(m.attr)}" for m in state.mappings if not m.normal)
    kept = ", ".join(f"{c.name} [{c.base:#x}..{c.end:#x})" for c in mm.carve_outs) or "none declared"
    return _pass(
        NAME,
        f"at the MMU enable ({where}): Normal {normal or 'nothing'}; other "
        f"{other or 'nothing'}; carve-outs left out: {kept}",
    )

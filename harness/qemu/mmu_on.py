"""The stop where a loader turns its MMU on: registers and page tables, read out of band.

The `early-map` check judges the map a loader runs its unpack under, so the tables are
read at the one moment they are certain to be the ones in use: right after the MMU enable.
Both early-MMU loaders enable it inside one function that returns with the MMU on (the
patch's `early_mmu_begin`, the reference loader's `mmu_enable`), so the gdbstub stops at
that function's entry, reads its return address (x30), and stops again there: no
instruction of the loader is decoded or patched. SCTLR, TCR, MAIR and TTBR0 of the
current EL come through the gdbstub; the tables through QMP `pmemsave` (physical memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import BootFailure
from ..pagetable import Mapping, Regime, WalkError, walk
from ..payload import Payload
from .gdbstub import GdbStub

LR = 30  # x30, the link register, in aarch64-core.xml's numbering


def mmu_on_function(payload: Payload) -> tuple[str, int] | str:
    """(symbol, address) of the function that returns with the loader's MMU on, or why this
    loader has none (a stock loader, a reference build that keeps the MMU off)."""
    syms = payload.loader.symbols
    variant = payload.variant
    if variant is not None:
        if variant.label != "early-mmu":
            return f"the reference loader built '{variant.label}' turns no MMU on"
        return "mmu_enable", syms["mmu_enable"]
    if "early_mmu_begin" in syms:
        return "early_mmu_begin", syms["early_mmu_begin"]
    return (
        "a stock loader (no early_mmu_begin symbol): it unpacks with the MMU off and maps "
        "nothing before the kernel's own tables"
    )


@dataclass(frozen=True)
class MmuOnState:
    """What the stop read: the regime's registers and, with the MMU on, its mappings."""

    symbol: str
    stopped_at: int
    el: int
    sctlr: int
    regime: Regime | None = None
    mappings: tuple[Mapping, ...] = ()
    error: str | None = None  # why the tables could not be read

    @property
    def mmu_on(self) -> bool:
        return bool(self.sctlr & 1)


def _failure(what: str, phase: str = "loader") -> BootFailure:
    return BootFailure(what, kind="infrastructure", phase=phase)


def _registers(stub: GdbStub, el: int) -> tuple[int, dict[str, int]]:
    """SCTLR, and TCR/MAIR/TTBR0 where the gdbstub has them, of EL `el`."""
    nums = stub.register_numbers()
    names = {
        "SCTLR": f"SCTLR_EL{el}" if el != 1 else "SCTLR",
        "TCR": f"TCR_EL{el}",
        "MAIR": f"MAIR_EL{el}",
        "TTBR0": f"TTBR0_EL{el}",
    }
    values: dict[str, int] = {}
    for short, name in names.items():
        num = nums.get(name, nums.get(f"{short}_EL1") if el == 1 else None)
        if num is not None:
            values[short] = stub.register(num)
    if "SCTLR" not in values:
        raise _failure(f"the gdbstub does not expose SCTLR_EL{el}")
    return values["SCTLR"], values


def stop_at_mmu_on(
    stub: GdbStub, symbol: str, addr: int, read: Callable[[int, int], bytes], timeout: float
) -> MmuOnState:
    """From a guest stopped before the loader's MMU enable: run it to the return of `symbol`,
    read the regime and walk its tables. The guest is left stopped there."""
    try:
        stub.run_to(addr, timeout, symbol)
        ret = stub.register(LR)
        stub.run_to(ret, timeout, f"the return of {symbol}")
        el = (stub.register(33) >> 2) & 3  # cpsr: PSTATE.EL
        sctlr, regs = _registers(stub, el)
    except (TimeoutError, OSError) as exc:
        raise _failure(f"the gdbstub did not answer at the MMU enable ({symbol}): {exc}") from None
    if not sctlr & 1:
        return MmuOnState(symbol, ret, el, sctlr)
    missing = [f"{r}_EL{el}" for r in ("TCR", "MAIR", "TTBR0") if r not in regs]
    if missing:
        return MmuOnState(symbol, ret, el, sctlr, error=f"the gdbstub does not expose {', '.join(missing)}")
    regime = Regime(el, regs["TCR"], regs["MAIR"], regs["TTBR0"])
    try:
        mappings = tuple(walk(regime, read))
    except WalkError as exc:
        return MmuOnState(symbol, ret, el, sctlr, regime, error=str(exc))
    return MmuOnState(symbol, ret, el, sctlr, regime, mappings)

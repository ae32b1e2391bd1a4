"""The `early-map` check on the host: page tables walked from synthetic memory (blocks and
pages, each with a defect it must catch) and judged against the target's carve-outs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.session import BootSession
from harness.checks.early_map import check_early_map, judge
from harness.memory_map import CarveOut, MemoryMap
from harness.pagetable import Mapping, Regime, WalkError, memory_type, walk
from harness.qemu.mmu_on import MmuOnState
from harness.targets import load

pytestmark = pytest.mark.host

GIB, MIB2, PAGE = 1 << 30, 1 << 21, 1 << 12
# MAIR: 0 Device-nGnRnE, 1 Normal write-back, 2 Normal non-cacheable
MAIR = 0x00 | 0xFF << 8 | 0x44 << 16
TCR_39 = 25  # T0SZ 25: 39-bit VAs, walks start at level 1, TG0 4 KiB
AF = 1 << 10
UART = 0x30890000
DRAM = MemoryMap(0x40000000, 0x80000000, (CarveOut("optee", 0x56000000, 0x2000000, "test"),))


def block(pa: int, index: int) -> int:
    return pa | index << 2 | AF | 0b01


def page(pa: int, index: int) -> int:
    return pa | index << 2 | AF | 0b11


def table(pa: int) -> int:
    return pa | 0b11


class Memory:
    """Tables by physical address; anything else reads as nothing."""

    def __init__(self) -> None:
        self.tables: dict[int, list[int]] = {}

    def at(self, addr: int, entries: int = 512) -> list[int]:
        return self.tables.setdefault(addr, [0] * entries)

    def read(self, addr: int, size: int) -> bytes:
        t = self.tables.get(addr)
        return b"" if t is None else b"".join(d.to_bytes(8, "little") for d in t)[:size]


def early_map(hole: bool = True, uart_index: int = 0) -> Memory:
    """The patch's shape: DRAM by the largest blocks that fit (2 MiB around a hole), the
    UART by one 4 KiB page."""
    mem = Memory()
    root = mem.at(0x1000)
    root[0] = table(0x2000)  # 0..1 GiB: down to the UART page
    mem.at(0x2000)[UART >> 21] = table(0x3000)
    mem.at(0x3000)[(UART >> 12) & 0x1FF] = page(UART, uart_index)
    root[1] = table(0x4000)  # 1..2 GiB by 2 MiB blocks
    for i in range(512):
        pa = GIB + i * MIB2
        if not (hole and DRAM.carve_outs[0].base <= pa < DRAM.carve_outs[0].end):
            mem.at(0x4000)[i] = block(pa, 1)
    root[2] = block(2 * GIB, 1)  # 2..3 GiB: one 1 GiB block
    return mem


def regime(**kw: Any) -> Regime:
    return Regime(**{"el": 2, "tcr": TCR_39, "mair": MAIR, "ttbr0": 0x1000, **kw})


def test_blocks_and_pages_are_walked_and_merged() -> None:
    maps = walk(regime(), early_map().read)
    assert [(m.pa, m.pa_end, memory_type(m.attr)) for m in maps] == [
        (UART, UART + PAGE, "Device-nGnRnE"),
        (0x40000000, 0x56000000, "Normal write-back"),
        (0x58000000, 0xC0000000, "Normal write-back"),  # 2 MiB blocks + the 1 GiB block
    ]
    assert judge(maps, DRAM, UART) == []


def test_a_block_over_the_carve_out_is_named() -> None:
    problems = judge(walk(regime(), early_map(hole=False).read), DRAM, UART)
    assert problems == [
        "carve-out 'optee' [0x56000000..0x58000000): VA [0x56000000..0x58000000) "
        "-> PA [0x56000000..0x58000000) mapped Normal write-back (AttrIndx 1, "
        "MAIR byte 0xff)"
    ]


def test_a_page_over_the_carve_out_is_named() -> None:
    mem = early_map()
    mem.at(0x4000)[0x56000000 % GIB // MIB2] = table(0x5000)
    mem.at(0x5000)[511] = page(0x561FF000, 2)  # the last page of the first 2 MiB
    problems = judge(walk(regime(), mem.read), DRAM, UART)
    assert problems == [
        "carve-out 'optee' [0x56000000..0x58000000): VA [0x561ff000..0x56200000) "
        "-> PA [0x561ff000..0x56200000) mapped Normal non-cacheable (AttrIndx 2, "
        "MAIR byte 0x44)"
    ]


def test_device_over_the_carve_out_is_not_normal() -> None:
    mem = early_map()
    mem.at(0x4000)[0x56000000 % GIB // MIB2] = block(0x56000000, 0)
    assert judge(walk(regime(), mem.read), DRAM, UART) == []


def test_outside_dram_only_the_uart_page_may_be_normal() -> None:
    assert judge(walk(regime(), early_map(uart_index=1).read), DRAM, UART) == []
    mem = early_map()
    mem.at(0x3000)[(UART >> 12 & 0x1FF) - 1] = page(UART - PAGE, 1)  # its neighbour: not the UART
    assert judge(walk(regime(), mem.read), DRAM, UART) == [
        "outside DRAM [0x40000000..0xc0000000): VA [0x3088f000..0x30890000) -> PA "
        "[0x3088f000..0x30890000) mapped Normal write-back (AttrIndx 1, MAIR byte 0xff)"
    ]


def test_invalid_and_reserved_descriptors_map_nothing() -> None:
    mem = Memory()
    root = mem.at(0x1000)
    root[0] = 0x40000000 | 0b10  # invalid
    root[1] = table(0x2000)
    mem.at(0x2000)[0] = table(0x3000)
    mem.at(0x3000)[0] = GIB | 0b01  # bits 01 at level 3: reserved, not a page
    mem.at(0x3000)[1] = page(GIB + PAGE, 1)
    assert walk(regime(), mem.read) == [Mapping(GIB + PAGE, GIB + PAGE, PAGE, 0xFF, 1)]


def test_a_48_bit_regime_starts_at_level_0() -> None:
    mem = Memory()
    mem.at(0x1000)[0] = table(0x2000)
    mem.at(0x2000)[1] = block(GIB, 1)
    mem.at(0x1000)[1] = block(1 << 39, 1)  # a block at level 0: reserved with 4 KiB pages
    assert walk(regime(tcr=16), mem.read) == [Mapping(GIB, GIB, GIB, 0xFF, 1)]


def test_what_cannot_be_walked_is_said() -> None:
    with pytest.raises(WalkError, match="TG0 = 1"):
        walk(regime(tcr=TCR_39 | 1 << 14), early_map().read)
    mem = early_map()
    mem.at(0x1000)[3] = table(0x9000)  # a table nobody wrote (outside memory)
    with pytest.raises(WalkError, match="level-2 table at 0x9000: read 0 of 4096 bytes"):
        walk(regime(), mem.read)


def test_memory_types() -> None:
    assert [memory_type(a) for a in (0x00, 0x04, 0x0C, 0xFF, 0x44, 0xBB, 0xF4)] == [
        "Device-nGnRnE",
        "Device-nGnRE",
        "Device-GRE",
        "Normal write-back",
        "Normal non-cacheable",
        "Normal write-through",
        "Normal inner non-cacheable, outer write-back",
    ]


def result(state: object) -> Any:
    return SimpleNamespace(extras={"early_map": state}, target=load("qemu-imx8mp"))


def state(mem: Memory, sctlr: int = 1, error: str | None = None) -> MmuOnState:
    r = regime()
    maps = () if error else tuple(walk(r, mem.read))
    return MmuOnState("early_mmu_begin", 0x40669000, 2, sctlr, r, maps, error)


def test_the_check_over_a_stop() -> None:
    good = check_early_map(result(state(early_map())))
    assert good.status == "pass", good.message
    assert "carve-outs left out: optee [0x56000000..0x58000000)" in good.message
    bad = check_early_map(result(state(early_map(hole=False))))
    assert bad.status == "fail"
    assert bad.message.startswith(
        "at the MMU enable (early_mmu_begin returned to 0x40669000 at "
        "EL2, TTBR0_EL2 0x1000): carve-out 'optee' [0x56000000..0x58000000)"
    )
    off = check_early_map(result(state(early_map(), sctlr=0)))
    assert off.status == "skip" and "the MMU never turned on" in off.message
    broken = check_early_map(result(state(early_map(), error="TCR_EL2.TG0 = 1")))
    assert broken.status == "fail" and "could not be read: TCR_EL2.TG0 = 1" in broken.message
    stock = check_early_map(result("a stock loader (no early_mmu_begin symbol)"))
    assert stock.status == "skip" and "stock loader" in stock.message
    none = check_early_map(SimpleNamespace(extras={}, target=load("qemu-imx8mp")))  # type: ignore[arg-type]
    assert none.status == "skip" and "--early-map" in none.message


def test_a_uboot_target_is_refused() -> None:
    """Behind U-Boot the loader starts after `bootm`, past the gdbstub's first stop."""
    fake: Any = SimpleNamespace(target=load("qemu-imx8mp-uboot"), strategy=SimpleNamespace(stages_image=True))
    with pytest.raises(HarnessError) as exc:
        BootSession._mmu_on(fake, None)  # type: ignore[arg-type]
    msg = str(exc.value)
    assert "qemu-imx8mp-uboot.yaml" in msg and "--early-map" in msg and "use qemu-imx8mp" in msg

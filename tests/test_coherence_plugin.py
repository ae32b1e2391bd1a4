"""Tests of the cache-model TCG plugin on tiny bare-metal guests.

Each program in tests/coherence_cases/ makes one cache-maintenance mistake (or
none) and ends at a `handoff` label; the plugin must report exactly that
mistake, with the right physical range, and nothing else.  A copy loop checks
the access counts for the timing model, exactly.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.testing import require_tool
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from harness.coherence import (
    CoherenceReport,
    Hazard,
    ReportError,
    plugin_args,
    plugin_path,
)

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "tests" / "coherence_cases"
BUILD_DIR = REPO / "build" / "coherence"
QEMU = "qemu-system-aarch64"
CC = "aarch64-linux-gnu-gcc"
RAM = (0x40000000, 256 << 20)
BUF = 0x40300000  # common.h
LINE = 64
BUF_END = BUF + 16 * LINE
M_C_I = (1 << 0) | (1 << 2) | (1 << 12)


def _need_tools() -> None:
    for tool in (QEMU, CC):
        require_tool(tool, "the cache-model plugin is tested on small guests under QEMU")


@pytest.fixture(scope="session")
def plugin() -> Path:
    """The plugin, built once under build/coherence (git-ignored)."""
    _need_tools()
    return plugin_path(BUILD_DIR)


def build_case(name: str, out_dir: Path, defines: tuple[str, ...] = (), tag: str = "") -> Path:
    """Assemble and link one guest program at 0x40100000 (above virt's DTB)."""
    elf = out_dir / f"{name}{tag}.elf"
    cmd = [
        CC, "-nostdlib", "-nostartfiles", "-static",
        "-Wl,-Ttext=0x40100000", "-Wl,--build-id=none",
        f"-I{CASES}", *[f"-D{d}" for d in defines],
        "-o", str(elf), str(CASES / f"{name}.S"),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return elf


def symbols(elf: Path) -> dict[str, int]:
    """The ELF's symbol addresses (labels such as handoff, begin)."""
    with open(elf, "rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        assert isinstance(table, SymbolTableSection)
        return {s.name: s["st_value"] for s in table.iter_symbols() if s.name}


def run_guest(
    plugin_lib: Path | None,
    elf: Path,
    out: Path,
    *,
    machine: str = "virt",
    begin: str | None = None,
    expect_handoff: str = "mmu-off",
    timeout: float = 60,
    **window: Any,
) -> tuple[CoherenceReport | None, str, float]:
    """Run one guest to its semihosting exit; return (report, output, seconds).

    The output joins stdout and stderr: QEMU writes the semihosting console
    (SYS_WRITE0) to stderr when -nographic.
    """
    syms = symbols(elf)
    cmd = [
        QEMU, "-machine", machine, "-cpu", "cortex-a53", "-m", "256M",
        "-nographic", "-nic", "none", "-monitor", "none", "-semihosting",
        "-kernel", str(elf),
    ]  # fmt: skip
    if plugin_lib is not None:
        cmd += plugin_args(
            plugin_lib,
            out,
            RAM,
            syms[begin] if begin else None,
            syms["handoff"],
            expect_handoff=expect_handoff,
            **window,
        )
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, f"QEMU failed ({proc.returncode}): {proc.stderr}"
    report = CoherenceReport.load(out) if plugin_lib is not None else None
    return report, proc.stdout + proc.stderr, elapsed


TT = 0x40200000  # common.h: the level 1 table
WARM_BUF = ((BUF, BUF_END),)  # firmware left BUF's lines valid (clean)
WARM_TT = ((TT, TT + LINE),)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str | None  # the one hazard kind expected, or None for a clean run
    ranges: tuple[tuple[int, int], ...] | None = ()  # None: not asserted
    pc_symbol: str | None = None  # the PC every hazard of the kind must carry
    defines: tuple[str, ...] = ()
    machine: str = "virt"
    tag: str = ""
    expect_handoff: str = "mmu-off"
    warm: tuple[tuple[int, int], ...] = ()  # start state: valid clean lines here
    handoff_el: int | None = None
    iwarm: tuple[tuple[int, int], ...] = ()  # start state: valid I-cache lines here
    end: str | None = None  # the window's end PC (symbol): where the stock path starts


CASES_TABLE = [
    Case("clean", None),
    Case("no_clean", "dirty-at-disable", ((BUF, BUF_END),)),
    Case("clean_short", "partial-clean", ((BUF_END - LINE, BUF_END),)),
    Case("no_icache", "stale-icache", ((BUF, BUF_END),)),
    Case("store_after_clean", "store-after-clean", ((BUF + 5 * LINE, BUF + 6 * LINE),), "late_store"),
    Case("device_normal", "device-normal", ((0x09000000, 0x09000000 + LINE),), "uart_load"),
    Case("handoff_mmu_on", "handoff-state", (), "handoff"),
    Case("stale_clean_line", "stale-clean-line", ((BUF, BUF + LINE),), "stale_load"),
    Case("invalidate_before_load", None),
    Case("setway_full", None),
    Case("setway_full", "dirty-at-disable", ((BUF, BUF_END),), defines=("LEVELS_TO_SWEEP=1",), tag="_l1_only"),
    Case("mmu_off", None),
    Case("el2_eret", "dirty-at-disable", ((BUF, BUF_END),), machine="virt,virtualization=on"),
    Case("ivac_dirty", "discarded-dirty", ((BUF, BUF + 2 * LINE),)),
    Case("zva_no_clean", "dirty-at-disable", ((BUF + 2 * LINE, BUF + 3 * LINE),)),
    Case("handoff_cached_dirty", "dirty-at-handoff", ((BUF, BUF_END),), "handoff", expect_handoff="any"),
    # ic iallu is judged like ic ivau: a line not yet cleaned to PoU stays I-stale
    Case("iallu_before_clean", "stale-icache", ((BUF, BUF_END),), "handoff"),
    Case("iallu_before_clean", None, defines=("CVAU_FIRST",), tag="_cvau_first"),
    # firmware left lines valid ("warm" start): uncached writes make them stale
    Case("warm_stale_load", "stale-clean-line", ((BUF, BUF + LINE),), "stale_load", warm=WARM_BUF),
    Case("warm_stale_load", None, defines=("INVALIDATE",), tag="_invalidated", warm=WARM_BUF),
    Case("warm_stale_load", None, tag="_cold"),
    Case("warm_stale_walk", "stale-walk", WARM_TT, warm=WARM_TT),
    Case("warm_stale_walk", None, defines=("INVALIDATE",), tag="_invalidated", warm=WARM_TT),
    Case("warm_stale_walk", None, defines=("WALK_NC",), tag="_walk_nc", warm=WARM_TT),
    Case("warm_handoff_stale", "stale-at-handoff", ((BUF, BUF_END),), "handoff", expect_handoff="sel4",
         warm=WARM_BUF, handoff_el=1),
    Case("warm_handoff_stale", None, defines=("INVALIDATE",), tag="_invalidated", expect_handoff="sel4",
         warm=WARM_BUF, handoff_el=1),
    # barriers: maintenance completed by a DSB of its domain; msr then a context sync
    Case("dsb_missing", "maintenance-incomplete", (), "first_dc"),
    Case("dsb_missing", "maintenance-incomplete", (), "first_dc", defines=("DSB_AFTER=nsh",), tag="_nsh"),
    Case("dsb_missing", None, defines=("DSB_AFTER=sy",), tag="_sy"),
    Case("dsb_missing", None, defines=("DSB_AFTER=ish",), tag="_ish"),
    Case("dsb_missing", "maintenance-incomplete", (), "first_dc", defines=("AT_ENABLE",), tag="_at_enable"),
    Case("dsb_missing", "maintenance-incomplete", (), "first_dc", defines=("AT_HANDOFF",), tag="_at_handoff"),
    # a D-side clean must complete before the I-side invalidate
    Case("ic_before_dsb", "maintenance-incomplete", (), "first_dc"),
    Case("ic_before_dsb", None, defines=("DSB",), tag="_dsb"),
    Case("no_isb", "no-isb", (), "msr_write"),
    Case("no_isb", None, defines=("ISB",), tag="_isb"),
    Case("no_isb", "no-isb", (), "msr_write", defines=("TTBR_ON",), tag="_ttbr_on"),
    Case("no_isb", None, defines=("TTBR_ON", "ISB"), tag="_ttbr_on_isb"),
    Case("no_isb", "no-isb", (), "msr_write", defines=("TTBR_OFF",), tag="_ttbr_off"),
    Case("no_isb", None, defines=("TTBR_OFF", "ISB"), tag="_ttbr_off_isb"),
    # the TLB: stale from the start and after abandoned tables; an enable needs a tlbi + dsb
    Case("tlb_stale", "tlb-stale", ()),
    Case("tlb_stale", None, defines=("TLBI",), tag="_tlbi"),
    Case("tlb_stale", "tlb-stale", (), defines=("TLBI_VA",), tag="_tlbi_va"),
    Case("tlb_stale", "tlb-stale", (), defines=("NEW_TABLES",), tag="_new_tables"),
    Case("tlb_stale", None, defines=("NEW_TABLES", "TLBI2"), tag="_new_tables_tlbi"),
    # the window's end (where seL4's stock path starts) is judged like the hand-off
    Case("window_end", "maintenance-incomplete", (), "first_op", end="window_end"),
    Case("window_end", "no-isb", (), "first_op", defines=("NO_ISB",), tag="_no_isb", end="window_end"),
    Case("window_end", "no-isb", (), "first_op", defines=("MSR",), tag="_msr", end="window_end"),
    Case("window_end", None, defines=("CLEAN",), tag="_clean", end="window_end"),
    # the I-cache may be on at entry: uncached writes leave its copy old
    Case("icache_warm", "stale-icache", ((BUF, BUF + LINE),), iwarm=((BUF, BUF + LINE),)),
    Case("icache_warm", None, defines=("IC",), tag="_ic", iwarm=((BUF, BUF + LINE),)),
    Case("icache_warm", None, tag="_icache_cold"),
    Case("coverage", None),
]  # fmt: skip


@pytest.mark.qemu
@pytest.mark.parametrize("case", CASES_TABLE, ids=[c.name + c.tag for c in CASES_TABLE])
def test_hazard_case(plugin: Path, tmp_path: Path, case: Case) -> None:
    elf = build_case(case.name, tmp_path, case.defines, case.tag)
    window: dict[str, Any] = {"warm": case.warm, "iwarm": case.iwarm}
    if case.end is not None:
        window["end_pcs"] = [symbols(elf)[case.end]]
    if case.handoff_el is not None:
        window["handoff_el"] = case.handoff_el
    report, _, _ = run_guest(
        plugin,
        elf,
        tmp_path / "report.json",
        machine=case.machine,
        expect_handoff=case.expect_handoff,
        **window,
    )
    assert report is not None
    assert report.complete and report.handoff_seen
    assert report.start == ("warm" if case.warm else "cold")
    found = {h.kind: h for h in report.hazards}
    if case.kind is None:
        assert report.hazards == (), f"false alarm: {report.hazards}"
        assert report.sctlr_at_handoff is not None
        if case.expect_handoff == "mmu-off":
            assert report.sctlr_at_handoff & M_C_I == 0
        return
    assert set(found) == {case.kind}, f"expected only {case.kind}, got {report.hazards}"
    if case.ranges is not None:
        assert report.ranges_of(case.kind) == list(case.ranges)
    if case.pc_symbol is not None:
        want = symbols(elf)[case.pc_symbol]
        assert {h.pc for h in report.hazards_of(case.kind)} == {want}
    if case.machine.endswith("virtualization=on"):
        assert report.el_at_handoff == 1  # followed the eret from EL2 to EL1


@pytest.mark.qemu
def test_stale_icache_reported_at_fetch_and_handoff(plugin: Path, tmp_path: Path) -> None:
    """The fetch from the written line (I=1, no ic) and the handoff both report."""
    elf = build_case("no_icache", tmp_path)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r.json")
    assert report is not None
    by_pc = {h.pc: h for h in report.hazards_of("stale-icache")}
    assert set(by_pc) == {BUF, symbols(elf)["handoff"]}
    assert by_pc[BUF].ranges == ((BUF, BUF + LINE),)
    assert by_pc[symbols(elf)["handoff"]].lines == 16
    clipped = by_pc[BUF].clipped([(BUF, BUF + 8)], LINE)
    assert clipped is not None and clipped.lines == 1
    assert by_pc[BUF].clipped([(0, 0x1000)], LINE) is None


@pytest.mark.qemu
def test_handoff_state_reports_sctlr(plugin: Path, tmp_path: Path) -> None:
    elf = build_case("handoff_mmu_on", tmp_path)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r.json")
    assert report is not None
    (h,) = report.hazards_of("handoff-state")
    assert h.sctlr is not None and h.sctlr & M_C_I == M_C_I
    assert report.sctlr_at_handoff == h.sctlr and report.el_at_handoff == 1


def _sizes(**kw: int) -> dict[int, int]:
    d = {1: 0, 2: 0, 4: 0, 8: 0, 16: 0}
    d.update({int(k[1:]): v for k, v in kw.items()})
    return d


@pytest.mark.qemu
@pytest.mark.parametrize("cached", [False, True], ids=["mmu_off", "cached"])
@pytest.mark.parametrize("nbytes", [4096, 65536])
def test_copy_counts_exact(plugin: Path, tmp_path: Path, cached: bool, nbytes: int) -> None:
    """ldp/stp copy between begin and handoff: every count is known exactly.

    QEMU performs ldp/stp of two X registers as one 16-byte access.
    """
    defines = (f"COPY_BYTES={nbytes}",) + (("CACHED",) if cached else ())
    elf = build_case("count_copy", tmp_path, defines)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r.json", begin="begin")
    assert report is not None and report.begin_seen and report.complete
    iters, lines = nbytes // 16, nbytes // LINE
    insns = 4 * iters + 1 + ((4 * lines + 4) if cached else 0)
    c = report.counts
    assert c.insns == insns
    assert (c.ifetch_cacheable, c.ifetch_uncached) == ((insns, 0) if cached else (0, insns))
    moved = _sizes(s16=iters)
    none = _sizes()
    assert dict(c.loads.cacheable) == (moved if cached else none)
    assert dict(c.loads.uncached) == (none if cached else moved)
    assert dict(c.stores.cacheable) == (moved if cached else none)
    assert dict(c.stores.uncached) == (none if cached else moved)
    expect_cmo = {k: 0 for k in c.cmo}
    if cached:
        expect_cmo.update(dc_cvac=lines, ic_iallu=1)
    assert dict(c.cmo) == expect_cmo
    # Cleaned and I-invalidated inside the window: only the MMU-on handoff is wrong.
    assert report.kinds() == ({"handoff-state"} if cached else set())


@pytest.mark.qemu
def test_sel4_contract(plugin: Path, tmp_path: Path) -> None:
    """seL4 enters its kernel cached: dirty lines then are no hazard, MMU off is."""
    elf = build_case("handoff_cached_dirty", tmp_path)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r.json", expect_handoff="sel4", handoff_el=1)
    assert report is not None and report.handoff_seen and report.expect_handoff == "sel4"
    assert report.hazards == (), f"false alarm under the sel4 contract: {report.hazards}"
    report, _, _ = run_guest(plugin, elf, tmp_path / "r2.json", expect_handoff="sel4", handoff_el=2)
    assert report is not None and report.kinds() == {"handoff-state"}  # wrong EL
    elf = build_case("mmu_off", tmp_path)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r3.json", expect_handoff="sel4")
    assert report is not None and report.kinds() == {"handoff-state"}  # MMU off


@pytest.mark.qemu
def test_failed_walks_are_reported_never_write_back(plugin: Path, tmp_path: Path) -> None:
    """A 64 KiB granule map: the model cannot walk it, so every access under it is a
    walk-failed hazard (PC and VA), counted uncached, and the UART access is reported
    too (the device-mapping check cannot judge it, so it must not pass quietly)."""
    elf = build_case("walk_failed", tmp_path)
    syms = symbols(elf)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r.json")
    assert report is not None and report.handoff_seen
    assert report.kinds() == {"walk-failed"}, report.hazards
    by_pc = {h.pc: h for h in report.hazards_of("walk-failed")}
    store, uart = by_pc[syms["ram_store"]], by_pc[syms["uart_load"]]
    assert store.va == BUF and store.ranges == ((BUF, BUF + LINE),)
    assert uart.va == 0x09000018 and uart.ranges == ((0x09000000, 0x09000000 + LINE),)
    assert report.walks_failed > 0 and len(by_pc) >= 2  # walks are memoised per page
    assert sum(report.counts.stores.cacheable.values()) == 0  # never defaulted to write-back


@pytest.mark.qemu
def test_fetches_take_the_mappings_cacheability(plugin: Path, tmp_path: Path) -> None:
    """Code mapped Normal Non-cacheable: with SCTLR.I set its fetches are still uncached
    (count_copy's write-back map is the positive side: every fetch cacheable)."""
    elf = build_case("fetch_nc", tmp_path)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r.json", begin="begin", expect_handoff="any")
    assert report is not None and report.begin_seen and report.handoff_seen
    insns = 2 * 100 + 1
    c = report.counts
    assert (c.insns, c.ifetch_cacheable, c.ifetch_uncached) == (insns, 0, insns)
    assert report.kinds() == set(), report.hazards


@pytest.mark.qemu
def test_window_end_and_targets(plugin: Path, tmp_path: Path) -> None:
    """An end PC closes the counts before the hand-off; by_target splits them."""
    elf = build_case("handoff_cached_dirty", tmp_path)
    syms = symbols(elf)
    full, _, _ = run_guest(plugin, elf, tmp_path / "a.json", expect_handoff="any")
    cut, _, _ = run_guest(
        plugin,
        elf,
        tmp_path / "b.json",
        expect_handoff="any",
        end_pcs=[syms["handoff"] - 4],
        targets={"dest": [(BUF, BUF_END)]},
    )
    assert full is not None and cut is not None and cut.end_seen and not full.end_seen
    assert cut.counts.insns < full.counts.insns
    assert cut.kinds() == full.kinds() == {"dirty-at-handoff"}  # hazards go on to the hand-off
    split = cut.counts.by_target
    assert sum(t.total() for t in split.values()) == cut.counts.loads.total() + cut.counts.stores.total()
    assert split["dest"].stores.total() > 0 and split["dest"].ranges == ((BUF, BUF_END),)


@pytest.mark.host
def test_plugin_args_window_options() -> None:
    args = plugin_args(
        Path("/p"),
        Path("/o"),
        (0x40000000, 0x1000),
        0x10,
        0x20,
        expect_handoff="sel4",
        begin_hit=2,
        end_pcs=[0x30, 0x40],
        handoff_el=2,
        targets={"source": [(0x100, 0x200)], "dest": [(1, 2), (3, 4)]},
    )
    assert args[1].endswith(
        ",begin_hit=2,end_pc=0x30,end_pc=0x40,handoff_el=2,source=0x100:0x200,dest=0x1:0x2,dest=0x3:0x4"
    )
    with pytest.raises(ValueError):
        plugin_args(Path("/p"), Path("/o"), (0, 1), None, None, expect_handoff="mmu-on")


@pytest.mark.host
def test_plugin_args_warm_start() -> None:
    """warm=S:E per range (firmware left valid clean lines there); none: a cold start."""
    args = plugin_args(
        Path("/p"),
        Path("/o"),
        (0x40000000, 0x1000),
        None,
        None,
        warm=[(0x40000000, 0x40001000), (0x40100000, 0x40100040)],
    )
    assert args[1].endswith(
        ",warm=0x40000000:0x40001000,warm=0x40100000:0x40100040,iwarm=0x40000000:0x40001000,iwarm=0x40100000:0x40100040"
    )
    assert "warm=" not in plugin_args(Path("/p"), Path("/o"), (0x40000000, 0x1000), None, None)[1]
    with pytest.raises(ValueError, match="warm"):
        plugin_args(Path("/p"), Path("/o"), (0, 1), None, None, warm=[(0x10, 0x20)] * 17)


@pytest.mark.host
def test_plugin_args_syntax(tmp_path: Path) -> None:
    args = plugin_args(Path("/p/lib.so"), Path("/o/a,b.json"), (0x40000000, 0x10000000), None, 0x40080000)
    assert args == [
        "-plugin",
        "file=/p/lib.so,out=/o/a,,b.json,ram=0x40000000:0x10000000,expect_handoff=mmu-off,handoff_pc=0x40080000",
    ]
    with pytest.raises(ValueError):
        plugin_args(Path("/p"), Path("/o"), (0, 0), None, None)


@pytest.mark.host
def test_report_validation(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    with pytest.raises(ReportError, match="no report"):
        CoherenceReport.load(bad)
    bad.write_text('{"version": 1, "line_size": 64}')
    with pytest.raises(ReportError, match="missing field"):
        CoherenceReport.load(bad)
    good: dict[str, Any] = {
        "version": 1, "line_size": 64, "complete": True, "handoff_seen": False,
        "sctlr_at_handoff": None, "el_at_handoff": None,
        "hazards": [{"kind": "partial-clean", "pc": "0x10", "count": 1,
                     "ranges": [[0x40000000, 0x40000040]], "lines": 1}],
        "counts": {"insns": 3, "ifetch_cacheable": 1, "ifetch_uncached": 2,
                   "loads": {p: {str(s): 0 for s in (1, 2, 4, 8, 16)} for p in ("cacheable", "uncached")},
                   "stores": {p: {str(s): 0 for s in (1, 2, 4, 8, 16)} for p in ("cacheable", "uncached")},
                   "cmo": {"dc_cvac": 2}},
        "window": {"begin_seen": True},
    }  # fmt: skip
    bad.write_text(json.dumps(good))
    r = CoherenceReport.load(bad)
    assert r.hazards_of("partial-clean") == [Hazard("partial-clean", ((0x40000000, 0x40000040),), 1, 0x10, 1)]
    assert r.counts.cmo == {"dc_cvac": 2}
    with pytest.raises(ValueError):
        r.hazards_of("no-such-kind")
    del good["counts"]["stores"]["uncached"]["16"]
    bad.write_text(json.dumps(good))
    with pytest.raises(ReportError, match="'16'"):
        CoherenceReport.load(bad)


def _pass_seconds(stdout: str) -> list[float]:
    """The guest prints each timed pass as CNTVCT ticks (62.5 MHz) in hex."""
    return [int(t, 16) / 62.5e6 for t in re.findall(r"^([0-9a-f]{16})$", stdout, re.M)]


def _report_with(tmp_path: Path, hazards: list[dict[str, Any]]) -> CoherenceReport:
    sizes = {str(s): 0 for s in (1, 2, 4, 8, 16)}
    data = {
        "version": 1, "line_size": 64, "complete": True, "handoff_seen": True,
        "sctlr_at_handoff": "0x0", "el_at_handoff": 1, "ram": [0x40000000, 0x80000000],
        "start": "warm", "warm": [[0x40000000, 0x40001000]], "hazards": hazards,
        "counts": {"insns": 1, "ifetch_cacheable": 0, "ifetch_uncached": 1,
                   "loads": {"cacheable": sizes, "uncached": sizes},
                   "stores": {"cacheable": sizes, "uncached": sizes}, "cmo": {}, "walks_failed": 1},
        "window": {"begin_seen": True},
    }  # fmt: skip
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    return CoherenceReport.load(path)


@pytest.mark.host
@pytest.mark.parametrize(
    "pc,page_walk,device", [(0x40100010, "fail", "skip"), (0x100, "pass", "pass")], ids=["loader", "firmware"]
)
def test_failed_walk_to_a_device_never_passes_device_mapping(
    tmp_path: Path, pc: int, page_walk: str, device: str
) -> None:
    """A loader access to MMIO whose walk failed: page-walk fails naming PC and VA, and
    device-mapping cannot vouch for it (skip, naming it) instead of passing quietly;
    firmware's (PC outside the loader) keep their grace."""
    from types import SimpleNamespace

    from harness.checks import CACHE_CHECKS as CHECKS

    report = _report_with(
        tmp_path,
        [
            {
                "kind": "walk-failed",
                "pc": f"{pc:#x}",
                "count": 1,
                "va": "0x9000018",
                "ranges": [[0x09000000, 0x09000040]],
                "lines": 1,
            }
        ],
    )
    assert report.start == "warm" and report.warm == ((0x40000000, 0x40001000),) and report.walks_failed == 1
    payload = SimpleNamespace(
        loader=SimpleNamespace(span=(0x40100000, 0x40200000)), locate=lambda addr, tl=None: "somewhere"
    )
    result = SimpleNamespace(extras={"coherence": report}, payload=payload, timeline=None)
    walk, dev = CHECKS["page-walk"](result), CHECKS["device-mapping"](result)  # type: ignore[arg-type]
    assert (walk.status, dev.status) == (page_walk, device), (walk, dev)
    if page_walk == "fail":
        assert walk.message.startswith("walk-failed: ") and f"va=0x9000018 pc={pc:#x}" in walk.message
        assert f"pc={pc:#x}" in dev.message and "page-walk" in dev.message


@pytest.mark.host
def test_start_state_and_warm_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warm on direct boots, cold behind U-Boot, the environment overrides; ranges merged
    and capped at the plugin's 16."""
    from types import SimpleNamespace

    from harness.coherence.start import START_ENV, start_state, warm_ranges

    monkeypatch.delenv(START_ENV, raising=False)
    assert (start_state(True), start_state(False)) == ("warm", "cold")
    monkeypatch.setenv(START_ENV, "cold")
    assert start_state(True) == "cold"
    assert start_state(True, chosen="warm") == "warm"  # --cache-start beats the environment
    with pytest.raises(ValueError, match="--cache-start"):
        start_state(True, chosen="hot")
    monkeypatch.setenv(START_ENV, "tepid")
    with pytest.raises(ValueError, match=START_ENV):
        start_state(True)
    segs = [SimpleNamespace(paddr=0x50000000 + i * 0x10000, memsz=0x100) for i in range(20)]
    payload = SimpleNamespace(
        loader=SimpleNamespace(span=(0x40000000, 0x40100000)),
        reference=True,
        contract="mmu-off",
        images=(SimpleNamespace(name="probe", span=(0x50000000, 0x50130100), segments=segs),),
    )
    warm = warm_ranges(payload, "warm")  # type: ignore[arg-type]
    assert len(warm) == 16 and warm[0] == (0x40000000, 0x40100000) and warm[-1][1] == 0x50130100
    assert warm_ranges(payload, "cold") == []  # type: ignore[arg-type]


@pytest.mark.host
def test_warm_user_images_where_sel4_places_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """seL4's user images start warm at the address its placement rule gives (the one
    placement poison and the dump use), not at their ELF paddrs; one whose place only
    the run can tell stays cold."""
    from types import SimpleNamespace

    import harness.qemu.verify
    from harness.coherence.start import warm_ranges

    kernel = SimpleNamespace(
        name="kernel", span=(0x40000000, 0x40200000), segments=[SimpleNamespace(paddr=0x40000000, memsz=0x200000)]
    )
    root = SimpleNamespace(
        name="rootserver", span=(0x400000, 0x500000), segments=[SimpleNamespace(paddr=0x400000, memsz=0x100000)]
    )
    other = SimpleNamespace(
        name="unplaced", span=(0x600000, 0x601000), segments=[SimpleNamespace(paddr=0x600000, memsz=0x1000)]
    )
    payload = SimpleNamespace(
        loader=SimpleNamespace(span=(0x60000000, 0x60100000)),
        reference=False,
        contract="sel4",
        images=(kernel, root, other),
    )
    monkeypatch.setattr(
        harness.qemu.verify, "image_offsets", lambda p, tl=None: {"kernel": 0, "rootserver": 0x40300000 - 0x400000}
    )
    warm = warm_ranges(payload, "warm")  # type: ignore[arg-type]
    assert warm == [(0x40000000, 0x40200000), (0x40300000, 0x40400000), (0x60000000, 0x60100000)]


UNPACK_SRC = (0x40400000, 0x40401000)
UNPACK_DST = (BUF, BUF + 4096)


@pytest.mark.qemu
@pytest.mark.parametrize(
    "defines,attr",
    [
        ((), "wb"),
        (("NORMAL_ATTR=0xbb",), "wt"),
        (("NORMAL_ATTR=0x44",), "nc"),
        (("NORMAL_ATTR=0x00",), "device"),
        (("MMU_OFF",), "mmu-off"),
        (("DCACHE_OFF",), "dcache-off"),
    ],
    ids=["wb", "wt", "nc", "device", "mmu_off", "dcache_off"],
)
def test_accesses_split_by_attribute(plugin: Path, tmp_path: Path, defines: tuple[str, ...], attr: str) -> None:
    """Every store of the copy to its destination, and every load from its source, is
    counted under the attribute it went through: what unpack-cached judges."""
    elf = build_case("unpack_attr", tmp_path, defines)
    report, _, _ = run_guest(
        plugin, elf, tmp_path / "r.json", begin="begin", targets={"dest": [UNPACK_DST], "source": [UNPACK_SRC]}
    )
    assert report is not None and report.handoff_seen
    assert report.kinds() == set(), report.hazards
    split = report.counts.by_target
    n = 4096 // 16
    assert {a: c for a, c in split["dest"].stores_by_attr.items() if c} == {attr: n}
    assert {a: c for a, c in split["source"].loads_by_attr.items() if c} == {attr: n}


def _timeline(*lines: str) -> Any:
    from harness.console import ConsoleLine
    from harness.phases import Timeline

    tl = Timeline(t0_ns=0)
    for i, text in enumerate(lines):
        tl.feed(ConsoleLine(i, text))
    return tl


EARLY_ON = "Early MMU: caches on for unpack, DRAM [40000000..c0000000) Normal WB, UART 9000000 Device-nGnRnE"


def _attr_report(tmp_path: Path, dest: dict[str, int], source: dict[str, int]) -> CoherenceReport:
    from harness.coherence.plugin_report import ATTRIBUTES

    sizes = {str(s): 0 for s in (1, 2, 4, 8, 16)}
    acc = {"cacheable": sizes, "uncached": sizes}
    target = {"loads": acc, "stores": acc, "ranges": []}

    def with_attrs(loads: dict[str, int], stores: dict[str, int]) -> dict[str, Any]:
        return {
            **target,
            "loads_by_attr": {a: loads.get(a, 0) for a in ATTRIBUTES},
            "stores_by_attr": {a: stores.get(a, 0) for a in ATTRIBUTES},
        }

    data = {
        "version": 1, "line_size": 64, "complete": True, "handoff_seen": True,
        "sctlr_at_handoff": "0x0", "el_at_handoff": 1, "hazards": [],
        "counts": {"insns": 1, "ifetch_cacheable": 0, "ifetch_uncached": 1, "loads": acc, "stores": acc,
                   "cmo": {}, "by_target": {"dest": with_attrs({}, dest), "source": with_attrs(source, {})}},
        "window": {"begin_seen": True},
    }  # fmt: skip
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    return CoherenceReport.load(path)


@pytest.mark.host
@pytest.mark.parametrize(
    "dest,lines,status,says",
    [
        ({"wb": 1000}, (EARLY_ON,), "pass", "Normal write-back"),
        ({"wt": 1000}, (EARLY_ON,), "fail", "100.0 % of the 1000 destination stores went through Normal write-through"),
        (
            {"wb": 900, "device": 100},
            ("@h mode early-mmu el=1",),
            "fail",
            "10.0 % of the 1000 destination stores went through Device",
        ),
        ({"mmu-off": 1000}, (EARLY_ON,), "fail", "went through the MMU off"),
        ({"wb": 999, "mmu-off": 1}, (EARLY_ON,), "pass", "write-back"),
        ({"mmu-off": 1000}, (), "skip", "no early-MMU announcement"),
        ({"mmu-off": 1000}, ("@h mode mmu-off el=1",), "skip", "mode 'mmu-off'"),
        (
            {"mmu-off": 1000},
            ("Early MMU: no page tables (no console UART), unpacking with the MMU off",),
            "skip",
            "fallback (no console UART)",
        ),
    ],
    ids=["wb", "wt", "device-share", "mmu-off", "below-share", "stock", "mmu-off-mode", "fallback"],
)
def test_unpack_cached_judges_the_promise(
    tmp_path: Path, dest: dict[str, int], lines: tuple[str, ...], status: str, says: str
) -> None:
    """A loader that announced a cached unpack fails unpack-cached when its destination
    stores (or source loads) went through anything but Normal write-back, naming the
    attribute and its share; one that promised nothing is not judged (skip, why)."""
    from types import SimpleNamespace

    from harness.checks import CACHE_CHECKS as CHECKS

    report = _attr_report(tmp_path, dest, {"wb": 500})
    result = SimpleNamespace(extras={"coherence": report}, timeline=_timeline(*lines))
    check = CHECKS["unpack-cached"](result)  # type: ignore[arg-type]
    assert check.status == status, check
    assert says in check.message, check.message


@pytest.mark.qemu
@pytest.mark.parametrize("defines,label", [((), "mmu_on"), (("NEW_TABLES",), "mmu_on2")], ids=["start", "new_tables"])
def test_tlb_stale_names_the_enable(plugin: Path, tmp_path: Path, defines: tuple[str, ...], label: str) -> None:
    """tlb-stale is reported at the msr that turns the MMU on (caches_on: mrs, ldr, orr,
    msr), saying since when the TLB may be stale."""
    elf = build_case("tlb_stale", tmp_path, defines)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r.json")
    assert report is not None
    (h,) = report.hazards_of("tlb-stale")
    assert h.pc == symbols(elf)[label] + 12
    assert h.detail is not None and "tlbi of the EL1&0 regime" in h.detail
    assert ("since the loader was entered" in h.detail) == (label == "mmu_on")


@pytest.mark.qemu
def test_maintenance_by_va_is_recorded(plugin: Path, tmp_path: Path) -> None:
    """The plugin reports which lines the loader cleaned to PoC by VA, and which it
    invalidated with the D-cache off before its first enable (compact ranges)."""
    elf = build_case("coverage", tmp_path)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r.json")
    assert report is not None and report.has_maintained and report.kinds() == set()
    assert report.cleaned == ((BUF, BUF_END),)
    assert report.invalidated == ((BUF, BUF + 8 * LINE),)
    assert not report.setway_cleaned and not report.setway_invalidated
    elf = build_case("setway_full", tmp_path)
    report, _, _ = run_guest(plugin, elf, tmp_path / "r2.json")
    assert report is not None and report.setway_cleaned and report.cleaned == ()


def _coverage_result(
    tmp_path: Path, cleaned: list[list[int]], invalidated: list[list[int]], lines: tuple[str, ...] = (EARLY_ON,)
) -> Any:
    from types import SimpleNamespace

    report = _attr_report(tmp_path, {"wb": 1}, {"wb": 1})
    raw = dict(report.raw)
    raw["maintained"] = {"clean": cleaned, "invalidate": invalidated, "setway_clean": False, "setway_invalidate": False}
    path = tmp_path / "cov.json"
    path.write_text(json.dumps(raw))
    seg = SimpleNamespace(paddr=0x40000000, memsz=0x1000)
    kernel = SimpleNamespace(name="kernel", span=(0x40000000, 0x40001000), segments=[seg])
    payload = SimpleNamespace(
        loader=SimpleNamespace(symbols={"_archive_end": 0x40100040, "_end": 0x40102000}),
        images=(kernel,),
        reference=False,
    )
    return SimpleNamespace(
        extras={"coherence": CoherenceReport.load(path)}, timeline=_timeline(*lines), payload=payload
    )


@pytest.mark.host
@pytest.mark.parametrize(
    "cleaned,invalidated,status,says",
    [
        ([[0x40000000, 0x40001000], [0x40100040, 0x40102000]], [[0x40100040, 0x40102000]], "pass", "covers 2"),
        (
            [[0x40000000, 0x40001000], [0x40100080, 0x40102000]],
            [[0x40100040, 0x40102000]],
            "fail",
            "the final clean to PoC by VA misses [0x40100040..0x40100080) (1 line(s)) of the loader's "
            "writable range (_archive_end.._end)",
        ),
        (
            [[0x40000000, 0x40001000], [0x40100040, 0x40102000]],
            [[0x40100040, 0x40101FC0]],
            "fail",
            "the invalidate by VA before the caches go on misses [0x40101fc0..0x40102000)",
        ),
        (
            [[0x40000000, 0x40000FC0], [0x40100040, 0x40102000]],
            [[0x40100040, 0x40102000]],
            "fail",
            "misses [0x40000fc0..0x40001000) (1 line(s)) of image 'kernel' segment 0",
        ),
    ],
    ids=["covered", "clean-short-start", "invalidate-short-end", "destination-short"],
)
def test_coverage_names_the_first_missed_range(
    tmp_path: Path, cleaned: list[list[int]], invalidated: list[list[int]], status: str, says: str
) -> None:
    """maintenance-coverage: the final clean covers every destination and the loader's
    writable range, the invalidate before the enable the writable range; a missed line is
    named even though no hazard arose in this boot."""
    import harness.qemu.verify
    from harness.checks import CACHE_CHECKS as CHECKS

    result = _coverage_result(tmp_path, cleaned, invalidated)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(harness.qemu.verify, "image_offsets", lambda p, tl=None: {"kernel": 0})
        check = CHECKS["maintenance-coverage"](result)
        stock = CHECKS["maintenance-coverage"](_coverage_result(tmp_path, [], [], ()))
    assert check.status == status, check
    assert says in check.message, check.message
    assert stock.status == "skip"


@pytest.mark.host
def test_coverage_leaves_a_gap_this_boot_showed_to_its_hazard_check(tmp_path: Path) -> None:
    """A missed line that is dirty in this boot is cache-clean's defect: one defect, one
    failing check (maintenance-coverage says so and passes)."""
    import harness.qemu.verify
    from harness.checks import CACHE_CHECKS as CHECKS

    result = _coverage_result(
        tmp_path, [[0x40000000, 0x40001000], [0x40100080, 0x40102000]], [[0x40100040, 0x40102000]]
    )
    raw = dict(result.extras["coherence"].raw)
    raw["hazards"] = [
        {"kind": "partial-clean", "pc": "0x40100010", "count": 1, "ranges": [[0x40100040, 0x40100080]], "lines": 1}
    ]
    path = tmp_path / "shown.json"
    path.write_text(json.dumps(raw))
    result.extras["coherence"] = CoherenceReport.load(path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(harness.qemu.verify, "image_offsets", lambda p, tl=None: {"kernel": 0})
        check = CHECKS["maintenance-coverage"](result)
    assert check.status == "pass" and "already cache-clean's hazards" in check.message, check

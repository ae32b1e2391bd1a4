"""The rest of the board path on the i.MX8M Plus U-Boot: `load mmc` from an SD card,
`bootelf`, FIT (targets/qemu-imx8mp-uboot-mmc.yaml; docs/uboot-imx8mp.md).

Host tests: the target's keys, the commands typed, the SD card the harness writes and
where QEMU puts it, the buffer QEMU's SD host can load into, U-Boot's error lines. Boot
tests (on an imx8mp U-Boot target with `transport: mmc`): the load's own report on the
timeline, a missing file on the card, and real seL4 started by `bootelf` and from a FIT.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from harness import processes
from harness.console import ConsoleLine
from harness.console_lines import Patterns
from harness.errors import HarnessError
from harness.images.build import ROOT
from harness.images.package import Package, package
from harness.payload import Payload
from harness.phases import Event, Timeline
from harness.sel4.build import build
from harness.sel4.config import Sel4Config, for_target
from harness.session import BootSession
from harness.targets import Target, load
from harness.uboot import UBootBootStrategy, commands, diagnose, placement, qemu_start, sdcard, strategy
from harness.uboot.placement import MMC_SKEW, SDMA_BOUNDARY, Placement

TARGET = "qemu-imx8mp-uboot-mmc"
PATCH = ROOT / "images" / "uboot-imx8mp" / "qemu-usdhc.patch"


def with_fields(target: Target, tmp: Path, **fields: Any) -> Target:
    """The target with some `harness.uboot` fields changed (a copy of its YAML)."""
    data: dict[str, Any] = yaml.safe_load(target.path.read_text())
    data["harness"]["uboot"].update(fields)
    path = tmp / f"{target.name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load(str(path))


# -- host ------------------------------------------------------------------------------


@pytest.mark.host
def test_the_mmc_target_reads_the_sd_slot_without_a_network() -> None:
    t = load(TARGET)
    assert t.uboot is not None and (t.uboot.transport, t.uboot.mmc, t.uboot.package) == ("mmc", "1:1", "uimage")
    assert t.uboot.setup == ()  # no ipaddr/serverip: nothing goes over a network
    assert "-nic none" in t.env["targets"]["main"]["drivers"]["QEMUDriver"]["extra_args"]


@pytest.mark.host
@pytest.mark.parametrize("bad", ["1", "a:1", "1:1:1", 1])
def test_a_bad_mmc_partition_is_named(bad: object, tmp_path: Path) -> None:
    """Negative control of the `mmc:` field: one defect, one error naming it."""
    with pytest.raises(HarnessError) as exc:
        with_fields(load(TARGET), tmp_path, mmc=bad)
    assert "harness.uboot.mmc" in str(exc.value) and "DEV:PART" in str(exc.value)


@pytest.mark.host
def test_mmc_and_bootelf_commands(tmp_path: Path) -> None:
    where = Placement(0x60000040, False, True)
    t = load(TARGET)
    assert commands.command_sequence(t, "sel4.uimg", where) == [
        "load mmc 1:1 0x60000040 sel4.uimg",
        "bootm 0x60000040 - ${fdtcontroladdr}",
    ]
    elf = with_fields(t, tmp_path, package="elf", mmc="2:1")
    # bootelf only copies the segments unless autostart says yes; -p: by program headers
    assert commands.command_sequence(elf, "sel4.elf", where) == [
        "setenv autostart yes",
        "load mmc 2:1 0x60000040 sel4.elf",
        "bootelf -p 0x60000040",
    ]


@pytest.mark.host
def test_the_card_goes_on_the_sd_host_uboot_names(tmp_path: Path) -> None:
    card = tmp_path / "card.img"
    assert qemu_start.sd_card_args("imx8mp", "1:1", card) == ["-drive", f"if=sd,bus=1,format=raw,file={card}"]
    assert qemu_start.sd_card_args("imx8mp", "2:1", card)[1].startswith("if=sd,bus=2,")
    for machine, mmc in (("imx8mp", "0:1"), ("virt", "1:1")):
        with pytest.raises(HarnessError) as exc:
            qemu_start.sd_card_args(machine, mmc, card)
        assert "harness.uboot.mmc" in str(exc.value)


@pytest.mark.host
def test_the_card_holds_the_file_byte_for_byte_and_is_reproducible(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000
    boot = tmp_path / "boot.bin"
    boot.write_bytes(data)
    one = sdcard.write_card({"sel4.uimg": boot}, tmp_path / "a")
    two = sdcard.write_card({"sel4.uimg": boot}, tmp_path / "b")
    assert one.read_bytes() == two.read_bytes()  # --invariant, fixed ids: same files, same card
    assert one.stat().st_size == sdcard.CARD_MIN  # QEMU's SD model wants a power of two
    assert sdcard.listing(one) == {"sel4.uimg": len(data)}
    table = subprocess.run(
        ["sfdisk", "--dump", str(one)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/sbin:/sbin:/usr/bin:/bin"},
    ).stdout
    assert "start=        2048" in table and "type=c" in table
    got = subprocess.run(
        ["mtype", "-i", f"{one}@@{sdcard.PART_START}", "::sel4.uimg"], capture_output=True, check=True
    ).stdout
    assert got == data


@pytest.mark.host
def test_card_sizes_are_powers_of_two_that_hold_the_file() -> None:
    for n in (0, 1, 27 << 20, 596_000_000):
        size = sdcard.card_size(n)
        assert size & (size - 1) == 0 and size >= sdcard.PART_START + n


@pytest.mark.host
def test_a_path_is_not_a_file_name_on_the_card(tmp_path: Path) -> None:
    f = tmp_path / "x"
    f.write_bytes(b"x")
    with pytest.raises(HarnessError) as exc:
        sdcard.write_card({"dir/x": f}, tmp_path)
    assert "dir/x" in str(exc.value)


def _pkg(load_at: int, size: int, kind: str = "elf") -> Package:
    class Sized(Package):
        @property
        def size(self) -> int:
            return size

    return Sized(kind, Path("/nonexistent"), load_at, load_at, size)


@pytest.mark.host
def test_an_mmc_buffer_never_starts_on_a_512k_boundary(tmp_path: Path) -> None:
    """QEMU's SD host pauses an SDMA read that starts on a 512 KiB boundary: the auto buffer
    sits one cache line past its 2 MiB boundary; TFTP keeps the round number."""
    mmc = load(TARGET)
    pkg = _pkg(0x40400000, 3 << 20)
    where = placement.place(mmc, pkg)
    assert where.addr % SDMA_BOUNDARY == MMC_SKEW and not where.in_place
    tftp = placement.place(load("qemu-imx8mp-uboot"), pkg)
    assert tftp.addr % SDMA_BOUNDARY == 0


@pytest.mark.host
def test_an_explicit_mmc_buffer_on_a_boundary_is_refused(tmp_path: Path) -> None:
    """Negative control: the one defect (an aligned load_addr with transport mmc) is named with
    the field and an address that works."""
    pkg = _pkg(0x40400000, 1 << 20)
    bad = with_fields(load(TARGET), tmp_path, load_addr=0x60000000)
    with pytest.raises(HarnessError) as exc:
        placement.place(bad, pkg)
    assert "harness.uboot.load_addr" in str(exc.value) and "0x60000040" in str(exc.value)
    ok = with_fields(load(TARGET), tmp_path, load_addr=0x60000040)
    assert placement.place(ok, pkg).addr == 0x60000040


@pytest.mark.host
def test_a_file_missing_on_the_card_is_the_infrastructures() -> None:
    line = "Failed to load 'sel4-c82cc140b551.uimg'"
    known = diagnose.classify(line)
    assert known is not None and known.kind == "infrastructure"
    assert "sel4-c82cc140b551.uimg" in diagnose.explain(line, known)
    for no_card in ("Card did not respond to voltage select! : -110", "Couldn't find partition mmc 1:1"):
        k = diagnose.classify(no_card)
        assert k is not None and k.kind == "infrastructure" and "mmc" in k.meaning


@pytest.mark.host
def test_load_mmcs_report_is_the_transfer() -> None:
    """U-Boot's `N bytes read in M ms (rate)` is the load's bytes and U-Boot's own time."""
    tl = Timeline(0, Patterns.for_target({}))
    tl.events.append(Event("uboot.command", 1_000_000_000, {"command": "load mmc 1:1 0x1 f", "step": "load"}, ""))
    tl.feed(ConsoleLine(1_500_000_000, "3256528 bytes read in 537 ms (5.8 MiB/s)"))
    tl.events.append(Event("uboot.returned", 1_600_000_000, {"command": "load mmc 1:1 0x1 f", "step": "load"}, ""))
    t = tl.transfer()
    assert t is not None and (t.bytes, t.uboot_s, t.uboot_clock, t.rate) == (3256528, 0.537, "read", "5.8 MiB/s")
    assert t.command_s == pytest.approx(0.6)


@pytest.mark.host
def test_bootelfs_start_line_opens_the_loader() -> None:
    tl = Timeline(0, Patterns.for_target({}))
    ev = tl.feed(ConsoleLine(1, "## Starting application at 0x40665000 ..."))
    assert isinstance(ev, Event) and ev.name == "uboot.starting"


@pytest.mark.host
def test_an_elf_package_is_the_elf_itself(tmp_path: Path) -> None:
    from harness.images.build import build_firmware

    elf = build_firmware("imx8mp")
    pkg = package(elf, "elf", 0x40000000, out_root=tmp_path)
    assert pkg.kind == "elf" and pkg.path.read_bytes() == elf.read_bytes() and pkg.data_offset is None
    not_elf = tmp_path / "x.Image"
    not_elf.write_bytes(b"\0" * 128)
    with pytest.raises(HarnessError) as exc:
        package(not_elf, "elf", 0x40000000, out_root=tmp_path)
    assert "harness.uboot.package" in str(exc.value) and "bootelf" in str(exc.value)


@pytest.mark.host
def test_the_usdhc_patch_touches_only_the_driver() -> None:
    """The one change to Debian's U-Boot source besides the ROM API word: QEMU's SD host."""
    text = PATCH.read_text()
    files = [line.split()[1] for line in text.splitlines() if line.startswith("+++ ")]
    assert files == ["b/drivers/mmc/fsl_esdhc_imx.c"]
    assert all(not line.startswith("-") or line.startswith("---") for line in text.splitlines())  # adds only


# -- boot ------------------------------------------------------------------------------


def needs_mmc(target: Target) -> None:
    if target.uboot is None or target.uboot.transport != "mmc" or not target.is_qemu:
        pytest.skip("needs a QEMU U-Boot target with 'transport: mmc' (qemu-imx8mp-uboot-mmc)")


@pytest.fixture
def mmc_session(harness_target: Target, tmp_path: Path) -> Iterator[BootSession]:
    needs_mmc(harness_target)
    session = BootSession(harness_target, tmp_path / "results")
    try:
        yield session
    finally:
        session.close()
    assert processes.survivors() == {}, "a process this boot started is still running"


@pytest.mark.boot
def test_load_mmc_is_on_the_timeline_with_its_rate(mmc_session: BootSession) -> None:
    """The reference loader from the SD card: U-Boot's own bytes and milliseconds are the
    load, the bytes are the package's, and the board's load is modeled at the card's rate."""
    payload = mmc_session.payload(mmc_session.variant())
    outcome = mmc_session.boot(payload, "mmc", reuse=False)
    assert outcome.result.ok, outcome.result.failure
    st = mmc_session.strategy
    assert isinstance(st, UBootBootStrategy)
    t = outcome.result.timeline.transfer()
    assert t is not None and t.uboot_clock == "read" and t.bytes == st.package.size
    assert t.command == f"load mmc 1:1 {st.placement.addr:#x} {st.package.name}"
    assert t.rate is not None and t.uboot_s is not None and t.uboot_s > 0
    model = outcome.result.extras.get("load_model")
    assert model is not None and model.scenario.mmc


@pytest.mark.boot
def test_a_file_missing_on_the_card_names_it(mmc_session: BootSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control of the card: it holds another file, so `load mmc` prints U-Boot's
    `Failed to load '<name>'`; the failure is the infrastructure's, in the load, naming the file."""
    monkeypatch.setattr(strategy, "card_contents", lambda pkg: {"other.bin": pkg.path})
    payload = mmc_session.payload(mmc_session.variant())
    outcome = mmc_session.boot(payload, "missing", reuse=False)
    st = mmc_session.strategy
    assert isinstance(st, UBootBootStrategy)
    f = outcome.result.failure
    assert f is not None and (f.kind, f.phase) == ("infrastructure", "load"), str(f)
    assert f"Failed to load '{st.package.name}'" in f.message, f.message


def sel4_early_mmu(target: Target) -> Payload:
    cfg = for_target(target.machine, target.expect_el)
    if isinstance(cfg, str):
        pytest.skip(cfg)
    return build(Sel4Config(**{**cfg.__dict__, "early_mmu": True})).payload()


@pytest.mark.boot
@pytest.mark.sel4
@pytest.mark.sel4_smoke  # seconds to the hand-off: the mmc target's short suite runs it
@pytest.mark.parametrize("kind", ["elf", "fit"])
def test_sel4_from_the_card_by_bootelf_and_fit(
    kind: str, harness_target: Target, tmp_path: Path, user_payload: Payload | None
) -> None:
    """Real seL4 (sel4test, early-MMU loader) started by `bootelf -p` (no wrapper: U-Boot copies
    the PT_LOADs; no FDT, x0 = argc, U-Boot's MMU left on) and from a FIT (its crc32 verified)
    on the i.MX8M Plus U-Boot, to the kernel entry: every image's bytes there equal the ELF's
    and EL/SCTLR meet seL4's contract (out of band, through the gdbstub). sel4test's verdict
    behind this same U-Boot is the smoke boot's (tests/test_sel4.py)."""
    needs_mmc(harness_target)
    if user_payload is not None:
        pytest.skip("--image given: this test boots the suite's own sel4test build")
    # sha256 stays out of the FIT here: this U-Boot hashes it on the CAAM (FSL_CAAM selects
    # SHA_HW_ACCEL for every i.MX8M), which QEMU does not model: bootm hangs in the verify
    hashes = {"fit_hashes": ["crc32"]} if kind == "fit" else {}
    target = with_fields(harness_target, tmp_path, package=kind, **hashes)
    session = BootSession(target, tmp_path / "results")
    try:
        outcome = session.boot(sel4_early_mmu(target), f"sel4-{kind}", reuse=False, verify=True, until="handoff")
        lines = [line.text for line in outcome.result.lines]
        assert outcome.result.ok, (outcome.result.failure, lines[-30:])
        assert outcome.failed == [], [(c.name, c.message) for c in outcome.checks if c.failed]
        # out of band: every image's bytes at the kernel entry equal the ELF's, EL and SCTLR
        # read by the gdbstub there
        for name in ("out-of-band", "handoff"):
            assert outcome.check(name).status == "pass", outcome.check(name).message
        text = "\n".join(lines)
        if kind == "elf":
            assert "## Starting application at " in text and "bootelf -p " in text
        else:
            assert "## Loading kernel from FIT Image" in text and "Verifying Hash Integrity ... crc32+ OK" in text
    finally:
        session.close()
    assert processes.survivors() == {}, "a process this boot started is still running"

"""U-Boot path without a guest: command sequences of every U-Boot target, packaging checked
with mkimage/dumpimage, and the strategy driven against a scripted U-Boot console."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.console import ConsoleRecorder
from harness.errors import BootFailure, HarnessError
from harness.images.package import Package, describe, flatten, its_source, package
from harness.phases import Timeline
from harness.console_lines import Patterns
from harness.targets import TARGETS_DIR, available, load
from harness.uboot import Status, check_layout, command_sequence, dry_run_offline, render, template_names
from harness.uboot.placement import Placement
from helpers.elfgen import Elf, Seg
from helpers.uboot_board import drive, image_file

pytestmark = pytest.mark.host

UBOOT_TARGETS = [n for n in available() if load(n).boot == "uboot"]
LAB_ENV = {"LG_TFTP_SERVER": "192.168.10.1", "LG_BOARD_IP": "192.168.10.50", "HARNESS_VB_TFTP_PORT": "6969"}
needs_mkimage = pytest.mark.requires_tool(
    "mkimage", "dtc", why="U-Boot packages are built with them", fix="apt-get install u-boot-tools device-tree-compiler"
)


# -- command sequences ------------------------------------------------------------


def test_there_are_uboot_targets() -> None:
    assert {"qemu-virt-uboot", "qemu-virt-uboot-fit", "lab-virtual-board", "armstone-imx8mp", "verdin-imx8mp"} <= set(
        UBOOT_TARGETS
    )


@pytest.mark.parametrize("name", UBOOT_TARGETS)
def test_command_sequence_shape(name: str) -> None:
    t = load(name)
    u = t.uboot
    assert u is not None
    cmds = command_sequence(t, "dir/sel4-0123.img", Placement(0x4FFFFFC0, True, True), LAB_ENV)
    assert not any("{{" in c for c in cmds), cmds
    spec = "0x4fffffc0" + (f"#{u.fit_config}" if u.package == "fit" else "")
    assert cmds[-1] == f"bootm {spec} - ${{fdtcontroladdr}}"
    if u.transport == "mmc":  # the card is the way in: no network set-up
        assert cmds == [f"load mmc {u.mmc} 0x4fffffc0 dir/sel4-0123.img", cmds[-1]]
    else:
        assert cmds[-2] == "tftpboot 0x4fffffc0 dir/sel4-0123.img"
        assert any(c.startswith("setenv serverip ") for c in cmds[:-2])
    # every shipped U-Boot target places the buffer itself and boots in place where it fits
    assert u.load_addr is None and u.bootm in ("auto", "in-place")


def test_armstone_sequence() -> None:
    """The reference Image at 0x50000000, as a uImage in place: 64 bytes below."""
    where = Placement(0x50000000 - 64, True, True)
    assert command_sequence(load("armstone-imx8mp"), "lab/armstone-1/sel4-ab.uimg", where, LAB_ENV) == [
        "setenv autoload no",
        "setenv netretry no",
        "dhcp",
        "setenv serverip 192.168.10.1",
        "setenv tftpblocksize 1468",
        "setenv tftpwindowsize 16",
        "tftpboot 0x4fffffc0 lab/armstone-1/sel4-ab.uimg",
        "bootm 0x4fffffc0 - ${fdtcontroladdr}",
    ]


def test_verdin_sequence() -> None:
    """A FIT in place: its data at 0x1000, the FIT 0x1000 below the load address."""
    where = Placement(0x50000000 - 0x1000, True, True)
    assert command_sequence(load("verdin-imx8mp"), "sel4-ab.itb", where, LAB_ENV) == [
        "setenv netretry no",
        "setenv ipaddr 192.168.10.50",
        "setenv netmask 255.255.255.0",
        "setenv serverip 192.168.10.1",
        "setenv tftpblocksize 1468",
        "setenv tftpwindowsize 16",
        "tftpboot 0x4ffff000 sel4-ab.itb",
        "bootm 0x4ffff000#conf-1 - ${fdtcontroladdr}",
    ]


@pytest.mark.parametrize(
    "name,kind",
    [
        ("qemu-virt-uboot", ""),
        ("qemu-virt-uboot-fit", "#conf-1"),
        ("lab-virtual-board", ""),
        ("lab-virtual-board-fit", "#conf-1"),
    ],
)
def test_qemu_sequences(name: str, kind: str) -> None:
    assert command_sequence(load(name), "x.img", Placement(0x8A200000, False, True), {}) == [
        "setenv ipaddr 10.0.2.15",
        "setenv serverip 10.0.2.2",
        "setenv netretry no",
        "tftpboot 0x8a200000 x.img",
        f"bootm 0x8a200000{kind} - ${{fdtcontroladdr}}",
    ]


def _uboot_variant(tmp: Path, **fields: object) -> Path:
    data = yaml.safe_load((TARGETS_DIR / "qemu-virt-uboot.yaml").read_text())
    data["harness"]["uboot"].update(fields)
    path = tmp / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "fields, field, fix",
    [
        ({"tftpblocksize": 4}, "harness.uboot.tftpblocksize", "8..65464"),
        ({"tftpblocksize": 70000}, "harness.uboot.tftpblocksize", "RFC 2348"),
        ({"tftpblocksize": "1468"}, "harness.uboot.tftpblocksize", "e.g. 1468"),
        ({"tftpwindowsize": 0}, "harness.uboot.tftpwindowsize", "RFC 7440"),
        ({"tftpwindowsize": True}, "harness.uboot.tftpwindowsize", "1..65535"),
        ({"tftpwindowsize": 16, "transport": "loader"}, "harness.uboot.tftpwindowsize", "transport: tftp"),
    ],
)
def test_tftp_settings_are_validated(tmp_path: Path, fields: dict[str, object], field: str, fix: str) -> None:
    with pytest.raises(HarnessError) as err:
        load(str(_uboot_variant(tmp_path, **fields)))
    assert err.value.field == field and fix in str(err.value), str(err.value)


def test_board_targets_carry_a_window() -> None:
    for name in ("armstone-imx8mp", "verdin-imx8mp"):
        u = load(name).uboot
        assert u is not None and (u.tftp_block_size, u.tftp_window) == (1468, 16), name


def test_board_targets_template_from_the_environment() -> None:
    assert template_names(load("armstone-imx8mp")) == ["LG_TFTP_SERVER"]
    assert template_names(load("verdin-imx8mp")) == ["LG_BOARD_IP", "LG_TFTP_SERVER"]
    with pytest.raises(HarnessError) as exc:
        command_sequence(load("armstone-imx8mp"), "x", Placement(0x4FFFFFC0, True, True), {})
    assert "LG_TFTP_SERVER" in str(exc.value) and "export LG_TFTP_SERVER" in str(exc.value)
    env = yaml_of("armstone-imx8mp")
    assert "$LG_PLACE" in env and "$LG_COORDINATOR" in env


def yaml_of(name: str) -> str:
    return load(name).path.read_text()


def test_render_keeps_uboot_variables() -> None:
    assert render("bootm ${loadaddr} {{A}}", {"A": "x"}) == "bootm ${loadaddr} x"


@pytest.mark.parametrize("name", ["armstone-imx8mp", "verdin-imx8mp"])
def test_board_labgrid_env_resolves(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """labgrid itself reads the board YAML with place and coordinator from the environment."""
    from labgrid import Environment

    monkeypatch.setenv("LG_PLACE", "board-7")
    monkeypatch.setenv("LG_COORDINATOR", "lab.example:20408")
    env = Environment(str(load(name).path))
    assert env.config.get_option("coordinator_address") == "lab.example:20408"
    assert env.config.get_targets()["main"]["resources"]["RemotePlace"]["name"] == "board-7"
    from harness.lab import place_name

    assert place_name(load(name)) == "board-7"


# -- packaging ------------------------------------------------------------------------


@needs_mkimage
def test_uimage_is_what_mkimage_says(tmp_path: Path) -> None:
    src = image_file(tmp_path)
    pkg = package(src, "uimage", 0x40000000, out_root=tmp_path / "pk")
    assert (pkg.kind, pkg.load, pkg.entry, pkg.data_bytes) == ("uimage", 0x80000000, 0x80000000, 8192)
    info = describe(pkg.path)
    assert "AArch64 Linux Kernel Image (uncompressed)" in info
    assert "Load Address: 80000000" in info and "Entry Point:  80000000" in info
    out = tmp_path / "payload"
    subprocess.run(
        ["dumpimage", "-T", "kernel", "-p", "0", "-o", str(out), str(pkg.path)], check=True, capture_output=True
    )
    assert out.read_bytes() == src.read_bytes()
    assert pkg.size == 64 + 8192
    # the same input again: the same file, not a new one
    assert package(src, "uimage", 0x40000000, out_root=tmp_path / "pk").path == pkg.path


@needs_mkimage
def test_fit_has_crc32_and_sha256_that_match(tmp_path: Path) -> None:
    src = image_file(tmp_path)
    pkg = package(src, "fit", 0x40000000, out_root=tmp_path / "pk")
    assert pkg.config == "conf-1" and pkg.hashes == ("crc32", "sha256")
    info = describe(pkg.path)
    data = src.read_bytes()
    assert re.search(r"Hash algo:\s+crc32\s+Hash value:\s+" + f"{zlib.crc32(data):08x}", info), info
    assert re.search(r"Hash algo:\s+sha256\s+Hash value:\s+" + hashlib.sha256(data).hexdigest(), info)
    assert "Default Configuration: 'conf-1'" in info and "Load Address: 0x80000000" in info
    out = tmp_path / "kernel"
    subprocess.run(
        ["dumpimage", "-T", "flat_dt", "-p", "0", "-o", str(out), str(pkg.path)], check=True, capture_output=True
    )
    assert out.read_bytes() == data


def test_fit_source_uses_two_cells_above_4g(tmp_path: Path) -> None:
    from harness.images.package import Flat

    its = its_source(Flat(tmp_path / "x", 0x1_0000_0000, 0x1_0000_0040, 16), "x")
    assert "#address-cells = <2>;" in its and "load = <0x1 0x0>;" in its
    assert "entry = <0x1 0x40>;" in its and 'algo = "sha256";' in its


def test_flatten_elf_zero_fills_gaps_and_bss(tmp_path: Path) -> None:
    """An ELF's bss is zero when an ELF loader places it; a flat image must carry the zeros
    (seL4's ELF-format elfloader does not clear its own .bss)."""
    elf = Elf(
        0x80000010,
        [Seg(0x80000000, b"A" * 32), Seg(0x80001000, b"B" * 16, memsz=4096), Seg(0x80010000, b"", memsz=4096)],
    ).write(tmp_path / "l.elf")
    flat = flatten(elf, 0x40000000, tmp_path / "o")
    data = flat.path.read_bytes()
    assert (flat.load, flat.entry, flat.size) == (0x80000000, 0x80000010, 0x11000)
    assert data[:32] == b"A" * 32 and data[32:0x1000] == bytes(0x1000 - 32)
    assert data[0x1000:0x1010] == b"B" * 16 and data[0x1010:] == bytes(0x11000 - 0x1010)


def test_flatten_rejects_unknown_format(tmp_path: Path) -> None:
    f = tmp_path / "blob.bin"
    f.write_bytes(b"\0" * 128)
    with pytest.raises(HarnessError) as exc:
        flatten(f, 0x40000000)
    assert "neither an ELF nor an arm64 Image" in str(exc.value)


def test_layout_rejects_overlap_and_outside_dram() -> None:
    base = load("qemu-virt-uboot")
    assert base.uboot is not None
    ub = dataclasses.replace(base.uboot, load_addr=0x48000000)
    t = dataclasses.replace(base, uboot=ub)
    ok = Package("uimage", Path("/x"), 0x80000000, 0x80000000, 1 << 20, data_offset=64)
    assert check_layout(t, dataclasses.replace(ok, path=_sized(1 << 20))).addr == 0x48000000
    big = Package("uimage", _sized(0x40000000), 0x80000000, 0x80000000, 0x40000000, data_offset=64)
    with pytest.raises(HarnessError) as exc:
        check_layout(t, big)
    assert "overlaps where bootm puts the image" in str(exc.value)
    assert "harness.uboot.load_addr" in str(exc.value)
    u = dataclasses.replace(ub, load_addr=0x30000000)
    with pytest.raises(HarnessError, match="does not fit in DRAM"):
        check_layout(dataclasses.replace(t, uboot=u), dataclasses.replace(ok, path=_sized(1 << 20)))
    # a legacy image 64 bytes below its load address boots in place
    u = dataclasses.replace(ub, load_addr=0x80000000 - 64)
    assert check_layout(dataclasses.replace(t, uboot=u), dataclasses.replace(ok, path=_sized(64 + (1 << 20)))).in_place


_SIZED: dict[int, Path] = {}


def _sized(n: int) -> Path:
    """A sparse file of n bytes (Package.size reads the file's size)."""
    if n not in _SIZED:
        import tempfile

        fd, name = tempfile.mkstemp(prefix="sized-")
        with open(fd, "wb") as f:
            f.truncate(n)
        _SIZED[n] = Path(name)
    return _SIZED[n]


@needs_mkimage
def test_dry_run_of_a_board_needs_no_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LG_TFTP_SERVER", raising=False)
    text = dry_run_offline(load("armstone-imx8mp"), image_file(tmp_path, 0x10000000))
    assert "load 0x50000000" in text and "setenv serverip {{LG_TFTP_SERVER}}" in text
    assert "in place: bootm does not copy" in text
    assert text.splitlines()[-1] == "bootm 0x4fffffc0 - ${fdtcontroladdr}"
    assert (
        "# TFTP: 1468-byte blocks (tftpblocksize), window of 16 blocks per acknowledgement "
        "(tftpwindowsize, RFC 7440; lock-step where U-Boot or the server lacks it)" in text
    )
    assert "setenv tftpwindowsize 16\ntftpboot 0x4fffffc0 " in text


# -- the strategy against a scripted U-Boot (the `board` fixture, tests/conftest.py) --


def test_boots_to_the_loader_with_the_exact_commands(board: Any, tmp_path: Path) -> None:
    strategy, console, target = board
    rec, tl = drive(strategy, target)
    assert strategy.status == Status.loader
    name = strategy.package.name
    assert (tmp_path / "tftp" / name).resolve() == strategy.package.path.resolve()
    sent = [c for c in console.commands if not c.startswith("echo HARNESS-SYNC")]
    assert sent == command_sequence(target, name, strategy.placement)
    names = [e.name for e in tl.events]
    for ev in (
        "uboot.banner",
        "uboot.prompt",
        "uboot.tftp",
        "uboot.rate",
        "uboot.loaded",
        "uboot.booting",
        "uboot.verify",
        "uboot.starting",
    ):
        assert ev in names, (ev, names)
    load_info = tl.uboot_load()
    assert load_info is not None and load_info["bytes"] == strategy.package.size
    assert load_info["rate"] == "21.9 MiB/s" and load_info["tftp_s"] >= 0
    assert load_info["command"] == f"tftpboot {strategy.placement.addr:#x} {name}"
    phases = tl.phases(strategy.power_on_ns)
    assert [p.name for p in phases][:5] == ["firmware", "u-boot", "setup", "load", "bootm"]


def test_the_load_phase_is_the_load_command(board: Any) -> None:
    """The load phase runs from the transfer command's Enter to the prompt coming back;
    its seconds, U-Boot's own (bytes over its rate line) and the TFTP span agree with it."""
    strategy, console, target = board
    console.b["tftp_s"] = 0.3
    _, tl = drive(strategy, target)
    load = next(p for p in tl.phases(strategy.power_on_ns) if p.name == "load")
    t = tl.transfer()
    assert t is not None and t.command_s == pytest.approx(load.host_s)
    assert 0.3 <= load.host_s < 2.0
    assert t.tftp_s is not None and 0.25 <= t.tftp_s <= load.host_s
    assert t.uboot_clock == "rate line" and t.uboot_s == pytest.approx(t.bytes / (21.9 * (1 << 20)))
    assert t.block_size is None and t.window is None  # this target leaves U-Boot's own
    setup = next(p for p in tl.phases(strategy.power_on_ns) if p.name == "setup")
    assert setup.end_ns == load.start_ns and setup.host_s < load.host_s


def test_tftp_settings_are_sent_right_before_the_transfer(board: Any) -> None:
    """tftpblocksize/tftpwindowsize from the target's uboot section: `setenv` after the
    target's own set-up, then the transfer; the load's record says what was asked for."""
    strategy, console, target = board
    u = dataclasses.replace(target.uboot, tftp_block_size=1468, tftp_window=16)
    target = dataclasses.replace(target, uboot=u)
    strategy.configure(target)
    _, tl = drive(strategy, target)
    sent = [c for c in console.commands if not c.startswith("echo HARNESS-SYNC")]
    assert sent[-4:-2] == ["setenv tftpblocksize 1468", "setenv tftpwindowsize 16"]
    assert sent[-2].startswith("tftpboot ")
    t = tl.transfer()
    assert t is not None and (t.block_size, t.window) == (1468, 16)
    assert "tftpblocksize 1468, tftpwindowsize 16" in t.describe()


def test_standalone_transitions_reach_handoff(board: Any) -> None:
    strategy, console, _ = board
    strategy.transition("uboot")
    assert strategy.status == Status.uboot and console.mode == "prompt"
    strategy.transition("handoff")
    assert strategy.status == Status.handoff
    strategy.transition("off")
    assert strategy.status == Status.off and console.mode == "off"


def test_ignored_interrupts_are_repeated(board: Any) -> None:
    strategy, console, target = board
    console.b["ignore_keys"] = 2
    drive(strategy, target)
    assert strategy.status == Status.loader and console.power_ons == 1


def test_missed_autoboot_window_is_recovered(board: Any) -> None:
    strategy, console, target = board
    console.b["late"] = 1  # the first power-on: countdown already over
    drive(strategy, target)
    assert strategy.status == Status.loader and console.power_ons == 1


def test_silent_board_is_infrastructure_after_power_cycles(board: Any) -> None:
    strategy, console, target = board
    console.b["silent"] = True
    with pytest.raises(BootFailure) as exc:
        drive(strategy, target)
    f = exc.value
    assert f.kind == "infrastructure" and f.phase == "u-boot"
    assert "no console output" in f.message and "after 3 power-on(s)" in f.message
    assert console.power_ons == 3


def test_garbled_command_is_retyped_not_run(board: Any) -> None:
    strategy, console, target = board
    console.b["garble"] = 1
    drive(strategy, target)
    assert strategy.status == Status.loader
    assert not any(c.startswith("tftboot") for c in console.commands), console.commands
    assert sum(c.startswith("tftpboot") for c in console.commands) == 1


FAULTS = {
    # injected fault: (value, failure kind, phase or None, text the message must hold)
    "garble": (99, "infrastructure", None, "garbles commands"),
    "tftp_error": (True, "infrastructure", "load", "TFTP error: 'File not found' (1)"),
    "bytes": (1000, "infrastructure", None, "1000 bytes transferred"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_lab_faults_are_infrastructure(board: Any, fault: str) -> None:
    strategy, console, target = board
    value, kind, phase, text = FAULTS[fault]
    console.b[fault] = value
    with pytest.raises(BootFailure) as exc:
        drive(strategy, target)
    f = exc.value
    assert f.kind == kind and text in f.message, f.message
    if phase is not None:
        assert f.phase == phase


def test_rejected_image_is_product(board: Any) -> None:
    strategy, console, target = board
    console.b["bad_image"] = True
    with pytest.raises(BootFailure) as exc:
        drive(strategy, target)
    f = exc.value
    assert (f.kind, f.phase) == ("product", "bootm")
    assert "Wrong Image Format" in f.message
    assert any("ERROR: can't get kernel image!" in line for line in f.last_lines) or "Wrong Image Format" in "\n".join(
        f.last_lines
    )


def test_lost_console_is_infrastructure(board: Any) -> None:
    strategy, console, target = board
    strategy.transition("running")
    rec = ConsoleRecorder(strategy.console, None, strategy.is_alive)
    tl = Timeline(0, Patterns.for_target({}))
    console.b["lost"] = True
    with pytest.raises(BootFailure) as exc:
        strategy.bootstrap(rec, tl, target, None)
    assert (exc.value.kind, exc.value.phase) == ("infrastructure", "console")
    assert "lost the console" in exc.value.message

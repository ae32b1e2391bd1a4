"""The imx8mp firmware stand-in (images/firmware/) and the `firmware:` target field.

Host tests: the field's validation, how the strategy places a loader behind the firmware,
and the firmware's own layout (OCRAM, the mailbox outside the loaded segment). QEMU tests:
the firmware reaches the mailbox entry at EL2h with x0..x3 = 0, and says so when the mailbox
is empty (the negative control). That the GIC is left as seL4 needs it is shown by real
seL4 booting on qemu-imx8mp (the sel4 suite).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from harness.errors import HarnessError
from harness.images.build import FIRMWARE_MAILBOX, build_firmware
from harness.images.elf import read_elf
from harness.qemu.firmware import loader_placement
from harness.targets import TARGETS_DIR, load

OCRAM = (0x00900000, 0x00990000)
QEMU = shutil.which("qemu-system-aarch64")


def write_variant(tmp: Path, base: str, change: Callable[[dict[str, Any]], object]) -> Path:
    data = yaml.safe_load((TARGETS_DIR / f"{base}.yaml").read_text())
    change(data)
    path = tmp / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.host
def test_imx8mp_targets_say_what_runs_first() -> None:
    assert load("qemu-imx8mp").firmware == "stand-in"
    assert load("qemu-imx8mp").expect_el == 2
    assert load("qemu-imx8mp-el3").firmware is None
    assert load("qemu-virt").firmware is None  # default: none


@pytest.mark.host
@pytest.mark.parametrize(
    "base,change,fix",
    [
        ("qemu-imx8mp", lambda d: d["harness"].__setitem__("firmware", "tf-a"), "stand-in | none"),
        ("qemu-virt", lambda d: d["harness"].__setitem__("firmware", "stand-in"), "imx8mp"),
        ("qemu-imx8mp-el3", lambda d: d["harness"].__setitem__("firmware", "stand-in"), "el: 2"),
        ("qemu-virt-uboot", lambda d: d["harness"].__setitem__("firmware", "stand-in"), "U-Boot"),
    ],
)
def test_bad_firmware_is_named(tmp_path: Path, base: str, change: Callable[[dict[str, Any]], object], fix: str) -> None:
    path = write_variant(tmp_path, base, change)
    with pytest.raises(HarnessError) as exc:
        load(str(path))
    msg = str(exc.value)
    assert str(path) in msg and "harness.firmware" in msg and fix in msg, msg


@pytest.fixture(scope="module")
def firmware() -> Path:
    return build_firmware("imx8mp")


@pytest.mark.host
def test_firmware_lives_in_ocram_with_its_mailbox_outside_the_segment(firmware: Path) -> None:
    elf = read_elf(firmware, "firmware")
    lo, hi = elf.span
    mailbox = elf.symbol(FIRMWARE_MAILBOX)
    assert elf.entry == lo == OCRAM[0]
    assert OCRAM[0] <= lo < hi <= mailbox and mailbox + 8 <= OCRAM[1]
    assert mailbox % 8 == 0
    # QEMU rewrites loaded segments at reset, after -device loader stored the entry:
    # the mailbox must not be covered by any of them (bss included).
    assert all(not (s.paddr <= mailbox < s.end) for s in elf.segments)


@pytest.mark.host
def test_firmware_is_not_rebuilt_when_up_to_date(firmware: Path) -> None:
    before = firmware.stat().st_mtime_ns
    assert build_firmware("imx8mp") == firmware
    assert firmware.stat().st_mtime_ns == before


@pytest.mark.host
def test_firmware_only_for_machines_that_have_one() -> None:
    with pytest.raises(HarnessError) as exc:
        build_firmware("virt")
    assert "imx8mp" in str(exc.value)


@pytest.mark.host
def test_loader_placement_elf_image_and_raw(tmp_path: Path) -> None:
    from harness.images.build import Variant, build

    b = build(Variant(machine="imx8mp"))
    args, entry = loader_placement(b.elfloader, 0x40000000)
    assert args == ["-device", f"loader,file={b.elfloader}"]
    assert entry == read_elf(b.elfloader).entry_paddr == 0x50000000
    # The arm64 Image goes where booti puts it: DRAM base + text_offset.
    args, entry = loader_placement(b.image, 0x40000000)
    assert args == ["-device", f"loader,file={b.image},addr=0x50000000,force-raw=on"]
    assert entry == 0x50000000
    raw = tmp_path / "raw.bin"
    raw.write_bytes(bytes(4096))
    with pytest.raises(HarnessError) as exc:
        loader_placement(raw, 0x40000000)
    assert "load address" in str(exc.value) and "ELF" in str(exc.value)


@pytest.mark.host
def test_dry_run_boots_the_firmware_first(tmp_path: Path) -> None:
    from harness.session import BootSession

    target = load("qemu-imx8mp")
    session = BootSession(target, tmp_path)
    try:
        payload = session.payload(session.variant(mode="early-mmu"))
        cmd = session.command_line(payload)
    finally:
        session.close()
    fw = read_elf(build_firmware("imx8mp"))
    mailbox = fw.symbol(FIRMWARE_MAILBOX)
    assert f"-kernel {build_firmware('imx8mp')}" in cmd
    assert f"loader,file={payload.boot_file},addr=0x50000000,force-raw=on" in cmd
    assert f"loader,addr={mailbox:#x},data=0x50000000,data-len=8" in cmd


def run_firmware(firmware: Path, mailbox_data: int | None, wait: float = 4.0) -> tuple[str, str]:
    """Start QEMU with only the firmware (and the mailbox word), let it run, then ask the
    monitor for the registers. Returns (console text, `info registers` text)."""
    assert QEMU is not None
    mailbox = read_elf(firmware).symbol(FIRMWARE_MAILBOX)
    cmd = [
        QEMU,
        "-M",
        "imx8mp-evk",
        "-cpu",
        "cortex-a53",
        "-m",
        "2G",
        "-display",
        "none",
        "-serial",
        "null",
        "-serial",
        "stdio",
        "-kernel",
        str(firmware),
    ]
    if mailbox_data is not None:
        cmd += ["-device", f"loader,addr={mailbox:#x},data={mailbox_data:#x},data-len=8"]
    # The console is on stdout; the monitor on a unix socket of our own.
    sock = Path(f"/tmp/fw-test-{time.monotonic_ns()}.mon")
    cmd += ["-monitor", f"unix:{sock},server=on,wait=off"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        import socket

        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(wait)
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(sock))
        s.settimeout(5)
        s.sendall(b"info registers\n")
        regs = b""
        end = time.monotonic() + 5
        while b"PSTATE" not in regs and time.monotonic() < end:
            try:
                regs += s.recv(65536)
            except TimeoutError:
                break
        time.sleep(0.2)
        s.sendall(b"quit\n")
        s.close()
        out, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sock.unlink(missing_ok=True)
    return out.decode(errors="replace"), regs.decode(errors="replace")


def _register(name: str, regs: str) -> int:
    """A register's value from QEMU's `info registers` text (`name` is a regex)."""
    m = re.search(rf"{name}=([0-9a-f]+)", regs)
    assert m is not None, f"no {name} in:\n{regs}"
    return int(m.group(1), 16)


@pytest.mark.qemu
@pytest.mark.requires_tool("qemu-system-aarch64", why="the firmware runs on QEMU's imx8mp-evk")
def test_firmware_enters_the_mailbox_entry_at_el2h(firmware: Path) -> None:
    """Entry = the firmware's own park loop (it is in OCRAM, harmless at EL2): the CPU must
    end up there at EL2h, Non-secure, with x0..x3 = 0 and nothing on the console."""
    park = read_elf(firmware).symbol("park")
    console, regs = run_firmware(firmware, park)
    assert "ERROR" not in console, console
    pc = _register(r"PC", regs)
    assert park <= pc < park + 8, regs
    assert re.search(r"EL2h", regs), regs
    for n in range(4):
        value = _register(rf"X0?{n}", regs)
        assert value == 0, f"x{n} = {value:#x}\n{regs}"


@pytest.mark.qemu
@pytest.mark.requires_tool("qemu-system-aarch64", why="the firmware runs on QEMU's imx8mp-evk")
def test_empty_mailbox_says_so(firmware: Path) -> None:
    """Negative control: nobody filled the mailbox -> one ERROR line on the console."""
    console, regs = run_firmware(firmware, None, wait=2.0)
    assert "ERROR: firmware: next-stage entry mailbox is 0" in console, console
    assert "EL3h" in regs, regs

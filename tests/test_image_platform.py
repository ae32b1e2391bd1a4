"""An image for another SoC is refused before power-on, naming both machines.

The machine comes from the image itself (harness/checks/platform.py): the root
`compatible` of the device tree in seL4's archive, or our reference loader's UART
driver. Every image kind the suite builds is accepted on every target of its machine
and refused on every other; an image that does not say (or contradicts itself) is
accepted with no claim -- never a false refusal.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable

import pytest

from harness.errors import HarnessError
from harness.images.build import Variant, build as build_reference
from harness.images.cpio import write_newc
from harness.checks.platform import check_platform, platform_of, root_compatible
from harness.payload import Payload, from_build, from_user
from harness.sel4.build import build as build_sel4, sel4_venv
from harness.sel4.config import Sel4Config
from harness.sel4.sources import TARBALL, upstream_dir
from harness.targets import available, load
from harness.testing import missing_input

from helpers.elfgen import Elf, Seg

pytestmark = pytest.mark.host

TARGETS = {name: load(name) for name in available()}


# --- a flattened device tree, written here (header, reserve map, structure, strings) ---


def _pad(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def fdt(root: dict[str, bytes], child: dict[str, bytes] | None = None) -> bytes:
    """A DTB whose root has `root`'s properties and, if given, one child node `soc`."""
    strings = bytearray()

    def props(items: dict[str, bytes]) -> bytes:
        out = b""
        for name, value in items.items():
            off = strings.find(name.encode() + b"\0")
            if off < 0:
                off = len(strings)
                strings.extend(name.encode() + b"\0")
            out += struct.pack(">III", 3, len(value), off) + _pad(value)
        return out

    body = struct.pack(">I", 1) + _pad(b"\0") + props(root)
    if child is not None:
        body += struct.pack(">I", 1) + _pad(b"soc\0") + props(child) + struct.pack(">I", 2)
    body += struct.pack(">II", 2, 9)
    off_rsv = 40
    off_struct = off_rsv + 16
    off_strings = off_struct + len(body)
    total = off_strings + len(strings)
    header = struct.pack(
        ">10I", 0xD00DFEED, total, off_struct, off_strings, off_rsv, 17, 16, 0, len(strings), len(body)
    )
    return header + bytes(16) + body + bytes(strings)


def strings(*items: str) -> bytes:
    return b"".join(s.encode() + b"\0" for s in items)


def test_root_compatible_is_read_from_the_root_only() -> None:
    blob = fdt(
        {"#address-cells": b"\0\0\0\2", "compatible": strings("fsl,imx8mp-evk", "fsl,imx8mp")},
        {"compatible": strings("simple-bus")},
    )
    assert root_compatible(blob) == ("fsl,imx8mp-evk", "fsl,imx8mp")
    # a child's compatible is not the board's
    assert root_compatible(fdt({"model": b"x\0"}, {"compatible": strings("linux,dummy-virt")})) == ()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b[:30],  # truncated header
        lambda b: b"\0\0\0\0" + b[4:],  # bad magic
        lambda b: b[:-40],  # strings block cut
        lambda b: b[:60],  # structure block cut inside the property
        lambda b: b"",
    ],
    ids=["header", "magic", "strings", "structure", "empty"],
)
def test_a_broken_device_tree_says_nothing(mangle: Callable[[bytes], bytes]) -> None:
    blob = fdt({"compatible": strings("linux,dummy-virt", "a-long-enough-string-to-cut")})
    assert root_compatible(mangle(blob)) == ()


# --- synthetic loaders: evidence present, absent, unknown, contradictory ---


def loader(tmp: Path, members: list[tuple[str, bytes]], symbols: tuple[str, ...] = ()) -> Payload:
    """An elfloader-shaped ELF (code + a newc archive) with a kernel and `members`."""
    kernel = Elf(0x40200000, [Seg(0x40200000, b"\x1f\x20\x03\xd5" * 64, flags=5)])
    files = [("kernel.elf", kernel.write(tmp / "kernel.elf"))]
    for name, data in members:
        (tmp / name).write_bytes(data)
        files.append((name, tmp / name))
    write_newc(files, tmp / "archive.cpio")
    archive = (tmp / "archive.cpio").read_bytes()
    syms = {"_archive_start": 0x80000100, "_archive_start_end": 0x80000100 + len(archive)}
    syms |= {name: 0x80000000 for name in symbols}
    elf = Elf(0x80000000, [Seg(0x80000000, bytes(0x100) + archive, flags=5)], syms)
    return from_user(elf.write(tmp / "loader.elf"))


VIRT_DTB = fdt({"compatible": strings("linux,dummy-virt")})
IMX_DTB = fdt({"compatible": strings("fsl,imx8mp-evk", "fsl,imx8mp")})


@pytest.mark.parametrize(
    "members,symbols,machine",
    [
        ([("kernel.dtb", VIRT_DTB)], (), "virt"),
        ([("kernel.dtb", IMX_DTB)], (), "imx8mp"),
        ([("kernel.dtb", fdt({"compatible": strings("toradex,verdin-imx8mp", "fsl,imx8mp")}))], (), "imx8mp"),
        ([], ("uart_pl011.c",), "virt"),
        ([], ("uart_imx.c",), "imx8mp"),
        ([("kernel.dtb", IMX_DTB)], ("uart_imx.c",), "imx8mp"),
    ],
    ids=["dtb-virt", "dtb-imx8mp-evk", "dtb-verdin", "uart-pl011", "uart-imx", "both-agree"],
)
def test_the_image_names_its_machine(
    tmp_path: Path, members: list[tuple[str, bytes]], symbols: tuple[str, ...], machine: str
) -> None:
    found = platform_of(loader(tmp_path, members, symbols))
    assert found is not None and found.machine == machine


@pytest.mark.parametrize(
    "members,symbols",
    [
        ([], ()),  # stripped, no DTB
        ([("kernel.dtb", fdt({"compatible": strings("acme,rocket-board")}))], ()),  # unknown board
        ([("kernel.dtb", VIRT_DTB[:50])], ()),  # a DTB cut short
        ([("kernel.dtb", IMX_DTB)], ("uart_pl011.c",)),  # evidence disagrees
        ([], ("uart_pl011.c", "uart_imx.c")),  # both drivers linked
    ],
    ids=["nothing", "unknown-board", "broken-dtb", "dtb-vs-uart", "two-uarts"],
)
def test_an_image_that_does_not_tell_is_accepted_without_a_claim(
    tmp_path: Path, members: list[tuple[str, bytes]], symbols: tuple[str, ...]
) -> None:
    payload = loader(tmp_path, members, symbols)
    assert platform_of(payload) is None
    for target in TARGETS.values():
        assert check_platform(payload, target) is None


def test_a_loader_without_an_archive_is_accepted(tmp_path: Path) -> None:
    """The loader itself will say what it makes of it; the platform check claims nothing."""
    elf = Elf(0x80000000, [Seg(0x80000000, bytes(0x100), flags=5)], {"uart_imx.c": 0})
    payload = Payload(elf.write(tmp_path / "bare.elf"), tmp_path / "bare.elf")
    found = platform_of(payload)
    assert found is not None and found.machine == "imx8mp"  # the UART still says so


# --- every image kind the suite builds, on every target ---


def sel4_image(platform: str, hyp: bool) -> Payload:
    if not (upstream_dir() / TARBALL).is_file():
        missing_input(
            str(upstream_dir() / TARBALL),
            "sel4test is built from the pinned sources",
            "put shared/ beside the repository",
        )
    if not (sel4_venv() / "bin" / "python").exists():
        missing_input(str(sel4_venv()), "seL4's build needs its Python tools", "make setup")
    return build_sel4(Sel4Config(platform=platform, hyp=hyp)).payload()


IMAGES: dict[str, tuple[str, Callable[[], Payload]]] = {
    # name -> (machine it is for, how to get it)
    "reference-virt": ("virt", lambda: from_build(build_reference(Variant("virt", "early-mmu")), "elf")),
    "reference-imx8mp": ("imx8mp", lambda: from_build(build_reference(Variant("imx8mp", "mmu-off")), "elf")),
    "sel4-qemu-arm-virt": ("virt", lambda: sel4_image("qemu-arm-virt", hyp=False)),
    "sel4-qemu-arm-virt-hyp": ("virt", lambda: sel4_image("qemu-arm-virt", hyp=True)),
    "sel4-imx8mp-evk": ("imx8mp", lambda: sel4_image("imx8mp-evk", hyp=True)),
}


@pytest.mark.requires_tool("aarch64-linux-gnu-gcc", why="the reference images are built here", fix="make setup")
@pytest.mark.parametrize("kind", list(IMAGES))
def test_every_built_image_on_every_target(kind: str) -> None:
    machine, get = IMAGES[kind]
    payload = get()
    for name, target in TARGETS.items():
        if target.machine == machine:
            found = check_platform(payload, target)
            assert found is not None and found.machine == machine, (name, found)
            continue
        with pytest.raises(HarnessError) as exc:
            check_platform(payload, target)
        text = str(exc.value)
        assert str(payload.elf) in text and exc.value.field == "platform", text
        assert f"the image is for machine '{machine}'" in text, text
        assert f"target '{name}' is machine '{target.machine}'" in text, text
        assert "--target " in text and exc.value.fix, text
        # the fix names a target of the image's own machine
        named = exc.value.fix.split("--target ", 1)[1].split()[0].rstrip(",")
        assert TARGETS[named].machine == machine, text


@pytest.mark.requires_tool(
    "aarch64-linux-gnu-gcc",
    "qemu-system-aarch64",
    why="a reference image and a QEMU target's session",
    fix="make setup",
)
def test_a_boot_session_refuses_before_power_on(tmp_path: Path) -> None:
    """The session refuses the wrong image before anything starts: no result folder, no
    QEMU, and the same refusal for the command --dry-run would print."""
    from harness import processes
    from harness.session import BootSession

    payload = IMAGES["reference-imx8mp"][1]()
    before = processes.survivors()
    session = BootSession(TARGETS["qemu-virt"], tmp_path / "results")
    try:
        for attempt in (lambda: session.boot(payload), lambda: session.dry_run(payload)):
            with pytest.raises(HarnessError) as exc:
                attempt()
            assert "machine 'imx8mp'" in str(exc.value) and "'qemu-virt' is machine 'virt'" in str(exc.value), str(
                exc.value
            )
        assert not (tmp_path / "results").exists()
        assert processes.survivors() == before
    finally:
        session.close()


@pytest.mark.requires_tool("aarch64-linux-gnu-gcc", why="a reference image is built here", fix="make setup")
def test_pytest_image_for_another_soc_is_one_usage_error(tmp_path: Path) -> None:
    """`pytest --image` with an image for another SoC: one line at start-up, no boot, no
    traceback (a boot would wait out the loader timeout and blame the infrastructure)."""
    import subprocess
    import sys
    from harness.images.build import ROOT

    payload = IMAGES["reference-imx8mp"][1]()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--target=qemu-virt",
            "--image",
            str(payload.elf),
            "--results",
            str(tmp_path / "results"),
            "--history",
            "off",
            "tests/test_boot.py::test_image_boot_checks",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert "the image is for machine 'imx8mp'" in out and "'qemu-virt' is machine 'virt'" in out, out
    assert "--target qemu-imx8mp" in out and "Traceback" not in out, out
    assert not (tmp_path / "results").exists()


# --- `harness inspect --target`: the pairing a script (the nightly) asks before it boots ---


@pytest.mark.parametrize(
    "members,target,rc,says",
    [
        ([("kernel.dtb", IMX_DTB)], "qemu-imx8mp", 0, "fits target 'qemu-imx8mp' (machine 'imx8mp')"),
        ([("kernel.dtb", IMX_DTB)], "qemu-virt", 1, "not for target 'qemu-virt': "),
        ([("kernel.dtb", VIRT_DTB)], "qemu-virt", 0, "fits target 'qemu-virt'"),
        ([], "qemu-virt", 0, "fits target 'qemu-virt' (machine 'virt'): no claim to refuse"),
    ],
    ids=["imx-on-imx", "imx-on-virt", "virt-on-virt", "silent-image"],
)
def test_inspect_says_whether_an_image_fits_a_target(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    members: list[tuple[str, bytes]],
    target: str,
    rc: int,
    says: str,
) -> None:
    from harness.cli import main

    payload = loader(tmp_path, members)
    assert main(["inspect", str(payload.elf), "--target", target]) == rc
    out = capsys.readouterr().out
    assert says in out, out
    assert ("  platform: machine 'imx8mp'" in out) == (members == [("kernel.dtb", IMX_DTB)]), out

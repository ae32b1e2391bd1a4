"""Where the U-Boot transfer buffer goes, in place or not, and U-Boot's error lines classed:
host only (placement over made-up packages and a made-up seL4 image; the strategy over
console text recorded from Debian's U-Boot 2023.01)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from harness.errors import BootFailure, HarnessError
from harness.images.package import Package
from harness.targets import Target, load
from harness.uboot.diagnose import classify, explain
from harness.destinations import Area, unpack_destinations
from harness.uboot.placement import place
from helpers.sel4_like import sel4_like_elfloader
from helpers.uboot_board import drive

pytestmark = pytest.mark.host

DATA = Path(__file__).parent / "data" / "uboot"
MIB = 1 << 20


def sized(tmp: Path, n: int) -> Path:
    path = tmp / f"pkg-{n}"
    with open(path, "wb") as f:
        f.truncate(n)
    return path


def uimage(tmp: Path, load_at: int, data: int) -> Package:
    return Package("uimage", sized(tmp, data + 64), load_at, load_at, data, data_offset=64)


def with_uboot(name: str, **fields: Any) -> Target:
    t = load(name)
    assert t.uboot is not None
    return dataclasses.replace(t, uboot=dataclasses.replace(t.uboot, **fields))


# -- in place -----------------------------------------------------------------------------


def test_shipped_qemu_target_boots_a_590_mib_image_in_place(tmp_path: Path) -> None:
    """The user's case: a 596 MB elfloader linked at 0x65270000 on the 2 GiB virt board,
    with the target file as shipped: the uImage goes 64 bytes below its load address."""
    pkg = uimage(tmp_path, 0x65270000, 0x24F19090)
    where = place(load("qemu-virt-uboot"), pkg)
    assert (where.addr, where.in_place, where.auto) == (0x65270000 - 64, True, True)
    assert "in place: bootm does not copy" in where.describe(pkg)


def test_fit_in_place_needs_external_data(tmp_path: Path) -> None:
    embedded = Package("fit", sized(tmp_path, 4 * MIB), 0x80000000, 0x80000000, 4 * MIB - 2048)
    t = with_uboot("lab-virtual-board-fit")  # bootm: in-place
    with pytest.raises(HarnessError) as exc:
        place(t, embedded)
    assert "harness.uboot.bootm" in str(exc.value) and "inside the tree" in str(exc.value)
    external = dataclasses.replace(embedded, data_offset=0x1000)
    assert place(t, external).addr == 0x80000000 - 0x1000
    # auto falls back to a copy for the embedded FIT instead of failing
    assert not place(with_uboot("qemu-virt-uboot-fit"), embedded).in_place


def test_in_place_into_uboot_is_refused(tmp_path: Path) -> None:
    pkg = uimage(tmp_path, 0xBE000000, 8 * MIB)  # reaches into the top 64 MiB
    with pytest.raises(HarnessError) as exc:
        place(load("lab-virtual-board"), pkg)
    assert "overlaps U-Boot" in str(exc.value) and "uboot_reserve" in str(exc.value)
    assert not place(load("qemu-virt-uboot"), pkg).in_place  # auto: copied instead


def test_explicit_address_must_match_in_place(tmp_path: Path) -> None:
    pkg = uimage(tmp_path, 0x80000000, MIB)
    with pytest.raises(HarnessError) as exc:
        place(with_uboot("lab-virtual-board", load_addr=0x48000000), pkg)
    assert "harness.uboot.load_addr" in str(exc.value) and "0x7fffffc0" in str(exc.value)
    assert place(with_uboot("lab-virtual-board", load_addr=0x7FFFFFC0), pkg).in_place


# -- auto placement (bootm copies) ------------------------------------------------------------


def test_auto_keeps_clear_of_image_destinations_and_uboot(tmp_path: Path) -> None:
    t = with_uboot("qemu-virt-uboot", bootm="copy")
    pkg = uimage(tmp_path, 0x65270000, 0x24F19090)
    dest = (Area(0x40000000, 0x65253000, "rootserver"),)
    where = place(t, pkg, dest)
    assert not where.in_place and where.auto
    lo, hi = where.addr, where.addr + pkg.size
    for a in (
        *dest,
        Area(pkg.load, pkg.load + pkg.data_bytes, "copy"),
        Area(0xC0000000 - (64 << 20), 0xC0000000, "U-Boot"),
    ):
        assert not a.overlaps(lo, hi), (a, hex(lo), hex(hi))
    assert where.addr == 0x8A200000  # the first 2 MiB boundary above the image


def test_auto_uses_a_gap_below_when_nothing_above_fits(tmp_path: Path) -> None:
    t = with_uboot("qemu-virt-uboot", bootm="copy")
    pkg = uimage(tmp_path, 0xA0000000, 0x1A000000)  # up to 0xBA000000: 32 MiB above
    where = place(t, pkg, (Area(0x40000000, 0x41000000, "kernel"),))
    assert where.addr == 0x41000000 and not where.in_place


def test_auto_says_why_nothing_fits(tmp_path: Path) -> None:
    t = with_uboot("qemu-virt-uboot", bootm="copy")
    pkg = uimage(tmp_path, 0x80000000, 0x30000000)
    dest = (Area(0x40000000, 0x80000000, "user image 'big'"),)
    with pytest.raises(HarnessError) as exc:
        place(t, pkg, dest)
    text = str(exc.value)
    assert "no room for the 805306432-byte uimage" in text and "largest free gap" in text
    assert "user image 'big'" in text and "bootm: in-place" in text


def test_explicit_address_overlapping_uboot_is_refused(tmp_path: Path) -> None:
    pkg = uimage(tmp_path, 0x80000000, MIB)
    with pytest.raises(HarnessError) as exc:
        place(with_uboot("qemu-virt-uboot", bootm="copy", load_addr=0xBE000000), pkg)
    assert "overlaps U-Boot" in str(exc.value) and "harness.uboot.load_addr" in str(exc.value)


# -- the firmware's carve-outs (OP-TEE at 0x56000000 on the i.MX8M Plus targets) -------------


def test_in_place_over_a_carve_out_is_refused_before_power_on(tmp_path: Path) -> None:
    """The seed's case on an i.MX8M Plus with OP-TEE: a 596 MB image linked at 0x50000000
    would be written by U-Boot over secure memory. Nothing happens on QEMU; the board aborts."""
    t = with_uboot("qemu-imx8mp-uboot", bootm="in-place")
    pkg = uimage(tmp_path, 0x50000000, 596_000_000)
    with pytest.raises(HarnessError) as exc:
        place(t, pkg)
    text = str(exc.value)
    assert "carve-out 'optee' [0x56000000..0x58000000)" in text and "harness.uboot.bootm" in text
    small = uimage(tmp_path, 0x50000000, 6 * MIB)  # negative control: ends below OP-TEE
    assert place(t, small).in_place


def test_auto_never_puts_the_buffer_over_a_carve_out(tmp_path: Path) -> None:
    t = with_uboot("qemu-imx8mp-uboot", bootm="copy")
    pkg = uimage(tmp_path, 0x40480000, 40 * MIB)  # the buffer would start at 0x42E00000..
    kernel = (Area(0x40000000, 0x55000000, "user image 'big'"),)  # ..and then at 0x55000000
    where = place(t, pkg, kernel)
    assert not Area(0x56000000, 0x58000000, "optee").overlaps(where.addr, where.addr + pkg.size)
    assert where.addr == 0x58000000  # the first boundary past the carve-out
    assert place(with_uboot("qemu-imx8mp-uboot", bootm="copy"), pkg, ()).addr < 0x56000000


def test_explicit_buffer_over_a_carve_out_is_refused(tmp_path: Path) -> None:
    pkg = uimage(tmp_path, 0x40480000, MIB)
    t = with_uboot("qemu-imx8mp-uboot", bootm="copy", load_addr=0x55F00000)
    with pytest.raises(HarnessError) as exc:
        place(t, pkg)
    assert "the transfer buffer" in str(exc.value) and "carve-out 'optee'" in str(exc.value)
    assert place(with_uboot("qemu-imx8mp-uboot", bootm="copy", load_addr=0x58000000), pkg).addr == 0x58000000


# -- the seL4 elfloader's unpack destinations ---------------------------------------------------


@pytest.mark.parametrize("dtb,root_at", [(True, 0x4022C000), (False, 0x4042A000)])
def test_sel4_destinations_follow_the_loader(tmp_path: Path, dtb: bool, root_at: int) -> None:
    """Kernel at its paddrs, the DTB behind it (the archive's, else a 2 MiB allowance for
    the bootloader's), then the rootserver: its span rounded to pages plus a header page."""
    areas = unpack_destinations(sel4_like_elfloader(tmp_path, dtb))
    assert [(a.lo, a.hi) for a in areas] == [
        (0x40000000, 0x4022A000),
        (0x4022A000, root_at),
        (root_at, root_at + 0x22000 + 0x1000),
    ]
    assert areas[2].what == "user image 'rootserver'"


# -- U-Boot's error lines, classed --------------------------------------------------------------


@pytest.mark.parametrize(
    "line,kind,words",
    [
        ("uncompressed: uncompress error -28", "setup", "CONFIG_SYS_BOOTM_LEN"),
        ("Image too large: increase CONFIG_SYS_BOOTM_LEN", "setup", "in-place"),
        ("ERROR: new format image overwritten - must RESET the board to recover", "setup", "load_addr"),
        ("TFTP error: trying to overwrite reserved memory...", "setup", "uboot_reserve"),
        ("TFTP error: 'File not found' (1)", "infrastructure", ""),
        ("   Verifying Checksum ... Bad Data CRC", "product", ""),
        ("Bad hash value for 'hash-1' hash node in 'kernel-1' image node", "product", ""),
        ("Wrong Image Format for bootm command", "product", ""),
    ],
)
def test_uboot_lines_are_classed(line: str, kind: str, words: str) -> None:
    known = classify(line)
    assert known is not None and known.kind == kind
    text = explain(line, known)
    assert text.startswith(f"U-Boot: {line.strip()} (")
    assert ("fix: " in text) == (kind == "setup") and words in text


def test_ordinary_lines_are_not_errors() -> None:
    for line in (
        "   XIP Kernel Image",
        "   Loading Kernel Image",
        "Starting kernel ...",
        "   Verifying Checksum ... OK",
        "Bytes transferred = 10 (a hex)",
    ):
        assert classify(line) is None, line


RECORDED = {
    # recorded from Debian's u-boot-qemu 2023.01 (bootm's answer, up to its reset)
    "size-limit": ("bootm-size-limit.txt", "setup", "uncompressed: uncompress error -28"),
    "bad-crc": ("bootm-bad-crc.txt", "product", "Bad Data CRC"),
}


@pytest.mark.parametrize("case", list(RECORDED))
def test_recorded_bootm_failures_are_classed(board: Any, case: str) -> None:
    """The strategy over U-Boot's own text: the failure names the line, its class, and for
    a set-up failure the fix; never 'returned to the prompt'."""
    strategy, console, target = board
    name, kind, line = RECORDED[case]
    console.b["bootm_text"] = (DATA / name).read_text().replace("\n", "\r\n")
    with pytest.raises(BootFailure) as exc:
        drive(strategy, target)
    f = exc.value
    assert (f.kind, f.phase) == (kind, "bootm"), str(f)
    assert line in f.message and "returned to the prompt" not in f.message
    assert ("fix: boot in place" in f.message) == (case == "size-limit"), f.message


def test_a_copy_when_staged_in_place_is_a_setup_failure(board: Any) -> None:
    """Negative control of the in-place assertion: bootm says it loaded (copied) the image
    although the harness staged it in place."""
    strategy, console, target = board
    assert strategy.placement.in_place
    console.b["bootm_text"] = (
        "## Booting kernel from Legacy Image at 7fffffc0 ...\r\n"
        "   Verifying Checksum ... OK\r\n   Loading Kernel Image\r\n\r\n"
        "Starting kernel ...\r\n\r\n"
    )
    with pytest.raises(BootFailure) as exc:
        drive(strategy, target)
    assert (exc.value.kind, exc.value.phase) == ("setup", "bootm")
    assert "staged in place at 0x7fffffc0 but bootm copied" in exc.value.message


def test_in_place_boot_is_noted(board: Any) -> None:
    strategy, console, target = board
    _, tl = drive(strategy, target)
    xip = [e for e in tl.events if e.name == "uboot.xip"]
    assert xip and xip[-1].fields["in_place"] == "true"
    staged = [e for e in tl.events if e.name == "uboot.staging"]
    assert staged and staged[-1].fields == {"addr": "0x7fffffc0", "in_place": "true"}

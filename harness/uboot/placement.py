"""Where the TFTP transfer buffer goes, and whether `bootm` boots the image in place.

`bootm` copies a package's data from where it was loaded to the image's load
address, and refuses a copy larger than CONFIG_SYS_BOOTM_LEN (64 MiB for arm64 in
U-Boot 2023.01: a 596 MB seL4 image fails with `uncompress error -28`). Staged so
the data already sits at its load address (a uImage 64 bytes below it, an
external-data FIT FIT_DATA_POSITION below it), bootm says `XIP Kernel Image` and
neither copies nor checks the size: on a board that also saves a 596 MB copy.

Otherwise the buffer must keep clear of what is live while it is written and
read: the image's load range (bootm's copy target), the loader's unpack
destinations (the seL4 elfloader puts the kernel at its physical addresses, the
DTB right after it, then each user image, page by page, with a page of ELF
headers; our reference loader uses the ELF physical addresses) and U-Boot itself
(relocated to the top of DRAM with its heap, stack and FDT: `uboot_reserve`).
`load_addr: auto` picks the lowest 2 MiB boundary above the image that fits, else
any gap; an explicit `load_addr` is checked against the same ranges, except the
unpack destinations (they are written only after bootm is done with the buffer).

Nothing U-Boot writes may touch a carve-out the target declares (DRAM its firmware
keeps, OP-TEE behind the TZASC): on QEMU such a write lands silently, on the board it
aborts or corrupts the secure world. A boot in place that would cover one is refused
before power-on, and `auto` never places a buffer over one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import HarnessError
from ..destinations import Area, round_up
from ..images.package import Package
from ..targets import Target

ALIGN = 2 << 20  # the buffer's alignment (any would do; round numbers read well)
# `load mmc` on QEMU: its SDHCI model pauses an SDMA transfer that starts on a 512 KiB
# boundary at every boundary after it, until the address register is written again,
# which U-Boot's uSDHC driver never does (the silicon never pauses): the load hangs. A
# buffer one cache line past the boundary never starts on one. docs/uboot-imx8mp.md
MMC_SKEW = 64
SDMA_BOUNDARY = 512 << 10


@dataclass(frozen=True)
class Placement:
    """The transfer buffer and how bootm treats it."""

    addr: int  # tftpboot / bootm address (the package's first byte)
    in_place: bool  # the data sits at its load address: no copy, no size limit
    auto: bool  # chosen by the harness (load_addr: auto)
    avoided: tuple[Area, ...] = ()

    def describe(self, pkg: Package) -> str:
        if pkg.kind == "elf":
            how = f"bootelf copies its segments to {pkg.load:#x}..{pkg.load + pkg.data_bytes:#x}"
        else:
            how = (
                "in place: bootm does not copy"
                if self.in_place
                else f"bootm copies {pkg.data_bytes} bytes to {pkg.load:#x}"
            )
        return (
            f"transfer buffer {self.addr:#x}..{self.addr + pkg.size:#x} ({'auto' if self.auto else 'load_addr'}; {how})"
        )


def _check_in_dram(target: Target, lo: int, hi: int, what: str, field: str, fix: str) -> None:
    base, size = target.dram
    if lo < base or hi > base + size:
        raise HarnessError(
            f"{what} {lo:#x}..{hi:#x} does not fit in DRAM {base:#x}..{base + size:#x}",
            file=target.path,
            field=field,
            fix=fix,
        )


def uboot_area(target: Target) -> Area:
    assert target.uboot is not None
    base, size = target.dram
    return Area(
        base + size - target.uboot.uboot_reserve,
        base + size,
        "U-Boot (relocated code, heap, stack, FDT: uboot_reserve)",
    )


def carve_out_areas(target: Target) -> tuple[Area, ...]:
    """The target's carve-outs as areas no transfer or copy may touch."""
    return tuple(Area(c.base, c.end, f"{c.describe()} (firmware's memory, {c.source})") for c in target.carve_outs)


def _clear_of_carve_outs(target: Target, lo: int, hi: int, what: str, field: str, fix: str) -> None:
    for area in carve_out_areas(target):
        if area.overlaps(lo, hi):
            raise HarnessError(
                f"{what} {lo:#x}..{hi:#x} overlaps {area.describe()}: U-Boot would write into "
                "memory the board's firmware keeps (an abort or a corrupted secure world on the "
                "board; nothing at all on QEMU)",
                file=target.path,
                field=field,
                fix=fix,
            )


def place(target: Target, pkg: Package, destinations: tuple[Area, ...] = ()) -> Placement:
    """The transfer buffer for `pkg` on `target`; HarnessError (file, field, fix) if none."""
    u = target.uboot
    assert u is not None
    uboot = uboot_area(target)
    in_place_at = pkg.load - pkg.data_offset if pkg.data_offset is not None else None
    base, size = target.dram
    fits = (
        in_place_at is not None
        and base <= in_place_at
        and pkg.load + pkg.data_bytes <= base + size
        and not uboot.overlaps(in_place_at, in_place_at + pkg.size)
        and not any(a.overlaps(in_place_at, in_place_at + pkg.size) for a in carve_out_areas(target))
    )
    if u.bootm == "in-place":
        _require_in_place(target, pkg, in_place_at, uboot)
    if u.load_addr is not None:
        return _explicit(target, pkg, u.load_addr, in_place_at, uboot)
    if in_place_at is not None and u.bootm != "copy" and fits:
        return Placement(in_place_at, True, True, (uboot,))
    return _auto(target, pkg, destinations, uboot)


def _require_in_place(target: Target, pkg: Package, at: int | None, uboot: Area) -> None:
    field = "harness.uboot.bootm"
    if at is None:
        raise HarnessError(
            "a FIT with its data inside the tree cannot boot in place",
            file=target.path,
            field=field,
            fix="package it with 'bootm: in-place' (external data) or use 'bootm: copy'",
        )
    _check_in_dram(
        target,
        at,
        pkg.load + pkg.data_bytes,
        f"the {pkg.kind} in place",
        field,
        "the image's load address must be in DRAM: use 'bootm: copy'",
    )
    _clear_of_carve_outs(
        target,
        at,
        at + pkg.size,
        f"the {pkg.kind} in place",
        field,
        "link the image where no carve-out is (or move the firmware's carve-out on the board and in "
        "the target's memory_map.carve_outs)",
    )
    if uboot.overlaps(at, at + pkg.size):
        raise HarnessError(
            f"the {pkg.kind} in place {at:#x}..{at + pkg.size:#x} overlaps {uboot.describe()}",
            file=target.path,
            field=field,
            fix="link the image lower, or lower uboot_reserve if U-Boot sits higher",
        )
    u = target.uboot
    assert u is not None
    if u.load_addr is not None and u.load_addr != at:
        raise HarnessError(
            f"load_addr {u.load_addr:#x} but in place the {pkg.kind} goes at {at:#x} "
            f"(its load address {pkg.load:#x} less {pkg.data_offset} bytes)",
            file=target.path,
            field="harness.uboot.load_addr",
            fix="set 'load_addr: auto' (or 'bootm: copy' to keep this address)",
        )


def _explicit(target: Target, pkg: Package, lo: int, in_place_at: int | None, uboot: Area) -> Placement:
    """A load_addr the target file gives: in DRAM, clear of bootm's copy and U-Boot."""
    hi = lo + pkg.size
    field = "harness.uboot.load_addr"
    _check_in_dram(
        target,
        lo,
        hi,
        f"the {pkg.kind} ({pkg.size} bytes) at",
        field,
        "pick a transfer address inside the board's DRAM, or 'load_addr: auto'",
    )
    u = target.uboot
    if u is not None and u.transport == "mmc" and lo % SDMA_BOUNDARY == 0:
        raise HarnessError(
            f"load_addr {lo:#x} starts on a 512 KiB boundary: QEMU's SD host "
            "pauses the load there and U-Boot never resumes it",
            file=target.path,
            field=field,
            fix=f"use {lo + MMC_SKEW:#x}, or 'load_addr: auto'",
        )
    in_place = lo == in_place_at
    _clear_of_carve_outs(target, lo, hi, "the transfer buffer", field, "use 'load_addr: auto', or move it clear")
    _clear_of_carve_outs(
        target,
        pkg.load,
        pkg.load + pkg.data_bytes,
        f"where {'bootelf' if pkg.kind == 'elf' else 'bootm'} puts the image",
        field,
        "link the image where no carve-out is",
    )
    copy = Area(pkg.load, pkg.load + pkg.data_bytes, "where bootm puts the image")
    if not in_place and copy.overlaps(lo, hi):
        raise HarnessError(
            f"the transfer buffer {lo:#x}..{hi:#x} overlaps {copy.describe()}",
            file=target.path,
            field=field,
            fix=f"use 'load_addr: auto', or move it above {copy.hi:#x} or below {pkg.load - pkg.size:#x}",
        )
    if uboot.overlaps(lo, hi):
        raise HarnessError(
            f"the transfer buffer {lo:#x}..{hi:#x} overlaps {uboot.describe()}",
            file=target.path,
            field=field,
            fix=f"use 'load_addr: auto', or end it below {uboot.lo:#x}",
        )
    return Placement(lo, in_place, False, (copy, uboot))


def _auto(target: Target, pkg: Package, destinations: tuple[Area, ...], uboot: Area) -> Placement:
    """The lowest ALIGN boundary above everything the image needs that fits below
    U-Boot; else the lowest gap anywhere."""
    copy = Area(pkg.load, pkg.load + pkg.data_bytes, "the image's load range (bootm's copy)")
    _clear_of_carve_outs(
        target,
        copy.lo,
        copy.hi,
        "the image's load range",
        "harness.uboot.load_addr",
        "link the image where no carve-out is",
    )
    avoid = sorted((copy, uboot, *destinations, *carve_out_areas(target)), key=lambda a: a.lo)
    base, size = target.dram
    top = max(a.hi for a in (copy, *destinations))
    gaps, at = [], base
    for a in avoid:
        if a.lo > at:
            gaps.append((at, a.lo))
        at = max(at, a.hi)
    if at < base + size:
        gaps.append((at, base + size))
    candidates = [g for g in gaps if g[0] >= top] + [g for g in gaps if g[0] < top]
    skew = MMC_SKEW if target.uboot is not None and target.uboot.transport == "mmc" else 0
    for lo, hi in candidates:
        start = round_up(lo, ALIGN) + skew
        if start + pkg.size <= hi:
            return Placement(start, False, True, tuple(avoid))
    largest = max((hi - lo for lo, hi in gaps), default=0)
    listed = "; ".join(a.describe() for a in avoid)
    raise HarnessError(
        f"no room for the {pkg.size}-byte {pkg.kind} in DRAM {base:#x}..{base + size:#x}: "
        f"the largest free gap is {largest} bytes (needed: {listed})",
        file=target.path,
        field="harness.uboot.load_addr",
        fix="boot in place ('bootm: in-place'), or give the target more DRAM",
    )

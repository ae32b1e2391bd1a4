"""Where a loader will put what it unpacks, read from the boot file before any boot.

The seL4 elfloader puts the kernel at its physical addresses, the DTB right after it,
then each user image, page by page, with a page of ELF headers; our reference loader
uses the ELF physical addresses. U-Boot's transfer buffer must keep clear of these
(harness/uboot/placement.py), and so must the firmware's carve-outs (the `destinations`
check).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import HarnessError
from .images.package import is_elf
from .payload import Payload

PAGE = 0x1000
# The DTB seL4's loader copies behind the kernel: U-Boot's control FDT on QEMU `virt`
# has fdt_size 1 MiB (`bdinfo`); twice that covers a board's.
DTB_RESERVE = 2 << 20


@dataclass(frozen=True)
class Area:
    """A range of physical memory something needs, [lo, hi)."""

    lo: int
    hi: int
    what: str

    def overlaps(self, lo: int, hi: int) -> bool:
        return lo < self.hi and self.lo < hi

    def describe(self) -> str:
        return f"{self.what} {self.lo:#x}..{self.hi:#x}"


def round_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def loader_elf(boot_file: Path) -> Path | None:
    """The elfloader ELF behind a boot file: itself, or our builds' `X.elf` beside `X.Image`."""
    if is_elf(boot_file):
        return boot_file
    sibling = boot_file.with_suffix(".elf")
    return sibling if sibling.is_file() and is_elf(sibling) else None


def unpack_destinations(boot_file: Path) -> tuple[Area, ...]:
    """Where the loader in `boot_file` will unpack its images (empty when unknown)."""
    elf = loader_elf(boot_file)
    if elf is None:
        return ()
    payload = Payload(elf, elf)
    try:
        images = payload.images
    except HarnessError:
        return ()  # not an elfloader (a bare kernel ELF): nothing is unpacked
    if payload.contract == "mmu-off":  # our reference loader: ELF physical addresses
        return tuple(Area(s.paddr, s.end, f"{img.name} segment") for img in images for s in img.segments if s.memsz)
    kernel, users = images[0], images[1:]
    lo, hi = kernel.span
    hi = round_up(hi, PAGE)
    # The archive's kernel.dtb is the one the loader copies; without it, the bootloader's.
    dtb = next((m.data.size for m in payload.members if m.name.endswith(".dtb")), DTB_RESERVE)
    out = [Area(lo, hi, "the seL4 kernel"), Area(hi, hi + round_up(dtb, PAGE), "its DTB")]
    nxt = hi + round_up(dtb, PAGE)
    for img in users:
        ulo, uhi = img.span
        size = round_up(uhi, PAGE) - ulo + PAGE  # + the page of ELF headers
        out.append(Area(nxt, nxt + size, f"user image '{img.name}'"))
        nxt += size
    return tuple(out)

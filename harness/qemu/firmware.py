"""A QEMU target booted as a board is: firmware first, the loader placed beside it.

With `firmware:` in the target, the firmware is QEMU's -kernel (entered at EL3), the
loader is loaded with `-device loader`, and the firmware's mailbox word holds the
loader's entry; the firmware enters it at EL2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HarnessError


@dataclass(frozen=True)
class Firmware:
    """EL3 firmware given to QEMU's -kernel in front of the loader, and its mailbox: the
    64-bit word it reads the next stage's entry from (images/firmware/link.ld)."""

    elf: Path
    mailbox: int


def firmware_for(target: Any) -> Firmware | None:
    """Build (or reuse) the firmware a harness target names in `firmware:`."""
    if getattr(target, "firmware", None) is None:
        return None
    from ..images.build import FIRMWARE_MAILBOX, build_firmware
    from ..images.elf import read_elf

    elf = build_firmware(target.machine)
    return Firmware(elf, read_elf(elf, "firmware").symbol(FIRMWARE_MAILBOX))


def loader_placement(image: Path, dram_base: int) -> tuple[list[str], int]:
    """How QEMU loads a loader that firmware, not QEMU, starts: the `-device loader`
    option and the entry address the firmware jumps to.

    ELF: its PT_LOADs at their physical addresses (QEMU's ELF loading), entered at the
    physical e_entry (the MMU is off). arm64 Image (a raw binary with the header): the file
    at DRAM base + text_offset, where booti/QEMU's -kernel put it, entered at its first
    byte. A raw binary without the header has no load address anyone could know.
    """
    from ..images.elf import read_elf
    from ..images.package import image_header, is_elf

    if not image.is_file():
        raise HarnessError("no such file", file=image, fix="check the path (build the image first?)")
    if is_elf(image):
        return ["-device", f"loader,file={image}"], read_elf(image, image.name).entry_paddr
    text_offset = image_header(image)
    if text_offset is None:
        raise HarnessError(
            "a raw binary without an arm64 Image header: its load address is unknown",
            file=image,
            field="boot file",
            fix="give the loader as an ELF (seL4: build/elfloader/elfloader), or set 'image_format: elf' in the target",
        )
    load = dram_base + text_offset
    return ["-device", f"loader,file={image},addr={load:#x},force-raw=on"], load

"""A made-up seL4 elfloader: a kernel ELF, optionally its DTB, and a rootserver in a CPIO
archive inside a loader ELF linked where seL4 puts a 596 MB image's loader."""

from __future__ import annotations

from pathlib import Path

from harness.images.cpio import write_newc
from helpers.elfgen import Elf, Seg


def sel4_like_elfloader(tmp: Path, dtb: bool, root_memsz: int = 0x10000) -> Path:
    """`root_memsz`: the rootserver's text size (a big one reaches far above the kernel)."""
    kernel = Elf(0x40000000, [Seg(0x40000000, b"k" * 64, memsz=0x22A000, flags=5)])
    root = Elf(
        0x400000,
        [
            Seg(0x400000, b"r" * 64, memsz=root_memsz, flags=5),
            Seg(0x400000 + root_memsz + 0x10000, b"d" * 8, memsz=0x1800, flags=6),
        ],
    )
    members = [("kernel.elf", kernel.write(tmp / "kernel.elf"))]
    if dtb:
        (tmp / "kernel.dtb").write_bytes(b"\xd0\x0d\xfe\xed" + bytes(0x1E0D))
        members.append(("kernel.dtb", tmp / "kernel.dtb"))
    members.append(("rootserver", root.write(tmp / "rootserver")))
    write_newc(members, tmp / "archive.cpio")
    return Elf(0x65270000, [Seg(0x65270000, (tmp / "archive.cpio").read_bytes(), flags=5)]).write(tmp / "elfloader")

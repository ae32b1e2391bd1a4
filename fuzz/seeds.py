"""Seed corpora for the parser fuzzers, cut from the real images this machine has built.

For every elfloader image found (reference builds under build/images/, real seL4 images
under build/sel4/images/) the embedded newc archive is located (harness.images.cpio) and:

  cpio/  the archive itself, when it is small enough, and a *compact* copy of it;
  elf/   each ELF member, when small enough, and a compact copy of it.

A compact ELF keeps the real ELF and program headers (every field as built: addresses, sizes,
flags, entry) but only the first bytes of each PT_LOAD's file data; p_filesz is trimmed to
match and p_memsz kept, so the seed still describes the real layout in a few KiB. A compact
archive holds the compact members under their real names (a large kernel.dtb keeps its first
bytes with the FDT's totalsize trimmed to match). Compact seeds fit libFuzzer's -max_len and
run at tens of thousands of executions a second; the full ones seed the long runs.

Seeds are deduplicated by content and written under OUT (default build/fuzz/seeds).

    .venv/bin/python fuzz/seeds.py [OUT]
"""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.images.cpio import HEADER, MAGIC, TRAILER, Member, find_archive, read_newc

ROOT = Path(__file__).resolve().parent.parent
IMAGE_GLOBS = ("build/images/*/*/elfloader.elf", "build/sel4/images/*/elfloader.elf")
FULL_MAX = 2 << 20  # whole archives/members up to this size become seeds as they are
KEEP_BYTES = 256  # file bytes kept per PT_LOAD (and of a large DTB)
PT_LOAD = 1
EHDR, PHDR = 64, 56


def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


def _is_elf64(head: bytes) -> bool:
    return len(head) >= EHDR and head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1


def compact_elf(member: Member) -> bytes | None:
    """The member's ELF and program headers with KEEP_BYTES of each PT_LOAD's data."""
    if member.data.size < EHDR:
        return None  # e.g. a kernel.bin/app.bin digest
    head = member.data.read(0, EHDR)
    if not _is_elf64(head):
        return None
    (phoff,) = struct.unpack_from("<Q", head, 32)
    phentsize, phnum = struct.unpack_from("<HH", head, 54)
    if phentsize != PHDR or phoff + phnum * PHDR > member.data.size:
        return None
    phdrs = bytearray(member.data.read(phoff, phnum * PHDR))
    body = bytearray()
    data_at = EHDR + len(phdrs)
    for i in range(phnum):
        (p_type,) = struct.unpack_from("<I", phdrs, i * PHDR)
        offset, _, _, filesz = struct.unpack_from("<QQQQ", phdrs, i * PHDR + 8)
        if p_type != PT_LOAD:
            continue
        if offset > member.data.size:
            return None
        keep = member.data.read(offset, min(filesz, KEEP_BYTES, member.data.size - offset))
        struct.pack_into("<Q", phdrs, i * PHDR + 8, data_at + len(body))
        struct.pack_into("<Q", phdrs, i * PHDR + 32, len(keep))
        body += keep + b"\0" * _pad4(len(keep))
    ehdr = bytearray(head)
    struct.pack_into("<Q", ehdr, 32, EHDR)  # e_phoff: right after the header
    struct.pack_into("<Q", ehdr, 40, 0)  # e_shoff: no sections
    struct.pack_into("<HHH", ehdr, 58, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    return bytes(ehdr + phdrs + body)


def compact_dtb(member: Member) -> bytes:
    """A small DTB whole; a large one cut to KEEP_BYTES with its totalsize to match."""
    if member.data.size <= 8 << 10:
        return member.data.read()
    head = bytearray(member.data.read(0, KEEP_BYTES))
    if len(head) >= 8:
        struct.pack_into(">I", head, 4, len(head))
    return bytes(head)


def newc(members: list[tuple[str, bytes]]) -> bytes:
    """A newc archive of in-memory members, as seL4's build writes it."""
    out = bytearray()
    for ino, (name, data) in enumerate(members + [(TRAILER, b"")], start=1):
        mode = 0o100644 if name != TRAILER else 0
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        head = MAGIC + b"".join(b"%08X" % v for v in fields) + name.encode() + b"\0"
        assert len(head) == HEADER + len(name) + 1
        out += head + b"\0" * _pad4(len(head)) + data + b"\0" * _pad4(len(data))
    return bytes(out)


def compact_member(member: Member) -> bytes | None:
    if member.name == "kernel.dtb":
        return compact_dtb(member)
    return compact_elf(member)


class SeedWriter:
    """Writes each distinct seed once, named by a hash of its content."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.count = 0

    def write(self, kind: str, label: str, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()[:16]
        path = self.out / kind / f"{label}-{digest}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self.count += 1


def seed_image(image: Path, seeds: SeedWriter) -> None:
    archive = find_archive(image)
    members = read_newc(archive)
    if archive.size <= FULL_MAX:
        seeds.write("cpio", "archive", archive.read())
    compact: list[tuple[str, bytes]] = []
    for member in members:
        small = compact_member(member)
        if small is not None:
            compact.append((member.name, small))
            if member.name != "kernel.dtb":
                seeds.write("elf", "compact", small)
        if member.name != "kernel.dtb" and member.data.size <= FULL_MAX:
            seeds.write("elf", "member", member.data.read())
    seeds.write("cpio", "compact", newc(compact))


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "build/fuzz/seeds"
    seeds = SeedWriter(out)
    images = sorted({p for g in IMAGE_GLOBS for p in ROOT.glob(g)})
    for image in images:
        try:
            seed_image(image, seeds)
        except HarnessError as e:
            print(f"seeds: skipping {image}: {e}", file=sys.stderr)
    print(f"seeds: {len(images)} images, {seeds.count} new seeds under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

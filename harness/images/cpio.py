"""newc CPIO archives, as seL4's elfloader embeds them.

Writing: the reference elfloader gets its archive from here. Reading: a user's
seL4 elfloader image carries its kernel and user images in a newc archive
between the symbols `_archive_start` and `_archive_start_end`; `find_archive`
locates it (by symbol, or by scanning when the image is stripped).
"""

from __future__ import annotations

import filecmp
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..atomic import tmp_beside
from ..errors import HarnessError
from .file_window import FileRange

MAGIC = b"070701"
HEADER = 110
TRAILER = "TRAILER!!!"


def _pad4(n: int) -> int:
    return (4 - n % 4) % 4


@dataclass(frozen=True)
class Member:
    name: str
    data: FileRange


# seL4's loader built with -DElfloaderHashInstructions=hash_sha|hash_md5 carries raw
# digests (not ELFs) of kernel.elf and of the user image(s) as extra members.
HASH_MEMBERS = ("kernel.bin", "app.bin")
DIGEST_SIZES = {32: "sha256", 16: "md5"}


def is_hash_member(member: Member) -> bool:
    """A `kernel.bin`/`app.bin` digest member (checked by `hash_algorithm`)."""
    return member.name in HASH_MEMBERS


def hash_algorithm(member: Member) -> str:
    """sha256 or md5, from the digest's size; a clear error for anything else."""
    algo = DIGEST_SIZES.get(member.data.size)
    if algo is None:
        raise HarnessError(
            f"hash member '{member.name}' is {member.data.size} bytes, not a SHA-256 (32) or MD5 (16) digest",
            file=member.data.path,
            field=f"cpio archive/{member.name}",
            fix="rebuild with -DElfloaderHashInstructions=hash_sha or hash_md5",
        )
    return algo


def _header(name: str, size: int, ino: int, mode: int = 0o100644) -> bytes:
    raw = name.encode()  # the name size counts bytes, not characters
    fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(raw) + 1, 0]
    head = MAGIC + b"".join(b"%08X" % v for v in fields) + raw + b"\0"
    return head + b"\0" * _pad4(len(head))


def write_newc(members: list[tuple[str, Path]], out: Path) -> bool:
    """Write a newc archive of the given files, streaming their contents; False when `out`
    already held exactly these bytes. An unchanged archive keeps its file and its age, so
    make does not relink the loader around it: another suite may be booting that loader
    (a relink rewrites the ELF under QEMU's `-kernel`). A changed one replaces the old by
    rename, never in place."""
    tmp = tmp_beside(out)
    try:
        with open(tmp, "wb") as f:
            for ino, (name, path) in enumerate(members, start=1):
                size = path.stat().st_size
                f.write(_header(name, size, ino))
                with open(path, "rb") as src:
                    shutil.copyfileobj(src, f, 8 << 20)
                f.write(b"\0" * _pad4(size))
            f.write(_header(TRAILER, 0, 0, 0))
    except BaseException:
        tmp.unlink(missing_ok=True)  # a member unreadable, a full disk: no half archive left
        raise
    if out.is_file() and filecmp.cmp(tmp, out, shallow=False):
        tmp.unlink()
        return False
    tmp.replace(out)
    return True


# A newc header: the magic and 13 fields of 8 hex digits (int() alone would take
# "-0000001", " 00001 " or "0000_001").
_HEADER_RE = re.compile(rb"070701[0-9A-Fa-f]{104}")
NAME_MAX = 4096  # PATH_MAX: a name size beyond it is a corrupt header, not a name


def read_newc(archive: FileRange) -> list[Member]:
    """List the members of a newc archive (data left in place)."""
    members: list[Member] = []
    pos = 0

    def bad(what: str, fix: str = "rebuild the archive with 'cpio -o -H newc'") -> HarnessError:
        return HarnessError(what, file=archive.path, field="cpio archive", fix=fix)

    truncated = "the image is truncated: rebuild it"
    with archive.open() as f:
        while True:
            f.seek(pos)
            head = f.read(HEADER)
            if len(head) < HEADER or not _HEADER_RE.fullmatch(head):
                raise bad(f"bad newc header at archive offset {pos:#x}")
            size = int(head[54:62], 16)
            namesize = int(head[94:102], 16)
            if not 0 < namesize <= NAME_MAX:
                raise bad(f"bad newc header at archive offset {pos:#x}: name size {namesize:#x}")
            if pos + HEADER + namesize > archive.size:
                raise bad(f"the member name at archive offset {pos:#x} runs past the end of the archive", truncated)
            name = f.read(namesize).split(b"\0", 1)[0].decode(errors="replace")
            data_at = pos + HEADER + namesize
            data_at += _pad4(data_at)
            if name == TRAILER:
                return members
            if data_at + size > archive.size:
                raise bad(
                    f"member '{name}' ({size} bytes at archive offset {data_at:#x}) runs "
                    f"past the end of the archive ({archive.size} bytes)",
                    truncated,
                )
            members.append(Member(name, archive.sub(data_at, size)))
            pos = data_at + size + _pad4(size)


def find_archive(image: Path) -> FileRange:
    """Locate the CPIO archive embedded in an elfloader ELF."""
    from .elf import read_elf

    elf = read_elf(image)
    if "_archive_start" in elf.symbols and "_archive_start_end" in elf.symbols:
        start = elf.file_offset(elf.symbols["_archive_start"])
        size = elf.symbols["_archive_start_end"] - elf.symbols["_archive_start"]
        file_size = elf.source.size
        if size < 0 or start + size > file_size:
            raise HarnessError(
                f"the archive (_archive_start to _archive_start_end) is {size} bytes "
                f"at file offset {start:#x}, but the file has {file_size} bytes",
                file=image,
                field="_archive_start_end",
                fix="the image is truncated or its symbols are wrong: rebuild it",
            )
        return FileRange(image, start, size)
    # Stripped image: scan the load segments for a newc header named kernel.elf.
    pattern = re.compile(rb"070701[0-9A-Fa-f]{104}kernel\.elf\x00")
    keep = HEADER + 16
    for seg in elf.segments:
        tail, consumed = b"", 0
        for chunk in seg.data.chunks():
            buf = tail + chunk
            hit = pattern.search(buf)
            if hit:
                off = seg.data.offset + consumed - len(tail) + hit.start()
                return FileRange(image, off, seg.data.offset + seg.data.size - off)
            consumed += len(chunk)
            tail = buf[-keep:]
    raise HarnessError(
        "no CPIO archive with kernel.elf found",
        file=image,
        field="_archive_start",
        fix="pass an seL4 elfloader image (it embeds a newc archive)",
    )

"""Patch the probe kernel's expected-segment table after linking.

The probe recomputes CRC-32 of its own segments at entry and compares with this
table. The table cannot be known at compile time (it describes the linked
result), so the host fills it in with pyelftools' view of the final ELF. Two
segments are marked skipped: the one holding the table (patching changes it)
and the stack (the probe writes it before it checks anything; it is the only
PT_LOAD with no file bytes).
"""

from __future__ import annotations

import struct
from pathlib import Path

from ..errors import HarnessError
from .elf import ElfImage, read_elf

MAGIC = 0x58425250  # "PRBX"
MAX_SEGS = 16
SKIP_TABLE = 1
SKIP_STACK = 2
_HEAD = struct.Struct("<II")
_SEG = struct.Struct("<QQQII")


def expected_table(elf: ElfImage) -> list[tuple[int, int, int, int, int]]:
    """(paddr, filesz, memsz, crc32, flags) per PT_LOAD, as the probe wants it."""
    table_addr = elf.symbol("probe_expected")
    rows = []
    for seg in elf.segments:
        flags = 0
        if seg.vaddr <= table_addr < seg.vaddr + seg.memsz:
            flags = SKIP_TABLE
        elif seg.filesz == 0:
            flags = SKIP_STACK
        crc = 0 if flags else seg.crc32
        rows.append((seg.paddr, seg.filesz, seg.memsz, crc, flags))
    if len(rows) > MAX_SEGS:
        raise HarnessError(
            f"{len(rows)} PT_LOADs, the probe table holds {MAX_SEGS}",
            file=elf.source.path,
            field="program headers",
            fix="raise PROBE_MAX_SEGS in images/probe and here",
        )
    return rows


def patch_probe(path: Path) -> list[tuple[int, int, int, int, int]]:
    """Write the expected table into the probe ELF in place; return it."""
    elf = read_elf(path, "kernel")
    rows = expected_table(elf)
    offset = elf.file_offset(elf.symbol("probe_expected"))
    with open(path, "r+b") as f:
        f.seek(offset)
        magic, _ = _HEAD.unpack(f.read(_HEAD.size))
        if magic != MAGIC:
            raise HarnessError(
                f"probe table magic is {magic:#x}, expected {MAGIC:#x}",
                file=path,
                field="probe_expected",
                fix="rebuild the probe (make -C images probe)",
            )
        f.seek(offset)
        f.write(_HEAD.pack(MAGIC, len(rows)) + b"".join(_SEG.pack(*r) for r in rows))
    return rows

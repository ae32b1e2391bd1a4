"""Write small aarch64 ELF files for host tests (no cross compiler needed)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

EM_AARCH64 = 183


@dataclass
class Seg:
    paddr: int
    data: bytes
    memsz: int | None = None
    flags: int = 4  # PF_R
    vaddr: int | None = None


@dataclass
class Elf:
    entry: int
    segs: list[Seg]
    symbols: dict[str, int] = field(default_factory=dict)
    machine: int = EM_AARCH64

    def bytes(self) -> bytes:
        ehsize, phsize, shsize = 64, 56, 64
        phoff = ehsize
        data_off = phoff + phsize * len(self.segs)
        data_off = (data_off + 15) & ~15
        body = bytearray()
        offsets = []
        for s in self.segs:
            offsets.append(data_off + len(body))
            body += s.data
            body += b"\0" * ((-len(body)) % 8)
        # .symtab/.strtab/.shstrtab after the segment bytes
        strtab = bytearray(b"\0")
        syms = bytearray(b"\0" * 24)
        for name, value in self.symbols.items():
            idx = len(strtab)
            strtab += name.encode() + b"\0"
            syms += struct.pack("<IBBHQQ", idx, 0x10, 0, 1, value, 0)  # GLOBAL NOTYPE, shndx 1
        shstr = b"\0.symtab\0.strtab\0.shstrtab\0"
        base = data_off + len(body)
        sym_off = base
        str_off = sym_off + len(syms)
        shs_off = str_off + len(strtab)
        sh_off = (shs_off + len(shstr) + 7) & ~7
        tail = bytes(syms) + bytes(strtab) + shstr
        tail += b"\0" * (sh_off - shs_off - len(shstr))
        sections = [
            b"\0" * shsize,
            struct.pack("<IIQQQQIIQQ", 1, 2, 0, 0, sym_off, len(syms), 2, 1, 8, 24),
            struct.pack("<IIQQQQIIQQ", 9, 3, 0, 0, str_off, len(strtab), 0, 0, 1, 0),
            struct.pack("<IIQQQQIIQQ", 17, 3, 0, 0, shs_off, len(shstr), 0, 0, 1, 0),
        ]
        ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
        eh = ident + struct.pack(
            "<HHIQQQIHHHHHH",
            2,
            self.machine,
            1,
            self.entry,
            phoff,
            sh_off,
            0,
            ehsize,
            phsize,
            len(self.segs),
            shsize,
            len(sections),
            3,
        )
        ph = b"".join(
            struct.pack(
                "<IIQQQQQQ",
                1,
                s.flags,
                off,
                s.vaddr if s.vaddr is not None else s.paddr,
                s.paddr,
                len(s.data),
                s.memsz if s.memsz is not None else len(s.data),
                8,
            )
            for s, off in zip(self.segs, offsets)
        )
        head = eh + ph
        head += b"\0" * (data_off - len(head))
        return head + bytes(body) + tail + b"".join(sections)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.bytes())
        return path

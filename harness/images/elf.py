"""ELF inspection with pyelftools: the PT_LOAD segments an image asks for.

Everything the checks compare against comes from here: where each segment must
land (paddr), how many bytes come from the file (filesz), how many are zero
(memsz - filesz), and the CRC-32 the landed bytes must have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ..errors import HarnessError
from .file_window import FileRange

PF_X, PF_W, PF_R = 1, 2, 4


@dataclass(frozen=True)
class Segment:
    """One PT_LOAD: `index` counts PT_LOADs only, in program-header order."""

    image: str
    index: int
    paddr: int
    vaddr: int
    filesz: int
    memsz: int
    flags: int
    data: FileRange = field(repr=False, compare=False)

    @property
    def flag_str(self) -> str:
        return "".join(c for bit, c in ((PF_R, "r"), (PF_W, "w"), (PF_X, "x")) if self.flags & bit)

    @property
    def executable(self) -> bool:
        return bool(self.flags & PF_X)

    @property
    def end(self) -> int:
        """First physical address past the segment (bss included)."""
        return self.paddr + self.memsz

    @property
    def bss(self) -> tuple[int, int]:
        """The zero-filled tail [start, end) the file does not provide."""
        return self.paddr + self.filesz, self.paddr + self.memsz

    @cached_property
    def crc32(self) -> int:
        """zlib's CRC-32 of the file bytes (what the loader reports)."""
        return self.data.crc32()

    def describe(self) -> str:
        return f"image '{self.image}' segment {self.index} (paddr={self.paddr:#x}, {self.flag_str})"


@dataclass(frozen=True)
class ElfImage:
    """An aarch64 executable and its load segments."""

    name: str
    source: FileRange
    entry: int
    segments: tuple[Segment, ...]
    symbols: dict[str, int] = field(repr=False, compare=False)

    @property
    def span(self) -> tuple[int, int]:
        return min(s.paddr for s in self.segments), max(s.end for s in self.segments)

    @property
    def entry_paddr(self) -> int:
        """The physical entry: e_entry moved by its segment's vaddr-paddr offset."""
        for s in self.segments:
            if s.vaddr <= self.entry < s.vaddr + s.memsz:
                return self.entry - s.vaddr + s.paddr
        return self.entry

    def segment_at(self, paddr: int) -> Segment | None:
        for s in self.segments:
            if s.paddr <= paddr < s.end:
                return s
        return None

    def symbol(self, name: str) -> int:
        try:
            return self.symbols[name]
        except KeyError:
            raise HarnessError(
                f"symbol '{name}' not found",
                file=self.source.path,
                field=".symtab",
                fix="build the image with symbols (not stripped)",
            ) from None

    def file_offset(self, vaddr: int) -> int:
        """Offset within `source` of the byte linked at `vaddr`."""
        for s in self.segments:
            if s.vaddr <= vaddr < s.vaddr + s.filesz:
                return s.data.offset - self.source.offset + (vaddr - s.vaddr)
        raise HarnessError(
            f"address {vaddr:#x} is not backed by file bytes", file=self.source.path, field="program headers"
        )


def checked_file(path: Path) -> Path:
    """`path` if it is a regular file; else a HarnessError saying what it is instead."""
    if path.is_dir():
        found = [
            p
            for p in [path / "elfloader.elf", *sorted(path.glob("*-image-*")), *sorted(path.glob("images/*-image-*"))]
            if p.is_file()
        ]
        raise HarnessError(
            "is a directory",
            file=path,
            fix="pass the elfloader image file inside it" + (f", e.g. {found[0]}" if found else ""),
        )
    if not path.is_file():
        what = "no such file" if not path.exists() else "not a regular file"
        raise HarnessError(what, file=path, fix="check the path (build the image first?)")
    return path


def read_elf(source: FileRange | Path, name: str | None = None) -> ElfImage:
    """Parse an aarch64 ELF and its PT_LOADs, or raise a HarnessError saying what is wrong."""
    if isinstance(source, Path):
        source = FileRange(source, 0, checked_file(source).stat().st_size)
    label = name or source.path.name
    where = source.path if source.offset == 0 else f"{source.path} (member '{label}')"
    try:
        opened = source.open()
    except OSError as exc:
        raise HarnessError(
            f"cannot read it: {exc.strerror or exc}", file=where, fix="check the file's permissions"
        ) from None
    with opened as stream:
        if stream.read(4) != b"\x7fELF":
            raise HarnessError(
                "not an ELF file (bad magic)",
                file=where,
                field="e_ident",
                fix="pass an ELF image, e.g. build/.../elfloader.elf",
            )
        stream.seek(0)
        try:
            elf = ELFFile(stream)  # type: ignore[arg-type]
            if elf.elfclass != 64 or not elf.little_endian:
                raise HarnessError(
                    "not a 64-bit little-endian ELF",
                    file=where,
                    field="e_ident",
                    fix="build for aarch64 (little endian)",
                )
            if elf["e_machine"] != "EM_AARCH64":
                raise HarnessError(
                    f"machine is {elf['e_machine']}, not EM_AARCH64",
                    file=where,
                    field="e_machine",
                    fix="build for aarch64",
                )
            segments: list[Segment] = []
            for ph in elf.iter_segments():
                if ph["p_type"] != "PT_LOAD":
                    continue
                off, filesz, memsz = ph["p_offset"], ph["p_filesz"], ph["p_memsz"]
                if filesz > memsz:
                    raise HarnessError(
                        f"PT_LOAD {len(segments)} has filesz > memsz",
                        file=where,
                        field="program headers",
                        fix="relink the image",
                    )
                if off + filesz > source.size:
                    raise HarnessError(
                        f"PT_LOAD {len(segments)} needs bytes up to {off + filesz:#x} but the file "
                        f"has {source.size:#x}: truncated",
                        file=where,
                        field="program headers",
                        fix="rebuild or re-copy the image",
                    )
                segments.append(
                    Segment(
                        label,
                        len(segments),
                        ph["p_paddr"],
                        ph["p_vaddr"],
                        filesz,
                        memsz,
                        ph["p_flags"],
                        source.sub(off, filesz),
                    )
                )
            symbols: dict[str, int] = {}
            for sec in elf.iter_sections():
                if isinstance(sec, SymbolTableSection):
                    for sym in sec.iter_symbols():
                        if sym.name and sym["st_shndx"] != "SHN_UNDEF":
                            symbols.setdefault(sym.name, sym["st_value"])
            entry = elf["e_entry"]
        except (ELFError, ValueError, OSError, EOFError) as exc:
            raise HarnessError(
                f"unreadable ELF: {exc}", file=where, field="headers", fix="the file is truncated or not an ELF image"
            ) from None
    if not segments:
        raise HarnessError("no PT_LOAD segments", file=where, field="program headers", fix="link a loadable executable")
    return ElfImage(label, source, entry, tuple(segments), symbols)

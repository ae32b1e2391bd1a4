"""What is being booted and what it must produce: the payload of one boot.

Our reference builds and a user's seL4 elfloader image look the same from
here: an elfloader ELF whose embedded CPIO archive lists the images it will
unpack. The expected segments come from that archive with pyelftools, never
from the loader's own report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import HarnessError
from .images.build import Build, Variant
from .images.cpio import Member, find_archive, hash_algorithm, is_hash_member, read_newc
from .images.elf import ElfImage, checked_file, read_elf

if TYPE_CHECKING:
    from .phases import Timeline

#: Hand-off contracts: what the kernel is given (docs/contracts.md).
#: "mmu-off": our reference loader -- MMU and caches off, physical entry.
#: "sel4": seL4's loader -- MMU and caches on, the kernel's virtual entry, at EL2
#: (hypervisor builds) or EL1, after the loader cleaned what it wrote.
CONTRACTS = ("mmu-off", "sel4")

# Symbols only our reference loader has (it prints seL4's lines with CONSOLE=sel4,
# but still hands off with the MMU off).
_REFERENCE_SYMBOLS = ("unpack_window_begin", "clean_disable_jump", "self_report_begin")


def member_image_name(member: str) -> str:
    """seL4's loader calls kernel.elf 'kernel' and user images by their file name."""
    return "kernel" if member == "kernel.elf" else member


@dataclass(frozen=True)
class Payload:
    """An elfloader image to boot and the ELF images inside it."""

    elf: Path  # the elfloader ELF (inspected)
    boot_file: Path  # what the target is given (ELF, or Image-format binary)
    variant: Variant | None = None  # None: a user's image brought with --image
    contract_override: str | None = None  # force a contract (CONTRACTS)

    @property
    def reference(self) -> bool:
        return self.variant is not None

    @cached_property
    def contract(self) -> str:
        """The hand-off contract the booted loader promises (CONTRACTS).

        Our reference loader (built, or brought with --image: it has its own
        symbols) hands off with the MMU off; every other image is taken to be
        seL4's loader, which enters the kernel with MMU and caches on.
        """
        if self.contract_override is not None:
            return self.contract_override
        if self.reference:
            return "mmu-off"
        try:
            syms = self.loader.symbols
        except HarnessError:
            return "sel4"
        return "mmu-off" if any(s in syms for s in _REFERENCE_SYMBOLS) else "sel4"

    @property
    def label(self) -> str:
        return self.variant.name if self.variant else self.elf.name

    @cached_property
    def loader(self) -> ElfImage:
        return read_elf(self.elf, "elfloader")

    @cached_property
    def images(self) -> tuple[ElfImage, ...]:
        """The archive's ELF images in unpack order (kernel first, DTB skipped)."""
        out = []
        for m in self.members:
            if m.name.endswith(".dtb") or is_hash_member(m):
                continue
            out.append(read_elf(m.data, member_image_name(m.name)))
        if not out or out[0].name != "kernel":
            raise HarnessError(
                "the archive has no kernel.elf first",
                file=self.elf,
                field="cpio archive",
                fix="put kernel.elf first in the archive",
            )
        return tuple(out)

    @cached_property
    def members(self) -> tuple[Member, ...]:
        return tuple(read_newc(find_archive(self.elf)))

    @cached_property
    def hashes(self) -> tuple["ArchiveHash", ...]:
        """The loader's hash members (`-DElfloaderHashInstructions=hash_sha|hash_md5`)
        against the files the archive actually holds: `kernel.bin` <-> `kernel.elf`,
        `app.bin` <-> every user image (the loader checks each against it)."""
        members = self.members
        elves = [m for m in members if not m.name.endswith(".dtb") and not is_hash_member(m)]
        out = []
        for h in (m for m in members if is_hash_member(m)):
            algo = hash_algorithm(h)
            checked = (
                [m for m in elves if m.name == "kernel.elf"]
                if h.name == "kernel.bin"
                else [m for m in elves if m.name != "kernel.elf"]
            )
            for m in checked:
                digest = hashlib.new(algo)
                for chunk in m.data.chunks():
                    digest.update(chunk)
                out.append(ArchiveHash(h.name, algo, h.data.read().hex(), m.name, digest.hexdigest()))
        return tuple(out)

    @cached_property
    def archive_bytes(self) -> int:
        """Size of the embedded archive: what phase timeouts scale with."""
        return find_archive(self.elf).size

    @property
    def unpacked_bytes(self) -> int:
        return sum(s.memsz for img in self.images for s in img.segments)

    def locate(self, paddr: int, tl: "Timeline | None" = None) -> str:
        """Which image/segment a physical address belongs to, for messages.

        With the boot's timeline, images go where the loader said it put them
        (seL4 places user images after the kernel, not at their ELF paddrs) and
        the DTB it copied and its own range are named too.
        """
        for img in self.images:
            placed = tl.placed_at(img.name) if tl is not None else None
            offset = 0 if placed is None else placed - img.span[0]
            seg = img.segment_at(paddr - offset)
            if seg is not None:
                return seg.describe() + (f" placed at {seg.paddr + offset:#x}" if offset else "")
        if tl is not None and tl.dtb_range and tl.dtb_range[0] <= paddr <= tl.dtb_range[1]:
            return "the DTB the loader copied"
        lo, hi = self.loader.span
        if lo <= paddr < hi or (
            tl is not None and tl.loader_range and tl.loader_range[0] <= paddr <= tl.loader_range[1]
        ):
            return "the elfloader itself"
        return "outside every image and the loader (a device, or the loader's stack/bss?)"


@dataclass(frozen=True)
class ArchiveHash:
    """One hash member checked against the archived file it covers."""

    member: str  # kernel.bin | app.bin
    algorithm: str  # sha256 | md5
    says: str  # the digest the member holds (hex)
    covers: str  # the archived file it is compared with
    actual: str  # that file's digest (hex)

    @property
    def ok(self) -> bool:
        return self.says == self.actual

    def describe(self) -> str:
        if self.ok:
            return f"{self.covers}: {self.algorithm} matches {self.member} ({self.says[:16]}...)"
        return f"{self.covers}: {self.algorithm} of the archived file is {self.actual}, {self.member} says {self.says}"


def from_build(build: Build, image_format: str) -> Payload:
    return Payload(build.elfloader, build.image if image_format == "Image" else build.elfloader, build.variant)


def from_user(path: Path) -> Payload:
    """A user's seL4 elfloader image: validate it now so errors come before any boot."""
    checked_file(path)  # "is a directory" / "no such file", named as the user wrote it
    payload = Payload(path.resolve(), path.resolve())
    payload.images  # noqa: B018 - parse eagerly for a clear error
    return payload

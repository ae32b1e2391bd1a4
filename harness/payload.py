"""What is being booted and what it must produce: the payload of one boot.

Our reference builds and a user's seL4 elfloader image look the same from
here: an elfloader ELF whose embedded CPIO archive lists the images it will
unpack. The expected segments come from that archive with pyelftools, never
from the loader's own report.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import HarnessError
from .images.build import Build, Variant
from .images.cpio import find_archive, read_newc
from .images.elf import ElfImage, read_elf


def member_image_name(member: str) -> str:
    """seL4's loader calls kernel.elf 'kernel' and user images by their file name."""
    return "kernel" if member == "kernel.elf" else member


@dataclass(frozen=True)
class Payload:
    """An elfloader image to boot and the ELF images inside it."""

    elf: Path                     # the elfloader ELF (inspected)
    boot_file: Path               # what the target is given (ELF, or Image-format binary)
    variant: Variant | None = None  # None: a user's image brought with --image

    @property
    def reference(self) -> bool:
        return self.variant is not None

    @property
    def label(self) -> str:
        return self.variant.name if self.variant else self.elf.name

    @cached_property
    def loader(self) -> ElfImage:
        return read_elf(self.elf, "elfloader")

    @cached_property
    def images(self) -> tuple[ElfImage, ...]:
        """The archive's ELF images in unpack order (kernel first, DTB skipped)."""
        archive = find_archive(self.elf)
        out = []
        for m in read_newc(archive):
            if m.name.endswith(".dtb"):
                continue
            out.append(read_elf(m.data, member_image_name(m.name)))
        if not out or out[0].name != "kernel":
            raise HarnessError("the archive has no kernel.elf first", file=self.elf,
                               field="cpio archive", fix="put kernel.elf first in the archive")
        return tuple(out)

    @cached_property
    def archive_bytes(self) -> int:
        """Size of the embedded archive: what phase timeouts scale with."""
        return find_archive(self.elf).size

    @property
    def unpacked_bytes(self) -> int:
        return sum(s.memsz for img in self.images for s in img.segments)

    def locate(self, paddr: int) -> str:
        """Which image/segment a physical address belongs to, for messages."""
        for img in self.images:
            seg = img.segment_at(paddr)
            if seg is not None:
                return seg.describe()
        lo, hi = self.loader.span
        if lo <= paddr < hi:
            return "the elfloader itself"
        return "outside every image and the loader (a device?)"


def from_build(build: Build, image_format: str) -> Payload:
    return Payload(build.elfloader, build.image if image_format == "Image" else build.elfloader,
                   build.variant)


def from_user(path: Path) -> Payload:
    """A user's seL4 elfloader image: validate it now so errors come before any boot."""
    payload = Payload(path.resolve(), path.resolve())
    payload.images  # noqa: B018 - parse eagerly for a clear error
    return payload

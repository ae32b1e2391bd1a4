"""A read-only window onto part of a file.

Images nest: an ELF inside a CPIO archive inside the elfloader's ELF. A window
lets pyelftools and the CRC code read a member in place, in chunks, so a 600 MB
image is never copied into memory.
"""

from __future__ import annotations

import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

CHUNK = 8 << 20


@dataclass(frozen=True)
class FileRange:
    """`size` bytes of `path` starting at `offset`."""

    path: Path
    offset: int
    size: int

    def open(self) -> "FileWindow":
        return FileWindow(open(self.path, "rb"), self.offset, self.size)

    def sub(self, offset: int, size: int) -> "FileRange":
        if offset < 0 or size < 0 or offset + size > self.size:
            raise ValueError(f"range {offset:#x}+{size:#x} outside {self.size:#x} bytes")
        return FileRange(self.path, self.offset + offset, size)

    def chunks(self, chunk: int = CHUNK) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            left = self.size
            while left:
                data = f.read(min(chunk, left))
                if not data:
                    raise EOFError(f"{self.path}: truncated at {self.offset + self.size - left:#x}")
                left -= len(data)
                yield data

    def crc32(self) -> int:
        crc = 0
        for data in self.chunks():
            crc = zlib.crc32(data, crc)
        return crc

    def read(self, offset: int = 0, size: int | None = None) -> bytes:
        size = self.size - offset if size is None else size
        with self.sub(offset, size).open() as w:
            return w.read()


def crc32_with_zeros(crc: int, count: int) -> int:
    """Extend a CRC-32 with `count` zero bytes without allocating them all."""
    block = bytes(min(count, CHUNK))
    while count:
        n = min(count, len(block))
        crc = zlib.crc32(block[:n] if n < len(block) else block, crc)
        count -= n
    return crc


class FileWindow(io.RawIOBase):
    """A seekable stream over [offset, offset+size) of an open file."""

    def __init__(self, f: BinaryIO, offset: int, size: int) -> None:
        super().__init__()
        self._f = f
        self._base = offset
        self._size = size
        self._pos = 0
        self._file_end = os.fstat(f.fileno()).st_size  # a window may claim more than the file has

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        """At most the bytes left in the window: a header's huge length field
        (a name size, a section size) must not allocate that much up front."""
        left = max(0, min(self._size - self._pos, self._file_end - self._base - self._pos))
        n = left if size is None or size < 0 else min(size, left)
        if n == 0:
            return b""
        self._f.seek(self._base + self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def readinto(self, buf: "bytearray | memoryview") -> int:  # type: ignore[override]
        n = max(0, min(len(buf), self._size - self._pos))
        if n == 0:
            return 0
        self._f.seek(self._base + self._pos)
        data = self._f.read(n)
        buf[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()

"""Files that concurrent runs share: built under a lock, replaced by a rename.

`make test` runs two suites at once, and both ask for the same reference
images, U-Boot packages and seL4 builds under build/. Two writers of one
output must not interleave: a directory's build runs under an exclusive lock
(`locked`), and a file is written under a name private to this process
(`tmp_beside`) and renamed into place, so a reader sees the old file or the
whole new one, never half of it.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock file: two runs never extract or build into one place at once
    (released when the block ends, or by the kernel when the process dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def lock_for(directory: Path) -> Path:
    """The lock file of a build directory: beside it, so removing the directory keeps it."""
    return directory.with_name(directory.name + ".lock")


def tmp_beside(path: Path) -> Path:
    """A temporary name next to `path` that no other process uses (same file system, so
    `os.replace` onto `path` is atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")

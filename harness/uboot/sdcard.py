"""The SD card `load mmc` reads on QEMU: a card image with one FAT partition.

On the board the boot file sits on the SD card or eMMC and U-Boot reads it with
`load mmc DEV:PART ADDR FILE`; on QEMU the harness writes that card: an MBR with one
FAT partition from 1 MiB (what a card formatted on any host has), the files copied in
by mtools, built from Debian's tools without mounting anything (sfdisk, mkfs.vfat,
mcopy). QEMU's SD card model takes only power-of-two sizes, so the card is the next
one that holds the files. `--invariant` and a fixed volume id and disk id make the
same files give the same card. The image is keyed by its files (names, sizes,
mtimes), so a card is written once per package.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from ..atomic import tmp_beside
from ..errors import HarnessError
from ..images.build import build_root

MIB = 1 << 20
PART_START = MIB  # the partition's first byte (sector 2048)
CARD_MIN = 32 * MIB  # FAT16 with room to spare for a small loader
VOLUME_ID = "5e14b007"  # FAT volume serial, fixed: the same files, the same card
DISK_ID = "0x5e14b007"  # MBR disk identifier, fixed for the same reason
LABEL = "SEL4BOOT"
LAYOUT = 1  # bumped when the card is laid out differently
TOOLS = {"sfdisk": "fdisk", "mkfs.vfat": "dosfstools", "mcopy": "mtools"}


def _tool(name: str) -> str:
    """The tool's path (sfdisk and mkfs.vfat live in /usr/sbin, not on a user's PATH)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise HarnessError(
            f"'{name}' not found (needed to write the SD card image)",
            field="harness.uboot.transport",
            fix=f"apt-get install {TOOLS[name]} (scripts/setup.sh installs it)",
        )
    return path


def card_size(payload_bytes: int) -> int:
    """The smallest power of two holding the partition offset, the files and FAT's own
    tables (a sixteenth on top covers FAT32's two tables and cluster slack)."""
    need = PART_START + payload_bytes + payload_bytes // 16 + 4 * MIB
    size = CARD_MIN
    while size < need:
        size *= 2
    return size


def _key(files: Mapping[str, Path]) -> str:
    parts = [str(LAYOUT)]
    for name, path in sorted(files.items()):
        st = path.stat()
        parts += [name, str(path.resolve()), str(st.st_size), str(st.st_mtime_ns)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _run(cmd: list[str], what: str, stdin: str | None = None) -> None:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise HarnessError(
            f"writing the SD card image failed at {what}: {tail}",
            field="harness.uboot.transport",
            fix=f"run by hand: {' '.join(cmd)}",
        )


def write_card(files: Mapping[str, Path], out_dir: Path | None = None) -> Path:
    """A card image holding `files` (name on the card -> file) in its first partition;
    an existing card with the same files is reused."""
    for name in files:
        if not name or "/" in name or name.startswith("."):
            raise HarnessError(
                f"'{name}' is not a plain file name for the card",
                field="harness.uboot.package",
                fix="name the file without a path",
            )
    out_dir = out_dir or build_root() / "sdcard"
    out_dir.mkdir(parents=True, exist_ok=True)
    card = out_dir / f"card-{_key(files)}.img"
    if card.exists():
        return card
    size = card_size(sum(p.stat().st_size for p in files.values()))
    tmp = tmp_beside(card)
    try:
        with open(tmp, "wb") as f:
            f.truncate(size)
        # One primary partition, type 0x0c (FAT32 LBA; U-Boot's FAT reads FAT16 as well).
        _run(
            [_tool("sfdisk"), "--quiet", "--no-reread", "--no-tell-kernel", str(tmp)],
            "sfdisk",
            f"label: dos\nlabel-id: {DISK_ID}\nstart={PART_START // 512}, type=c\n",
        )
        _run(
            [
                _tool("mkfs.vfat"),
                "--invariant",
                "-i",
                VOLUME_ID,
                "-n",
                LABEL,
                "--offset",
                str(PART_START // 512),
                str(tmp),
                str((size - PART_START) // 1024),
            ],
            "mkfs.vfat",
        )
        mcopy = [_tool("mcopy"), "-m", "-i", f"{tmp}@@{PART_START}"]
        for name, path in sorted(files.items()):
            _run([*mcopy, str(path.resolve()), f"::{name}"], f"mcopy {name}")
        os.replace(tmp, card)
    finally:
        tmp.unlink(missing_ok=True)
    return card


def listing(card: Path) -> dict[str, int]:
    """The files in the card's first partition and their sizes (mtools' `mdir -b` and
    `mdir` give names only; sizes come from `mcopy` to stdout, fine for tests)."""
    proc = subprocess.run(
        ["mdir", "-b", "-i", f"{card}@@{PART_START}", "::"], capture_output=True, text=True, check=False
    )
    out: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        name = line.strip().removeprefix("::/")
        if name:
            data = subprocess.run(
                ["mtype", "-i", f"{card}@@{PART_START}", f"::{name}"], capture_output=True, check=False
            ).stdout
            out[name] = len(data)
    return out

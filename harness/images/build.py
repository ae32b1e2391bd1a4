"""Build guest images: probe kernel, CPIO archive, reference elfloader.

The C build lives in `images/Makefile`; this module decides the variants and
does the host-side steps between the two links (deterministic blob, probe table
patch, newc archive). Every step is skipped when its output is newer than its
inputs, so asking for an image that exists costs a `make` no-op. Each output
directory is built under its own lock: two suites asking for one image at once
(`make test` runs two) get one build, not two interleaved ones.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..atomic import lock_for, locked, tmp_beside
from ..errors import HarnessError
from ..paths import ROOT as ROOT, build_root as build_root  # re-exported: many importers
from .cpio import write_newc
from .probe import patch_probe

IMAGES = ROOT / "images"
MACHINES = ("virt", "imx8mp")
MODES = ("mmu-off", "early-mmu")
BUGS = (
    "none",
    "corrupt-segment",
    "skip-bss",
    "handoff-mmu-on",
    "no-clean",
    "clean-short",
    "no-icache-inv",
    "store-after-clean",
    "device-normal",
)
EARLY_MMU_ONLY = {"handoff-mmu-on", "no-clean", "clean-short", "no-icache-inv", "store-after-clean", "device-normal"}
CROSS = "aarch64-linux-gnu-"
# Machines with an EL3 firmware stand-in (images/firmware/, machines/<m>.mk sets FW_BASE).
FIRMWARE_MACHINES = ("imx8mp",)
FIRMWARE_MAILBOX = "fw_mailbox"  # its symbol: the 64-bit next-stage entry word


@dataclass(frozen=True)
class Variant:
    """One reference image: machine, unpack mode, injected defect, sizes."""

    machine: str
    mode: str = "early-mmu"
    bug: str = "none"
    pt_pages: int | None = None  # None: the Makefile default; 1 forces the fallback
    blob_bytes: int = 1 << 20
    blob_seed: int = 1
    console: str = "harness"  # "sel4": no "@h" lines, seL4's console exactly
    uart_base: int | None = None  # console UART other than the machine's (e.g. Verdin: UART3)

    def __post_init__(self) -> None:
        for field, value, allowed in (
            ("machine", self.machine, MACHINES),
            ("mode", self.mode, MODES),
            ("bug", self.bug, BUGS),
        ):
            if value not in allowed:
                raise HarnessError(f"unknown {field} '{value}'", field=field, fix=f"use one of: {', '.join(allowed)}")
        if self.bug in EARLY_MMU_ONLY and self.mode != "early-mmu":
            raise HarnessError(
                f"bug '{self.bug}' exists only in early-mmu mode", field="bug", fix="build it with mode early-mmu"
            )

    @property
    def fallback(self) -> bool:
        return self.pt_pages is not None and self.pt_pages < 2

    @property
    def label(self) -> str:
        """What the console should say: mmu-off, early-mmu or fallback."""
        return "fallback" if self.fallback and self.mode == "early-mmu" else self.mode

    @property
    def name(self) -> str:
        pt = f"-pt{self.pt_pages}" if self.pt_pages is not None else ""
        con = "-sel4console" if self.console == "sel4" else ""
        uart = f"-uart{self.uart_base:x}" if self.uart_base is not None else ""
        return f"{self.mode}{pt}-{self.bug}-{_size(self.blob_bytes)}{con}{uart}"


def _size(n: int) -> str:
    return f"{n >> 20}M" if n % (1 << 20) == 0 else f"{n}B"


@dataclass(frozen=True)
class Build:
    """The files of one built variant."""

    variant: Variant
    elfloader: Path  # ELF: QEMU -kernel enters it at the EL the machine starts in
    image: Path  # raw binary with an arm64 Image header
    probe: Path
    archive: Path


def _newer(out: Path, *inputs: Path) -> bool:
    return out.exists() and all(out.stat().st_mtime_ns >= i.stat().st_mtime_ns for i in inputs)


def _make(target: str, quiet: bool, **vars: object) -> None:
    if shutil.which(CROSS + "gcc") is None:
        raise HarnessError(
            f"cross compiler {CROSS}gcc not found",
            field="toolchain",
            fix="apt-get install gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu "
            "(or run 'make test', which installs it)",
        )
    cmd = ["make", "-s", "-C", str(IMAGES), target] + [f"{k.upper()}={v}" for k, v in vars.items()]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise HarnessError(
            f"guest build failed: {' '.join(cmd)}\n{tail}", field=target, fix="see the compiler output above"
        )
    if not quiet and proc.stdout.strip():
        print(proc.stdout.strip())


def make_blob(path: Path, size: int, seed: int) -> None:
    """Deterministic pseudo-random bytes: the same seed and size give the same CRCs."""
    if path.exists() and path.stat().st_size == size:
        return
    rng = random.Random(seed)
    tmp = tmp_beside(path)
    with open(tmp, "wb") as f:
        left = size
        while left:
            n = min(left, 16 << 20)
            f.write(rng.randbytes(n))
            left -= n
    tmp.rename(path)


def probe_layout(machine: str, blob_bytes: int) -> dict[str, str]:
    """Make-variable overrides that keep a big probe clear of the loader.

    On imx8mp the loader sits at 0x50000000 (the board's U-Boot load address)
    and the probe below it; a blob that would run into the loader moves the
    whole probe above the loader's end instead (2 GiB of DRAM has room for both).
    """
    if machine == "imx8mp" and blob_bytes > (200 << 20):
        return {"kernel_base": "0x80000000", "blob_base": "0x80010000"}
    return {}


def _uart(uart_base: int | None) -> dict[str, str]:
    return {"uart_base": f"{uart_base:#x}"} if uart_base is not None else {}


def build_probe(machine: str, blob_bytes: int, seed: int = 1, quiet: bool = True, uart_base: int | None = None) -> Path:
    uart = f"-uart{uart_base:x}" if uart_base is not None else ""
    out = build_root() / "images" / machine / f"probe-{_size(blob_bytes)}-s{seed}{uart}"
    probe = out / "probe.elf"
    with locked(lock_for(out)):  # make, then the table patched in place: one run at a time
        out.mkdir(parents=True, exist_ok=True)
        blob = out / "blob.bin"
        make_blob(blob, blob_bytes, seed)
        _make(
            "probe", quiet, out=out, machine=machine, blob=blob, **probe_layout(machine, blob_bytes), **_uart(uart_base)
        )
        stamp = out / "probe.patched"
        if not _newer(stamp, probe):
            patch_probe(probe)
            stamp.touch()
    return probe


def build(variant: Variant, quiet: bool = True, members: list[tuple[str, Path]] | None = None, tag: str = "") -> Build:
    """Build (or reuse) every file of a variant.

    `members` replaces the archive's contents (default: the probe as kernel.elf);
    `tag` keeps such a build apart from the standard one.
    """
    probe = build_probe(variant.machine, variant.blob_bytes, variant.blob_seed, quiet, variant.uart_base)
    members = members or [("kernel.elf", probe)]
    out = build_root() / "images" / variant.machine / (variant.name + (f"-{tag}" if tag else ""))
    archive = out / "archive.cpio"
    with locked(lock_for(out)):
        out.mkdir(parents=True, exist_ok=True)
        if not _newer(archive, *(path for _, path in members)):
            write_newc(members, archive)
        extra = {"pt_pages": variant.pt_pages} if variant.pt_pages is not None else {}
        _make(
            "elfloader",
            quiet,
            out=out,
            machine=variant.machine,
            mode=variant.mode,
            bug=variant.bug,
            archive=archive,
            console=variant.console,
            **extra,
            **_uart(variant.uart_base),
        )
    return Build(variant, out / "elfloader.elf", out / "elfloader.Image", probe, archive)


def build_firmware(machine: str, quiet: bool = True) -> Path:
    """The EL3 firmware stand-in for `machine` (images/firmware/): wakes the GICv3, puts every
    interrupt in Group 1 Non-secure, enables the ICC system registers and enters the next
    stage at EL2 at the address the host writes to its `fw_mailbox` word. Built, never
    committed; a no-op when up to date."""
    if machine not in FIRMWARE_MACHINES:
        raise HarnessError(
            f"no firmware stand-in for machine '{machine}'",
            field="firmware",
            fix=f"firmware exists for: {', '.join(FIRMWARE_MACHINES)}",
        )
    out = build_root() / "images" / machine / "firmware"
    with locked(lock_for(out)):
        out.mkdir(parents=True, exist_ok=True)
        _make("firmware", quiet, out=out, machine=machine)
    return out / "firmware.elf"

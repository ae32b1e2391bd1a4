"""`harness doctor`: what is missing on this machine, and the exact command that fixes it."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BACKPORTS = (
    "echo 'deb http://deb.debian.org/debian bookworm-backports main' > "
    "/etc/apt/sources.list.d/harness-bookworm-backports.list && apt-get update && "
    "apt-get install -y -t bookworm-backports --no-install-recommends qemu-system-arm"
)
UBOOT_BIN = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")


@dataclass(frozen=True)
class Prerequisite:
    """One thing the harness needs on this machine: present or not, and how to get it."""

    what: str
    ok: bool
    detail: str
    fix: str = ""


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def qemu_version(binary: str = "qemu-system-aarch64") -> tuple[int, int] | None:
    m = re.search(r"version (\d+)\.(\d+)", _run([binary, "--version"]))
    return (int(m.group(1)), int(m.group(2))) if m else None


def prerequisites() -> list[Prerequisite]:
    out = []
    v = qemu_version()
    out.append(
        Prerequisite(
            "qemu-system-aarch64 >= 9",
            v is not None and v >= (9, 0),
            f"found {v[0]}.{v[1]}" if v else "not found",
            BACKPORTS,
        )
    )
    if v is not None:
        machines = _run(["qemu-system-aarch64", "-machine", "help"])
        out.append(
            Prerequisite(
                "QEMU machine imx8mp-evk",
                "imx8mp-evk" in machines,
                "present" if "imx8mp-evk" in machines else "missing (QEMU too old)",
                BACKPORTS,
            )
        )
    for tool, pkg in (
        ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
        ("aarch64-linux-gnu-objcopy", "binutils-aarch64-linux-gnu"),
        ("mkimage", "u-boot-tools"),
        ("dtc", "device-tree-compiler"),
        ("make", "make"),
        ("pkg-config", "pkg-config"),
        # real seL4 builds (harness sel4 build)
        ("cmake", "cmake"),
        ("ninja", "ninja-build"),
        ("ccache", "ccache"),
        ("aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu"),
        ("xmllint", "libxml2-utils"),
        ("protoc", "protobuf-compiler"),
        ("cpio", "cpio"),
        ("xxd", "xxd"),
        ("git", "git"),
        # U-Boot for QEMU imx8mp-evk from Debian's source (build-uboot-imx8mp.sh)
        ("bison", "bison"),
        ("flex", "flex"),
        ("swig", "swig"),
        ("bc", "bc"),
        ("dpkg-source", "dpkg-dev"),
        ("patch", "patch"),
        # the SD card image for `transport: mmc` (sfdisk and mkfs.vfat are in /usr/sbin)
        ("mcopy", "mtools"),
    ):
        path = shutil.which(tool)
        out.append(Prerequisite(tool, path is not None, path or "not found", f"apt-get install -y {pkg}"))
    out.append(Prerequisite("U-Boot for QEMU", UBOOT_BIN.is_file(), str(UBOOT_BIN), "apt-get install -y u-boot-qemu"))
    glib = (
        subprocess.run(["pkg-config", "--exists", "glib-2.0"]).returncode == 0 if shutil.which("pkg-config") else False
    )
    out.append(
        Prerequisite(
            "glib-2.0 headers (TCG plugin build)",
            glib,
            "found" if glib else "missing",
            "apt-get install -y libglib2.0-dev",
        )
    )
    for mod, pip in (
        ("labgrid", "labgrid"),
        ("elftools", "pyelftools"),
        ("pexpect", "pexpect"),
        ("yaml", "pyyaml"),
        ("qemu.qmp", "qemu.qmp"),
    ):
        try:
            found = importlib.util.find_spec(mod) is not None
        except ModuleNotFoundError:
            found = False
        out.append(
            Prerequisite(
                f"python module {mod}",
                found,
                "importable" if found else "missing",
                f".venv/bin/pip install -e . (or pip install {pip})",
            )
        )
    from .sel4.build import sel4_venv

    venv = sel4_venv() / "bin" / "python"
    out.append(
        Prerequisite(
            "seL4 build environment (PyPI sel4-deps)",
            venv.exists(),
            str(venv),
            f"python3 -m venv {sel4_venv()} && {sel4_venv()}/bin/pip install sel4-deps==0.9.0",
        )
    )
    return out


def report() -> int:
    """Print every finding; exit status 0 only when nothing is missing."""
    missing = 0
    for f in prerequisites():
        mark = "ok  " if f.ok else "MISS"
        print(f"[{mark}] {f.what}: {f.detail}")
        if not f.ok:
            missing += 1
            print(f"       fix: {f.fix}")
    print(
        "all set"
        if not missing
        else f"{missing} missing: run the fixes above as root, or 'make setup' which does all of them"
    )
    return 1 if missing else 0

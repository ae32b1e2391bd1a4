"""Build the cache-model TCG plugin against the installed QEMU.

A TCG plugin must be compiled against the ``qemu-plugin.h`` of the very QEMU
that loads it, and no Debian binary package ships that header (it comes from
QEMU's source package).  This module holds what that takes: it names the
missing prerequisite when the build cannot run, fetches the header for the
installed version, rebuilds only when the sources or the QEMU version changed,
and serialises concurrent builders.  The C sources live in ``plugin/``;
``plugin_path()`` is the one entry point.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

__all__ = ["LIBRARY_NAME", "PluginBuildError", "plugin_path"]

PLUGIN_SOURCE_DIR = Path(__file__).resolve().parent / "plugin"
REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch-qemu-plugin-header.sh"
LIBRARY_NAME = "libcachemodel.so"


class PluginBuildError(RuntimeError):
    """The plugin could not be built; the message names the missing piece."""


def _installed_qemu_version() -> str | None:
    """The Debian version of qemu-system-arm, which the header must match."""
    if shutil.which("dpkg-query") is None:
        return None
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "qemu-system-arm"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def _missing_prerequisite() -> str | None:
    """Name the first missing build prerequisite, so errors say what to install."""
    for tool, package in (("make", "make"), ("gcc", "gcc"), ("pkg-config", "pkg-config")):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install {package})"
    glib = subprocess.run(["pkg-config", "--exists", "glib-2.0"], capture_output=True, check=False)
    if glib.returncode != 0:
        return "glib-2.0 development files are missing (apt-get install libglib2.0-dev)"
    if _installed_qemu_version() is None:
        return (
            "qemu-system-arm is not installed (the plugin header is fetched for "
            "its exact version; run scripts/setup.sh)"
        )
    if not FETCH_SCRIPT.is_file():
        return f"{FETCH_SCRIPT} is missing"
    return None


def _up_to_date(build_dir: Path) -> bool:
    """True when the library is newer than its sources and matches the QEMU."""
    lib = build_dir / LIBRARY_NAME
    stamp = build_dir / "include" / "qemu-plugin.h.version"
    if not lib.is_file() or not stamp.is_file():
        return False
    sources = [PLUGIN_SOURCE_DIR / "cachemodel.c", PLUGIN_SOURCE_DIR / "Makefile"]
    newest = max(p.stat().st_mtime for p in sources if p.exists())
    if lib.stat().st_mtime < newest:
        return False
    return stamp.read_text().strip() == (_installed_qemu_version() or "")


def plugin_path(build_dir: Path) -> Path:
    """Return the built plugin under ``build_dir``, building it first if needed.

    The build fetches ``qemu-plugin.h`` for the installed QEMU (no Debian
    binary package ships it), so it may need root and the Debian mirror once.
    Raises PluginBuildError naming the missing piece.
    """
    build_dir = Path(build_dir).resolve()
    lib = build_dir / LIBRARY_NAME
    if _up_to_date(build_dir):
        return lib
    missing = _missing_prerequisite()
    if missing is not None:
        raise PluginBuildError(f"cannot build the cache-model plugin: {missing}")
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".cachemodel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent builders wait for one build
        proc = subprocess.run(
            ["make", "-C", str(PLUGIN_SOURCE_DIR), f"OUT={build_dir}"],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip()
        tail = "\n".join(err.splitlines()[-15:])
        if "fetch-qemu-plugin-header" in err:
            raise PluginBuildError(f"qemu-plugin.h header fetch failed:\n{tail}")
        raise PluginBuildError(f"compiling the cache-model plugin failed:\n{tail}")
    if not lib.is_file():
        raise PluginBuildError(f"make succeeded but {lib} is missing")
    return lib

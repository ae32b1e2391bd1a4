"""Real sel4test images under the cache model: builds, the other copy unit, and counts
cached under everything that changes them.

bench/sel4_model.py prices these counts; this module only makes and keeps them. A
cached count is served only when the image's bytes, the window the plugin is given, the
plugin (source and library), the harness code that drives the run, QEMU's version and
command and the options are all the same (counts_key): a stale figure is worse than a
slow one.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.coherence import CoherenceReport, Counts, plugin_path
from harness.coherence.build import PLUGIN_SOURCE_DIR
from harness.coherence.run import run_to_handoff, virt_command
from harness.coherence.window import window_for
from harness.history.document import sha256_of
from harness.images.build import build_root
from harness.images.cpio import HEADER, MAGIC, TRAILER, _header, find_archive, read_newc
from harness.payload import from_user
from harness.sel4.build import Sel4Build, build
from harness.sel4.config import Sel4Config
from harness.qemu.command import instruction_clock

MIB = 1 << 20
CACHE = Path("build/sel4-model")


def log(msg: str) -> None:
    print(f"sel4_model: {msg}", file=sys.stderr, flush=True)


# --- images ------------------------------------------------------------------------------------


def built(cfg: Sel4Config) -> Sel4Build:
    """harness.sel4.build, cached; says what it does because a new base takes minutes."""
    log(f"image {cfg.name}")
    return build(cfg, log=log)


def unpacked_bytes(b: Sel4Build) -> int:
    """Bytes the loader unpacks: every image's PT_LOAD memsz (kernel + rootserver)."""
    return int(from_user(b.elfloader).unpacked_bytes)


def payload_for(mb: float, base: int) -> int:
    """--payload-mib that brings an image of `base` bytes without payload to ~mb*1e6 bytes."""
    return max(0, round((mb * 1e6 - base) / MIB))


def realign(image: Path, out: Path) -> Path:
    """A copy of `image` whose last CPIO member's data sits 4 bytes later.

    Only the member's name grows (seL4's loader loads user images by index),
    so nothing else changes: the copy unit memcpy picks flips 8 <-> 4.
    """
    archive = find_archive(image)
    last = read_newc(archive)[-1]
    head_at = last.data.offset - archive.offset
    with archive.open() as f:  # walk back to the member's header
        f.seek(0)
        raw = f.read(head_at)
    hdr = raw.rfind(MAGIC)
    old_name = last.name
    for extra in range(1, 8):
        name = old_name + "_" * extra
        new_head = _header(name, last.data.size, 99)
        if (hdr + len(new_head)) % 8 != head_at % 8:
            break
    end = hdr + len(new_head) + last.data.size
    trailer = _header(TRAILER, 0, 0, 0)
    pad = (4 - last.data.size % 4) % 4
    if end + pad + len(trailer) > archive.size:
        raise SystemExit(f"{image}: no room in the archive to move '{old_name}'")
    shutil.copyfile(image, out)
    with open(out, "r+b") as o, last.data.open() as src:
        o.seek(archive.offset + hdr)
        o.write(new_head)
        src.seek(0)
        shutil.copyfileobj(src, o, 8 << 20)
        o.write(b"\0" * pad + trailer)
        o.write(b"\0" * (archive.size - (end + pad + len(trailer))))
    assert read_newc(find_archive(out))[-1].name == name and HEADER
    return out


# --- runs under the cache model ------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    name: str
    image_bytes: int  # the image file (the calibration's x, as the profile was fitted)
    unpacked: int  # every image's memsz
    counts: Counts
    wall_s: float
    window: str
    counted: str = ""  # UTC date the counts were made (the cache file's)
    path: str = ""  # the cached counts (the plugin's report and the run's key)


HARNESS = Path(__file__).resolve().parents[1] / "harness"
#: Harness code that decides what QEMU runs and what the plugin is told to count.
KEY_SOURCES: tuple[Path, ...] = tuple(HARNESS / "coherence" / f for f in ("run.py", "window.py", "args.py"))
#: The plugin's source: a change here changes counts even before the library is rebuilt.
PLUGIN_SOURCES: tuple[Path, ...] = (PLUGIN_SOURCE_DIR / "cachemodel.c", PLUGIN_SOURCE_DIR / "Makefile")
QEMU = "qemu-system-aarch64"


@lru_cache(maxsize=None)
def qemu_version(qemu: str = QEMU) -> str:
    proc = subprocess.run([qemu, "--version"], capture_output=True, text=True, check=False)
    return (proc.stdout.splitlines() or ["unknown"])[0]


def _meaning(path: Path) -> bytes:
    """What of a source file can change counts: a Python module's syntax tree (so a formatter
    or a comment never makes counts stale), any other file's bytes."""
    if not path.is_file():
        return b"<missing>"
    if path.suffix == ".py":
        try:
            return ast.dump(ast.parse(path.read_text(), str(path))).encode()
        except (SyntaxError, ValueError, UnicodeDecodeError):
            pass  # not Python after all: its bytes
    return path.read_bytes()


def _files_sha256(paths: tuple[Path, ...]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode() + b"\0" + _meaning(path) + b"\0")
    return h.hexdigest()


PATCH_SOURCES: tuple[Path, ...] = tuple(
    sorted(
        p
        for series in ("archive-align", "early-mmu", "routes")
        for p in (Path(__file__).resolve().parents[1] / "patches" / "seL4_tools" / series).glob("*.patch")
    )
)


def sources_digest() -> dict[str, str]:
    """What shipped counts were made with, the images aside: the plugin's source, the harness
    code that sets the window and drives QEMU, and our seL4_tools patches (the early-MMU and
    archive-alignment series, the routes)."""
    return {
        "plugin": _files_sha256(PLUGIN_SOURCES),
        "harness": _files_sha256(KEY_SOURCES),
        "patches": _files_sha256(PATCH_SOURCES),
    }


def counts_key(image: Path, el2: bool, scope: str = "seed") -> dict[str, Any]:
    """Everything that changes one run's counts: the image's bytes, the window the plugin is
    given, the plugin (source and library), the harness code that drives the run, QEMU's
    version and the QEMU command (machine, CPU, memory, instruction clock), and the options."""
    w = window_for(from_user(image), scope=scope)
    return {
        "image_sha256": sha256_of(image),
        "window": dataclasses.asdict(w),
        "plugin_library_sha256": sha256_of(plugin_path(build_root() / "coherence")),
        "plugin_source_sha256": _files_sha256(PLUGIN_SOURCES),
        "harness_sha256": _files_sha256(KEY_SOURCES),
        "qemu": qemu_version(),
        "command": virt_command(Path("IMAGE"), el2) + instruction_clock(),
        "options": {"el2": el2, "scope": scope},
    }


def digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def run(b: Sel4Build, image: Path | None = None, tag: str = "") -> Run:
    """Counts of one image's seed window, cached under a digest of everything that changes them
    (counts_key): a rebuilt plugin, a moved window or another QEMU never serves old counts."""
    image = image or b.image
    CACHE.mkdir(parents=True, exist_ok=True)
    key = counts_key(image, b.config.hyp)
    path = CACHE / f"{b.config.name}{tag}-{digest(key)[:16]}.json"
    if not path.exists():
        log(f"QEMU under the cache model: {b.config.name}{tag} ({image.stat().st_size / 1e6:.0f} MB)")
        report, w, wall = run_to_handoff(image, path.with_suffix(".tmp"), el2=b.config.hyp)
        if report.kinds():
            raise SystemExit(f"{image}: hazards under the sel4 contract: {sorted(report.kinds())}")
        if not report.begin_seen:
            raise SystemExit(f"{image}: the window's begin ({w.definition}) was never reached")
        data = dict(report.raw)
        data.update(_wall_s=wall, _window=w.definition, _unpacked=unpacked_bytes(b), _key=key)
        path.write_text(json.dumps(data, default=str))
        path.with_suffix(".tmp").unlink(missing_ok=True)
    rep = CoherenceReport.load(path)
    when = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Run(
        b.config.name + tag,
        image.stat().st_size,
        int(rep.raw["_unpacked"]),
        rep.counts,
        float(rep.raw["_wall_s"]),
        str(rep.raw["_window"]),
        when,
        str(path),
    )


def load_run(path: Path, name: str) -> Run:
    """A run from shipped counts (bench/counts/): no build, no QEMU."""
    rep = CoherenceReport.load(path)
    return Run(
        name,
        int(rep.raw["_image_bytes"]),
        int(rep.raw["_unpacked"]),
        rep.counts,
        float(rep.raw["_wall_s"]),
        str(rep.raw["_window"]),
        str(rep.raw["_counted"]),
        str(path),
    )

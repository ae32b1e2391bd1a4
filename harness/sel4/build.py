"""Configure and build sel4test with seL4's own build system; keep the image.

One build directory per (tree, platform, mode, build type, root CNode size); the
elfloader options (hash check, early-MMU patch, its negative controls) are
switched in it by a CMake reconfigure that points `ELFLOADER_CURRENT_DIR` at a
patched copy of seL4_tools, so a patched image costs an elfloader rebuild, and
so is the payload, which costs a rootserver relink.
Finished images are copied to `build/sel4/images/NAME/` with a `build.json`
that records what went in; an image whose record matches is not rebuilt.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from ..atomic import locked, tmp_beside
from ..errors import HarnessError
from ..paths import ROOT, build_root
from .config import Sel4Config
from .sources import SourceTree, bundled_tree, digest, patched_seL4_tools, project_tree, sync_tree

if TYPE_CHECKING:
    from ..payload import Payload

Log = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(f"sel4: {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sel4Build:
    """A built image: what QEMU or U-Boot is given, and the elfloader ELF to inspect."""

    config: Sel4Config
    image: Path  # the build's image (ELF on virt; a raw binary where the build forces it)
    elfloader: Path  # the same elfloader as an ELF (symbols, archive)
    directory: Path
    rebuilt: bool

    def payload(self) -> "Payload":
        """What a boot session is given: the elfloader ELF, inspected like any user image."""
        from ..payload import from_user

        return from_user(self.elfloader)


def sel4_venv() -> Path:
    """The Python environment seL4's build scripts need (PyPI `sel4-deps`)."""
    return build_root() / "sel4-venv"


def _script(path: Path, text: str) -> Path:
    """Write an executable helper script unless it already says `text`."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_beside(path)  # a concurrent configure may be running the old one
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(path)
    return path


def qemu_wrapper() -> Path:
    """seL4's configure runs QEMU to dump the virt DTB; Debian's QEMU needs -nic none there."""
    return _script(
        build_root() / "sel4" / "bin" / "qemu-system-aarch64",
        "#!/bin/sh\n# Written by harness/sel4/build.py: seL4's configure dumps the virt DTB.\n"
        'exec qemu-system-aarch64 -nic none "$@"\n',
    )


def compiler_cache() -> list[str]:
    """The CMake argument that puts ccache in front of the cross compilers, when installed.

    Each elfloader option (patched or stock, the close method, the hash) is in the loader's
    gen_config.h, so every switch between them recompiles all of the loader, and a test run
    switches about 30 times between the same few. ccache (cache in build/ccache) answers the
    repeats; it is keyed by the preprocessed source and the flags, so an edited source or a
    changed header is compiled. Not part of an image's build key: it changes no byte."""
    if shutil.which("ccache") is None:
        return []
    launcher = _script(
        build_root() / "sel4" / "bin" / "ccache",
        "#!/bin/sh\n# Written by harness/sel4/build.py: the seL4 builds' compiler cache.\n"
        f'CCACHE_DIR="{build_root() / "ccache"}" exec ccache "$@"\n',
    )
    return [f"-DCCACHE={launcher}"]  # seL4's toolchain file launches compiles through CCACHE


def payload_file(mib: int, seed: int = 1) -> Path:
    """A deterministic blob of `mib` MiB: every MiB differs, so a misplaced block shows."""
    path = build_root() / "sel4" / "payload" / f"payload-{mib}M-s{seed}.bin"
    if path.exists() and path.stat().st_size == mib << 20:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    base = random.Random(seed).randbytes(1 << 20)
    tmp = tmp_beside(path)
    with tmp.open("wb") as f:
        for i in range(mib):
            k = (i * 4099) % len(base)
            block = bytearray(base[k:] + base[:k])
            block[:16] = f"payload {i:08d}".encode()
            f.write(block)
    tmp.replace(path)
    return path


def _run(cmd: list[str], cwd: Path, log_path: Path, what: str) -> None:
    env = dict(os.environ, PATH=f"{sel4_venv() / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    with log_path.open("a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise HarnessError(
            f"{what} failed (exit {proc.returncode}):\n    " + "\n    ".join(tail),
            file=log_path,
            fix="read the log; 'make setup' installs seL4's build tools",
        )


def _image_in(work: Path) -> Path:
    found = [p for p in (work / "images").glob("*") if p.is_file()]
    if len(found) != 1:
        raise HarnessError(
            f"expected one image in {work / 'images'}, found {len(found)}",
            file=work / "images",
            fix="check the build log",
        )
    return found[0]


def _configure(
    tree: SourceTree, work: Path, args: list[str], log_path: Path, log: Log, stamp: list[str] | None = None
) -> None:
    """init-build.sh in a fresh directory, or a reconfigure when only the arguments (or the
    inputs `stamp` names, such as the overlay's text) changed."""
    state = work / ".harness-cmake-args.json"
    if (work / "build.ninja").exists():
        if state.exists() and json.loads(state.read_text()) == args + (stamp or []):
            return
        log(f"reconfiguring {work.name}")
        with unchanged_headers_keep_their_age(work):
            _run(["cmake", *args, "."], work, log_path, "cmake reconfigure")
    else:
        if work.exists():
            shutil.rmtree(work)  # a configure that died half way
        work.mkdir(parents=True)
        log(f"configuring {work.name} (seL4's init-build.sh)")
        _run([str(tree.root / "init-build.sh"), *args], work, log_path, "init-build.sh")
    state.write_text(json.dumps(args + (stamp or [])))


@contextmanager
def unchanged_headers_keep_their_age(work: Path) -> Iterator[None]:
    """seL4's configure rewrites every generated header and config, changed or not (on virt
    the DTB is dumped again from QEMU, with a new random seed, so the kernel's
    `devices_gen.h` is regenerated with the same bytes), and ninja then recompiles the kernel
    for an elfloader-only option. A rewritten file whose bytes did not change gets its old
    times back, so only what really changed is rebuilt."""

    def generated() -> dict[Path, tuple[int, int, bytes]]:
        seen = {}
        for top in ("gen_headers", "gen_config"):
            for path in work.rglob(f"{top}/**/*"):
                if path.is_file() and not path.is_symlink():
                    st = path.stat()
                    seen[path] = (st.st_atime_ns, st.st_mtime_ns, path.read_bytes())
        return seen

    before = generated()
    yield
    for path, (_, mtime, data) in generated().items():
        old = before.get(path)
        if old is not None and old[1] != mtime and old[2] == data:
            os.utime(path, ns=(old[0], old[1]))


def build(cfg: Sel4Config, project: Path | None = None, log: Log = _stderr) -> Sel4Build:
    """Build (or find up to date) the image `cfg` describes."""
    if not (sel4_venv() / "bin" / "python").exists():
        raise HarnessError(
            "seL4's Python build dependencies are missing",
            file=sel4_venv(),
            fix="run 'make setup' (creates it with PyPI sel4-deps)",
        )
    tree = project_tree(project) if project else bundled_tree()
    if cfg.payload_mib and not tree.has_payload_hook:
        raise HarnessError(
            "this project cannot link a payload into its rootserver",
            file=tree.root,
            field="--payload-mib",
            fix="apply patches/sel4test/*.patch to its projects/sel4test, or build "
            "from the bundled sources (no --project)",
        )
    patches = cfg.loader_patches()
    seL4_tools = patched_seL4_tools(tree, patches).parent
    payload = payload_file(cfg.payload_mib) if cfg.payload_mib else None
    work = build_root() / "sel4" / "work" / f"{tree.ident}-{cfg.work_name}"
    active = work.with_name(work.name + ".seL4_tools")  # this directory's elfloader, for life
    args = cfg.base_cmake_args(qemu_wrapper(), payload, hook=tree.has_payload_hook)
    args += cfg.loader_cmake_args(active / "elfloader-tool")
    overlay = cfg.overlay()
    # the overlay's text, not only its path, decides the kernel's memory: an edit reconfigures
    stamp = [f"overlay-sha256={digest(overlay.read_text())}"] if overlay else []
    key = digest(tree.ident, json.dumps(args + stamp), *(p.read_text() for p in patches))
    out = build_root() / "sel4" / "images" / (cfg.name if tree.bundled else f"{tree.ident}-{cfg.name}")
    record = out / "build.json"
    done = _finished(out, key) if tree.bundled else None
    if done is not None:
        return Sel4Build(cfg, done[0], done[1], out, rebuilt=False)
    log_path = work.with_name(work.name + ".log")
    with locked(work.with_name(work.name + ".lock")):
        done = _finished(out, key) if tree.bundled else None
        if done is not None:  # a concurrent run built it while we waited for the lock
            return Sel4Build(cfg, done[0], done[1], out, rebuilt=False)
        sync_tree(seL4_tools, active)
        _configure(tree, work, args + compiler_cache(), log_path, log, stamp)
        log(f"building {cfg.name} (ninja; log {log_path})")
        _run(["ninja"], work, log_path, "ninja")
        image = _image_in(work)
        out.mkdir(parents=True, exist_ok=True)
        _publish(image, out / image.name)
        _publish(work / "elfloader" / "elfloader", out / "elfloader.elf")
        tmp = tmp_beside(record)  # the record last: it says both files are complete
        tmp.write_text(
            json.dumps(
                {
                    "key": key,
                    "config": asdict(cfg),
                    "image": image.name,
                    "elfloader": "elfloader.elf",
                    "tree": str(tree.root),
                    "cmake_args": args,
                    "patches": [p.name for p in patches],
                },
                indent=2,
                default=str,
            )
        )  # default=str: extra_patches are paths
        tmp.replace(record)
    return Sel4Build(cfg, out / image.name, out / "elfloader.elf", out, rebuilt=True)


def _finished(out: Path, key: str) -> tuple[Path, Path] | None:
    """(image, elfloader) of a finished build of `key` in `out`, else None."""
    try:
        rec = json.loads((out / "build.json").read_text())
    except (OSError, ValueError):
        return None
    if rec.get("key") != key or not all((out / rec[k]).exists() for k in ("image", "elfloader")):
        return None
    return out / rec["image"], out / rec["elfloader"]


def _publish(src: Path, dest: Path) -> None:
    """Copy a build output into place by rename: a suite booting the previous copy keeps
    reading whole bytes while another suite's rebuild replaces it. (The temporary name
    holds no '-image-': a directory given as an image is searched for that.)"""
    tmp = dest.parent / f".partial-{os.getpid()}"
    shutil.copy2(src, tmp)
    tmp.replace(dest)


def repo_relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)

"""Where the seL4 sources come from: the pinned upstream set, or a user's project.

The upstream trees are inputs, like a data set: they are read from
`../shared/upstream/` beside the repository (or `HARNESS_SEL4_UPSTREAM`) and
extracted under `build/`, never into the repository. Our patches are applied to
those extracted copies only; a user's own checkout is never modified: a patched
elfloader is a copy of its seL4_tools with the patches applied.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..atomic import locked
from ..errors import HarnessError
from ..paths import ROOT, build_root
from .config import PATCHES

TARBALL = "sel4test-src.tar.xz"
TOP = "sel4test-src"
HOOK_MARK = "Sel4testPayloadFile"  # our sel4test patch: root CNode size + payload


def upstream_dir() -> Path:
    """The pinned upstream sources: `HARNESS_SEL4_UPSTREAM` or `../shared/upstream`."""
    env = os.environ.get("HARNESS_SEL4_UPSTREAM")
    return Path(env) if env else ROOT.parent / "shared" / "upstream"


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_apply(patch: Path, cwd: Path, directory: str | None = None, check: bool = False) -> None:
    """`git apply` one patch in `cwd`, acting as patch(1).

    build/ lies inside our own repository: without a ceiling, git would find
    that repository and silently skip every path it does not track.
    """
    cmd = ["git", "apply", "--whitespace=nowarn"]
    if directory:
        cmd.append(f"--directory={directory}")
    if check:
        cmd.append("--check")
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(cwd.resolve().parent))
    proc = subprocess.run([*cmd, str(patch)], cwd=cwd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise HarnessError(
            f"does not apply to {cwd}: {proc.stderr.strip()}", file=patch, fix="rebase the patch on this seL4 revision"
        )


def made_once(dest: Path, make: Callable[[Path], None]) -> None:
    """Run `make(dest)` unless an earlier run finished it (a stamp says so); one run at a time,
    and a run that died half way is started over."""
    stamp = dest / ".harness-done"
    with locked(dest.with_name(dest.name + ".lock")):
        if stamp.exists():
            return
        if dest.exists():
            shutil.rmtree(dest)
        make(dest)
        stamp.write_text("done\n")


@dataclass(frozen=True)
class SourceTree:
    """A seL4 project laid out like a `repo` checkout (init-build.sh at the top)."""

    root: Path
    ident: str  # revisions + our patches, for cache keys
    bundled: bool  # our extracted copy (patched) vs a user's checkout (untouched)

    @property
    def seL4_tools(self) -> Path:
        return self.root / "tools" / "seL4"

    @property
    def has_payload_hook(self) -> bool:
        cml = self.root / "projects" / "sel4test" / "apps" / "sel4test-driver" / "CMakeLists.txt"
        return cml.is_file() and HOOK_MARK in cml.read_text(errors="replace")


def sel4test_patches() -> list[Path]:
    return sorted((PATCHES / "sel4test").glob("*.patch"))


def bundled_tree() -> SourceTree:
    """The pinned sel4test sources, extracted once under build/ with our sel4test patch."""
    tarball = upstream_dir() / TARBALL
    if not tarball.is_file():
        raise HarnessError(
            "seL4 sources not found",
            file=tarball,
            fix="put the shared/ folder beside the repository, set HARNESS_SEL4_UPSTREAM, "
            "or build from your own checkout with --project DIR",
        )
    patches = sel4test_patches()
    ident = digest(file_digest(tarball), *(p.read_bytes() for p in patches))[:12]
    dest = build_root() / "sel4" / "src" / ident

    def extract(d: Path) -> None:
        d.mkdir(parents=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(d, filter="tar")
        for p in patches:
            git_apply(p, d / TOP, directory="projects/sel4test")

    made_once(dest, extract)
    tree = SourceTree(dest / TOP, ident, bundled=True)
    memoizable_musl(tree)
    return tree


def memoizable_musl(tree: SourceTree) -> None:
    """Let seL4's own build cache (`memoize`: sel4test's settings put it in the tree's
    `.sel4_cache`, keyed by the source's git commit and the compiler flags) keep musl's C
    library across build directories: every configuration compiles the same libc, the
    longest step of a sel4test build (20 of 30 s). memoize only trusts a
    clean git checkout, and the pinned tarball has none, so the extracted musllibc becomes
    one: a commit of exactly its files, with a fixed author and date so that the same
    sources always give the same key. The git directory lives beside the tree (`.git` is a
    file), as in a `repo` checkout, whose layout musl's build rule expects."""
    musl = tree.root / "projects" / "musllibc"
    if not musl.is_dir():
        return
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="harness",
        GIT_AUTHOR_EMAIL="harness@localhost",
        GIT_COMMITTER_NAME="harness",
        GIT_COMMITTER_EMAIL="harness@localhost",
        GIT_AUTHOR_DATE="2000-01-01T00:00:00Z",
        GIT_COMMITTER_DATE="2000-01-01T00:00:00Z",
    )

    def commit(gitdir: Path) -> None:
        (musl / ".git").unlink(missing_ok=True)  # left by a run that died half way
        for cmd in (
            ["init", "-q", f"--separate-git-dir={gitdir}"],
            ["add", "-A", "-f", "."],
            ["commit", "-q", "--no-gpg-sign", "-m", "pinned musllibc"],
        ):
            proc = subprocess.run(["git", *cmd], cwd=musl, capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                raise HarnessError(
                    f"git {cmd[0]} failed: {proc.stderr.strip()}",
                    file=musl,
                    fix="'make setup' installs git; or remove build/sel4/src",
                )

    made_once(tree.root.parent / "musllibc.git", commit)


def project_tree(path: Path) -> SourceTree:
    """A user's own seL4 project checkout, used in place and never modified."""
    root = path.resolve()
    if not (root / "init-build.sh").exists():
        raise HarnessError(
            "not a seL4 project checkout (no init-build.sh at its top)",
            file=root,
            field="--project",
            fix="point --project at the directory `repo init` made",
        )
    if not (root / "tools" / "seL4" / "elfloader-tool").is_dir():
        raise HarnessError(
            "no tools/seL4/elfloader-tool",
            file=root,
            field="--project",
            fix="a seL4 project has seL4_tools at tools/seL4",
        )
    rev = subprocess.run(
        ["git", "-C", str(root / "tools" / "seL4"), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    ident = digest(str(root), rev.stdout.strip())[:12]
    return SourceTree(root, ident, bundled=False)


def patched_seL4_tools(tree: SourceTree, patches: list[Path]) -> Path:
    """A copy of the tree's seL4_tools with `patches` applied; its elfloader-tool path.

    Without patches the tree's own elfloader is used as it is.
    """
    if not patches:
        return tree.seL4_tools / "elfloader-tool"
    key = digest(tree.ident, *(p.name + "\0" + p.read_text() for p in patches))[:12]
    dest = build_root() / "sel4" / "seL4_tools" / key

    def patch(d: Path) -> None:
        shutil.copytree(tree.seL4_tools, d, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        for p in patches:
            git_apply(p, d)

    made_once(dest, patch)
    return dest / "elfloader-tool"


def sync_tree(src: Path, dst: Path) -> int:
    """Make `dst` hold exactly `src`'s files, rewriting only those whose bytes differ.

    A build directory keeps one elfloader path for life; switching between the
    patched loader and its negative controls then changes a file or two, which
    ninja rebuilds by their new mtime, instead of a CMake reconfigure (tens of
    seconds of seL4's configure scripts per switch). Returns the files changed.
    """
    changed = 0
    wanted: set[Path] = set()
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if ".git" in rel.parts:
            continue
        wanted.add(rel)
        target = dst / rel
        if path.is_symlink():
            link = os.readlink(path)
            if not target.is_symlink() or os.readlink(target) != link:
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(link)
                changed += 1
        elif path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            data = path.read_bytes()
            if target.is_symlink() or not target.is_file() or target.read_bytes() != data:
                if target.is_symlink():
                    target.unlink()
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                shutil.copymode(path, target)
                changed += 1
    for path in sorted(dst.rglob("*"), reverse=True):
        if path.relative_to(dst) not in wanted:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            changed += 1
    return changed

"""The mutants of a subject: its files, one edit each, a stable id and a patch.

Two subjects: `sel4`, our early-MMU series applied to a copy of the pinned
seL4_tools (the files it adds and its hooks in upstream files), and
`reference`, the reference loader's early-MMU path in images/. Ids name the
operator, the file and a hash of the edited lines with their neighbours, so
they survive edits elsewhere in the file (line numbers do not).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import HarnessError
from ..images.build import IMAGES
from .edits import Edit
from .operators import OPERATORS
from .source import Source, Subject, branch_of

SUBJECTS = ("sel4", "reference")
EARLY_MMU_MACRO = "CONFIG_ELFLOADER_EARLY_MMU"
# The close method's choice: a mutant of one method's code is built with that method.
SETWAY_MACRO = "CONFIG_ELFLOADER_EARLY_MMU_CLEAN_SETWAY"
# sel4: (path in seL4_tools, only the lines under the early-MMU option are ours)
SEL4_FILES = (
    ("elfloader-tool/src/arch-arm/64/early_mmu.c", False),
    ("elfloader-tool/src/arch-arm/64/early_mmu_asm.S", False),
    ("elfloader-tool/include/arch-arm/64/mode/early_mmu.h", False),
    ("elfloader-tool/src/common.c", True),
    ("elfloader-tool/src/arch-arm/sys_boot.c", True),
)
REFERENCE_FILES = ("elfloader/mmu.c", "elfloader/cache.S", "elfloader/main.c", "elfloader/copy.S")
# The MMU-off hand-off (mmu-off and fallback modes): not on the early-MMU path.
REFERENCE_SKIP = ("jump_to_entry",)


@dataclass(frozen=True)
class Mutant:
    """One defect: one edit of one file of a subject."""

    id: str
    subject: str
    edit: Edit
    # ElfloaderEarlyMMUClean the mutant needs ("va", "setway"), None: the platform's default
    clean: str | None = None

    @property
    def operator(self) -> str:
        return self.edit.operator

    @property
    def path(self) -> str:
        return self.edit.path

    @property
    def line(self) -> int:
        """1-based line of the edit in the unmutated file (for people; never part of the id)."""
        return self.edit.start + 1

    def apply(self, text: str) -> str:
        lines = text.splitlines()
        e = self.edit
        if tuple(lines[e.start : e.start + len(e.old)]) != e.old:
            raise HarnessError(
                f"mutant {self.id}: the source changed under it",
                file=Path(e.path),
                fix="regenerate the mutants (harness mutate --list)",
            )
        lines[e.start : e.start + len(e.old)] = e.new
        return "\n".join(lines) + "\n"

    def patch(self, text: str) -> str:
        """The edit as a unified diff against `text` (paths a/PATH, b/PATH, for git apply)."""
        new = self.apply(text)
        diff = difflib.unified_diff(
            text.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{self.path}", f"b/{self.path}", n=3
        )
        return f"Mutant {self.id} ({self.operator}): {self.edit.what}\n---\n" + "".join(diff)


def sel4_root() -> Path:
    """seL4_tools with the early-MMU series applied (a copy under build/, made once)."""
    from ..sel4.config import Sel4Config
    from ..sel4.sources import bundled_tree, patched_seL4_tools

    return patched_seL4_tools(bundled_tree(), Sel4Config(early_mmu=True).loader_patches()).parent


def load_subject(name: str, root: Path | None = None) -> Subject:
    """The files of `name` parsed, from `root` (default: where the harness keeps them)."""
    if name == "sel4":
        root = root or sel4_root()
        files = [
            Source.parse(p, _read(root / p), require=EARLY_MMU_MACRO if hooks else None) for p, hooks in SEL4_FILES
        ]
    elif name == "reference":
        root = root or IMAGES
        files = [Source.parse(p, _read(root / p), skip_routines=REFERENCE_SKIP) for p in REFERENCE_FILES]
    else:
        raise HarnessError(
            f"unknown subject '{name}'", field="--subject", fix=f"use one of: {', '.join(SUBJECTS)}, all"
        )
    return Subject(name, root, files)


def _read(path: Path) -> str:
    if not path.is_file():
        raise HarnessError("source file missing", file=path, fix="restore it (git) or rebuild the sources")
    return path.read_text()


def _context(src: Source, e: Edit) -> list[str]:
    """Two non-blank lines before and after the edit: tells identical lines apart."""
    before = [ln.strip() for ln in src.lines[: e.start] if ln.strip()][-2:]
    after = [ln.strip() for ln in src.lines[e.start + len(e.old) :] if ln.strip()][:2]
    return before + ["|"] + after


def _ident(subject: str, src: Source, e: Edit) -> str:
    h = hashlib.sha256(
        "\0".join(
            [e.operator, e.path, *(x.strip() for x in e.old), "=>", *(x.strip() for x in e.new), *_context(src, e)]
        ).encode()
    )
    return f"{subject}:{e.operator}:{Path(e.path).name}:{h.hexdigest()[:8]}"


def mutants(subject: Subject) -> list[Mutant]:
    """Every mutant of the subject, operator by operator, file by file, in line order."""
    out: list[Mutant] = []
    seen: dict[str, int] = {}
    for op in OPERATORS.values():
        for src in subject.files:
            for e in op(subject, src):
                if e.new == e.old:
                    continue
                ident = _ident(subject.name, src, e)
                seen[ident] = seen.get(ident, 0) + 1
                if seen[ident] > 1:
                    ident = f"{ident}-{seen[ident]}"
                # seL4: code both close methods compile is built with the VA close, which
                # uses all of it (the recorded ranges, the loader-range clean); a set/way
                # sweep cleans every line whatever was recorded and would mask a defect there
                clean = None
                if subject.name == "sel4":
                    clean = "setway" if _clean_side(subject, src, e.start) else "va"
                out.append(Mutant(ident, subject.name, e, clean))
    return out


def _clean_side(subject: Subject, src: Source, line: int, depth: int = 0) -> bool | None:
    """Which close method compiles (or calls) line `line`: True set/way, False VA, None both.

    A line under the method's #ifdef says so itself; a line of an asm routine or macro
    takes the side of every place that uses it, when they all agree (a VA-only range
    macro, called only from the VA branch, is mutated in a VA build, where it runs)."""
    side = branch_of(src.code, line, SETWAY_MACRO)
    if side is not None or depth > 3:
        return side
    block = next((b for b in src.blocks if b.start <= line < b.end), None)
    if block is None:
        return None
    word = re.compile(rf"\b{re.escape(block.name)}\b")
    sides = set()
    for f in subject.files:
        if f.path.endswith(".h"):
            continue  # declarations are not uses
        for j, code in enumerate(f.code):
            if f is src and block.start <= j < block.end:
                continue
            if f.live[j] and word.search(code):
                sides.add(_clean_side(subject, f, j, depth + 1))
    return sides.pop() if len(sides) == 1 else None


def generate(subjects: list[str], roots: dict[str, Path] | None = None) -> list[Mutant]:
    return [m for s in subjects for m in mutants(load_subject(s, (roots or {}).get(s)))]


def source_text(subject: Subject, path: str) -> str:
    return next("\n".join(f.lines) + "\n" for f in subject.files if f.path == path)


def sample(all_mutants: list[Mutant], n: int) -> list[Mutant]:
    """A fixed sample of about `n` mutants that spans every (operator, subject) pair:
    round robin over the pairs, each pair's mutants in id order."""
    buckets: dict[tuple[str, str], list[Mutant]] = {}
    for m in sorted(all_mutants, key=lambda m: m.id):
        buckets.setdefault((m.operator, m.subject), []).append(m)
    order = [k for op in OPERATORS for k in sorted(buckets) if k[0] == op]
    picked: list[Mutant] = []
    depth = 0
    while (len(picked) < n or depth == 0) and any(len(buckets[k]) > depth for k in order):
        for k in order:
            if len(buckets[k]) > depth and (len(picked) < n or depth == 0):
                picked.append(buckets[k][depth])
        depth += 1
    keep = {m.id for m in picked}
    return [m for m in all_mutants if m.id in keep]

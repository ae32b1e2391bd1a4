"""A loader source file as the mutation operators see it.

Operators work on text, so they must know three things a plain line does not
say: whether the line is code or comment, whether it is compiled in the build
under test (preprocessor branches of negative controls are not), and which asm
routine or macro it belongs to. `Subject` adds what only the whole set of files
tells: which routines and macros clean or invalidate by VA, and the (start, end)
parameters of the range routines as their C prototypes name them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_COND = re.compile(r"^\s*#\s*(ifdef|ifndef|if|else|elif|endif)\b\s*(\w*)")
_BLOCK_START = (
    re.compile(r"^\s*\.macro\s+(\w+)"),
    re.compile(r"^\s*BEGIN_FUNC\((\w+)\)"),
    re.compile(r"^([A-Za-z_]\w*):"),
)
_BLOCK_END = re.compile(r"^\s*(\.endm\b|END_FUNC\(|\.size\s)")
_INSN = re.compile(r"^(?P<pre>\s*(?:\w+:\s*)?)(?P<mn>[a-z_][a-z0-9_.]*)\b(?P<ops>.*?)\s*$")
DC_OPS = ("civac", "cvac", "cvau", "ivac")
SW_OPS = ("cisw", "csw", "isw")  # by set/way


@dataclass(frozen=True)
class Insn:
    """One asm instruction on a code line: label prefix, mnemonic, operands."""

    pre: str
    mnemonic: str
    operands: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {', '.join(self.operands)}".strip()


@dataclass(frozen=True)
class Block:
    """An asm macro or function: lines [start, end) with the header and end marker."""

    name: str
    kind: str  # "macro" | "func"
    start: int
    end: int


def insn(code: str) -> Insn | None:
    """The instruction a code line of asm holds, or None (directive, blank, label only)."""
    if not code.strip() or code.lstrip().startswith((".", "#")):
        return None
    m = _INSN.match(code)
    if m is None or m.group("ops").startswith(":"):  # a label of its own
        return None
    ops = tuple(o.strip() for o in m.group("ops").split(",") if o.strip())
    return Insn(m.group("pre"), m.group("mn"), ops)


def _strip_comments(lines: list[str], c: bool) -> tuple[list[str], list[bool]]:
    """Each line without comments, and whether it starts inside a block comment."""
    code, inside, state = [], [], False
    for line in lines:
        inside.append(state)
        out, i = [], 0
        while i < len(line):
            if state:
                j = line.find("*/", i)
                if j < 0:
                    i = len(line)
                else:
                    state, i = False, j + 2
            elif line.startswith("/*", i):
                state, i = True, i + 2
            elif c and line.startswith("//", i):
                break
            elif line[i] == '"':  # a string: copied as it is
                j = line.find('"', i + 1)
                while j > 0 and line[j - 1] == "\\":
                    j = line.find('"', j + 1)
                j = len(line) if j < 0 else j + 1
                out.append(line[i:j])
                i = j
            else:
                out.append(line[i])
                i += 1
        code.append("".join(out).rstrip())
    return code, inside


def _live(code: list[str], require: str | None) -> list[bool]:
    """Is each line compiled in the build under test?

    Code under `#ifdef BUG_*` exists only in a negative control (out); its
    `#ifndef`/`#else` branch is the real code (in). With `require`, only lines
    inside that macro's defined branch are in (the hooks of a patch in an upstream
    file). Any other condition leaves both branches in. Directive lines are out.
    """
    stack: list[list[bool]] = []  # per open #if: [branch is in, flips at #else, is `require`]
    out = []
    for text in code:
        m = _COND.match(text)
        if m is None:
            out.append(all(e[0] for e in stack) and (require is None or any(e[2] for e in stack)))
            continue
        kind, name = m.groups()
        wanted = {"ifdef": True, "ifndef": False}.get(kind)
        if kind in ("ifdef", "ifndef", "if"):
            if wanted is not None and name.startswith("BUG_"):
                stack.append([not wanted, True, False])
            elif wanted is not None and require is not None and name == require:
                stack.append([wanted, True, True])
            else:
                stack.append([True, False, False])
        elif kind in ("else", "elif") and stack and stack[-1][1]:
            stack[-1][0] = not stack[-1][0]
        elif kind == "endif" and stack:
            stack.pop()
        out.append(False)
    return out


def branch_of(code: tuple[str, ...] | list[str], i: int, macro: str) -> bool | None:
    """Is line i in `#ifdef macro`'s branch (True), in its `#ifndef`/`#else` branch (False),
    or outside any test of `macro` (None)? Says which build compiles a line that only one
    of an option's choices has."""
    stack: list[bool | None] = []
    for text in code[:i]:
        m = _COND.match(text)
        if m is None:
            continue
        kind, name = m.groups()
        if kind in ("ifdef", "ifndef", "if"):
            stack.append({"ifdef": True, "ifndef": False}.get(kind) if name == macro else None)
        elif kind in ("else", "elif") and stack and stack[-1] is not None:
            stack[-1] = not stack[-1]
        elif kind == "endif" and stack:
            stack.pop()
    return next((b for b in reversed(stack) if b is not None), None)


def _blocks(code: list[str]) -> list[Block]:
    out, open_ = [], None
    for i, text in enumerate(code):
        if open_ is None:
            for kind, rx in zip(("macro", "func", "func"), _BLOCK_START):
                m = rx.match(text)
                if m:
                    open_ = (m.group(1), kind, i)
                    break
        elif _BLOCK_END.match(text):
            out.append(Block(open_[0], open_[1], open_[2], i + 1))
            open_ = None
    return out


@dataclass(frozen=True)
class Source:
    """One file of a subject: its lines, their code, scope and asm blocks."""

    path: str  # relative to the subject's root, as a patch names it
    lines: tuple[str, ...]
    code: tuple[str, ...]
    in_comment: tuple[bool, ...]
    live: tuple[bool, ...]
    blocks: tuple[Block, ...]

    @property
    def asm(self) -> bool:
        return self.path.endswith(".S")

    @classmethod
    def parse(cls, path: str, text: str, require: str | None = None, skip_routines: tuple[str, ...] = ()) -> "Source":
        lines = text.splitlines()
        code, inside = _strip_comments(lines, c=not path.endswith(".S"))
        live = _live(code, require)
        blocks = _blocks(code) if path.endswith(".S") else []
        for b in blocks:
            if b.name in skip_routines:
                live[b.start : b.end] = [False] * (b.end - b.start)
        return cls(path, tuple(lines), tuple(code), tuple(inside), tuple(live), tuple(blocks))

    def block_of(self, i: int) -> Block | None:
        return next((b for b in self.blocks if b.start <= i < b.end), None)

    def insn(self, i: int) -> Insn | None:
        return insn(self.code[i]) if self.asm and self.live[i] else None

    def c_statement(self, i: int, most: int = 4) -> tuple[int, str]:
        """The C statement starting on line i: the line after it, and its code on one line."""
        j, parts = i, []
        while j < len(self.code) and j < i + most:
            parts.append(self.code[j].strip())
            j += 1
            if parts[-1].endswith((";", "{", "}")):
                break
        indent = self.code[i][: len(self.code[i]) - len(self.code[i].lstrip())]
        return j, indent + " ".join(parts)

    def statement_end(self, i: int) -> int:
        """The line after the comment that starts on line i closes (i + 1 if none)."""
        j = i + 1
        while j < len(self.lines) and self.in_comment[j]:
            j += 1
        return j


@dataclass
class Subject:
    """The files of one loader, and what the asm tells about its routines."""

    name: str
    root: Path
    files: list[Source]
    clean_names: set[str] = field(default_factory=set)  # macros/routines that clean by VA
    inval_names: set[str] = field(default_factory=set)  # ... that invalidate by VA
    inval_direct: set[str] = field(default_factory=set)  # ... with the `dc ivac` in their own body
    sctlr_names: set[str] = field(default_factory=set)  # ... that write SCTLR (MMU/caches on/off)
    range_params: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._learn_routines()
        self._learn_prototypes()

    def _learn_routines(self) -> None:
        body: dict[str, list[str]] = {}
        for src in self.files:
            for b in src.blocks:
                body[b.name] = [src.code[i] for i in range(b.start + 1, b.end - 1)]
        for name, lines in body.items():
            for ins in filter(None, map(insn, lines)):
                if ins.mnemonic == "dc" and ins.operands[:1] == ("ivac",):
                    self.inval_direct.add(name)
        sets = {"clean": self.clean_names, "inval": self.inval_names, "sctlr": self.sctlr_names}
        changed = True
        while changed:  # a macro that expands a cleaning macro cleans too
            changed = False
            for name, lines in body.items():
                for ins in filter(None, map(insn, lines)):
                    op = ins.operands[0].lower() if ins.operands else ""
                    own = {
                        "clean": ins.mnemonic == "dc" and op.startswith("c"),
                        "inval": ins.mnemonic == "dc" and op == "ivac",
                        "sctlr": ins.mnemonic == "msr" and op.startswith("sctlr"),
                    }
                    for kind, names in sets.items():
                        if (own[kind] or ins.mnemonic in names) and name not in names:
                            names.add(name)
                            changed = True

    def _learn_prototypes(self) -> None:
        proto = re.compile(r"\bvoid\s+(\w+)\s*\(([^)]*)\)\s*;", re.S)
        for src in self.files:
            for m in proto.finditer("\n".join(src.code)):
                name, params = m.group(1), [p.split()[-1] for p in m.group(2).split(",") if p.split()]
                if name not in self.clean_names | self.inval_names:
                    continue
                starts = [k for k, p in enumerate(params) if p.endswith("start")]
                ends = [k for k, p in enumerate(params) if p.endswith("end")]
                if len(starts) == 1 and len(ends) == 1:
                    self.range_params[name] = (starts[0], ends[0])

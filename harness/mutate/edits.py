"""One mutant's edit: a run of consecutive lines of one file replaced."""

from __future__ import annotations

from dataclasses import dataclass

from .source import Insn, Source


@dataclass(frozen=True)
class Edit:
    """Lines [start, start + len(old)) of `path` become `new`."""

    operator: str
    path: str
    start: int
    old: tuple[str, ...]
    new: tuple[str, ...]
    what: str


def line_edit(op: str, src: Source, i: int, new: str | list[str], what: str) -> Edit:
    return Edit(op, src.path, i, (src.lines[i],), tuple([new] if isinstance(new, str) else new), what)


def with_insn(src: Source, i: int, ins: Insn, text: str) -> str:
    """Line i with its instruction replaced by `text` (label and comment kept)."""
    line, code = src.lines[i], src.code[i]
    rest = line[len(code) :] if line.startswith(code) else ""
    return f"{ins.pre}{text}{rest}".rstrip()

"""Mutation operators of a set/way sweep: the ways it can miss part of the cache hierarchy.

A sweep is found by what its text does (a routine or macro with `dc cisw/csw/isw`), and its
parts by the architecture's field positions: CLIDR_EL1.LoC is bits [26:24], LoUU [29:27],
LoUIS [23:21]; CCSIDR_EL1 (32-bit form) has LineSize-4 in [2:0], ways-1 in [12:3], sets-1 in
[27:13]; a set/way operand holds the set at bit log2(line size) and the way at bit
32 - log2(ways), which `clz` of the 32-bit ways-1 gives. Nothing names a line of a loader.
"""

from __future__ import annotations

import re
from typing import Iterator

from .edits import Edit, line_edit, with_insn
from .source import SW_OPS, Source, Subject

_CLIDR_LOC = re.compile(r"#\s*24\s*,\s*#\s*3$")
_CCSIDR_WAYS = re.compile(r"#\s*3\s*,\s*#\s*10$")
_CCSIDR_SETS = re.compile(r"#\s*13\s*,\s*#\s*15$")


def setway_blocks(src: Source) -> list[tuple[int, int]]:
    """[start, end) of every asm routine or macro that maintains by set/way."""
    out = []
    for b in src.blocks:
        if any(
            (ins := src.insn(j)) is not None and ins.mnemonic == "dc" and ins.operands and ins.operands[0] in SW_OPS
            for j in range(b.start, b.end)
        ):
            out.append((b.start, b.end))
    return out


def _indent(src: Source, i: int) -> str:
    line = src.lines[i]
    return line[: len(line) - len(line.lstrip())]


def _level_counter(src: Source, lo: int, hi: int) -> str | None:
    """The register the level loop steps by one (`add R, R, #1`), if there is one."""
    regs = {
        ins.operands[0]
        for i in range(lo, hi)
        if (ins := src.insn(i)) is not None
        and ins.mnemonic == "add"
        and len(ins.operands) == 3
        and ins.operands[0] == ins.operands[1]
        and ins.operands[2] == "#1"
    }
    return regs.pop() if len(regs) == 1 else None


def setway_walk(subject: Subject, src: Source) -> Iterator[Edit]:
    """A set/way sweep that misses part of the hierarchy, one way per mutant:
    - a wrong level count: LoUIS or LoUU read instead of LoC; one level fewer than LoC;
    - a level skipped: the level step doubled (L2 never swept); the walk started at L2;
    - off by one in sets or ways: a backward loop branch `b.hs` made `b.hi` (set or way 0
      never reached); the highest set or the highest way never visited;
    - the operand's fields misplaced: the set shift one short or one long, the way shift
      from a 64-bit `clz` (the way lands above bit 31);
    - the level never selected: the CSSELR_EL1 write before the CCSIDR_EL1 read deleted."""
    for lo, hi in setway_blocks(src):
        level = _level_counter(src, lo, hi)
        for i in range(lo, hi):
            ins = src.insn(i)
            if ins is None:
                continue
            ops, mn = ins.operands, ins.mnemonic
            joined = ", ".join(ops)
            if mn == "b.hs" and ops and re.fullmatch(r"\d+b", ops[0]):
                yield line_edit(
                    "setway-walk",
                    src,
                    i,
                    with_insn(src, i, ins, f"b.hi    {ops[0]}"),
                    f"'{ins.text}' -> 'b.hi': the loop stops one short",
                )
            elif mn == "ubfx" and len(ops) == 4 and _CLIDR_LOC.search(joined):
                for bit, name in (("21", "LoUIS"), ("27", "LoUU")):
                    yield line_edit(
                        "setway-walk",
                        src,
                        i,
                        with_insn(src, i, ins, f"ubfx    {ops[0]}, {ops[1]}, #{bit}, #3"),
                        f"levels from CLIDR_EL1.{name} instead of LoC",
                    )
                yield line_edit(
                    "setway-walk",
                    src,
                    i,
                    [src.lines[i], f"{_indent(src, i)}sub     {ops[0]}, {ops[0]}, #1"],
                    "one level fewer than CLIDR_EL1.LoC: the last level never swept",
                )
            elif mn == "ubfx" and len(ops) == 4 and _CCSIDR_WAYS.search(joined):
                yield line_edit(
                    "setway-walk",
                    src,
                    i,
                    [src.lines[i], f"{_indent(src, i)}sub     {ops[0]}, {ops[0]}, #1"],
                    "the highest way never visited (ways - 2 as the first way)",
                )
            elif mn == "mov" and len(ops) == 2 and ops[1].startswith("x") and _sets_reg(src, lo, i, ops[1]):
                yield line_edit(
                    "setway-walk",
                    src,
                    i,
                    with_insn(src, i, ins, f"sub     {ops[0]}, {ops[1]}, #1"),
                    "the highest set never visited (sets - 2 as the first set)",
                )
            elif mn == "add" and len(ops) == 3 and ops[0] == ops[1] and ops[2] == "#1" and ops[0] == level:
                yield line_edit(
                    "setway-walk",
                    src,
                    i,
                    with_insn(src, i, ins, f"add     {ops[0]}, {ops[1]}, #2"),
                    f"'{ins.text}' -> step 2: a level skipped",
                )
            elif mn == "mov" and len(ops) == 2 and ops[0] == level and ops[1] == "#0":
                yield line_edit(
                    "setway-walk",
                    src,
                    i,
                    with_insn(src, i, ins, f"mov     {ops[0]}, #1"),
                    "the walk starts at L2: L1 never swept",
                )
            elif mn == "add" and len(ops) == 3 and ops[0] == ops[1] and ops[2] == "#4":
                for shift, how in (("#3", "short"), ("#5", "long")):
                    yield line_edit(
                        "setway-walk",
                        src,
                        i,
                        with_insn(src, i, ins, f"add     {ops[0]}, {ops[1]}, {shift}"),
                        f"the set field's shift one {how}: sets aliased, some never named",
                    )
            elif mn == "clz" and len(ops) == 2 and ops[0].startswith("w") and ops[1].startswith("w"):
                text = f"clz     x{ops[0][1:]}, x{ops[1][1:]}"
                yield line_edit(
                    "setway-walk",
                    src,
                    i,
                    with_insn(src, i, ins, text),
                    "the way shift from a 64-bit clz: the way lands above bit 31",
                )
            elif mn == "msr" and ops and ops[0].lower() == "csselr_el1" and _ccsidr_after(src, i, hi):
                yield line_edit(
                    "setway-walk",
                    src,
                    i,
                    with_insn(src, i, ins, f"/* mutant: '{ins.text}' deleted */"),
                    "the level never selected (CSSELR_EL1 write deleted): every level "
                    "swept with the geometry of the one selected before",
                )


def _sets_reg(src: Source, lo: int, i: int, reg: str) -> bool:
    """Was `reg` last set, before line i, from CCSIDR_EL1's sets field?"""
    for j in range(i - 1, lo - 1, -1):
        ins = src.insn(j)
        if ins is not None and ins.operands and ins.operands[0] == reg:
            return ins.mnemonic == "ubfx" and _CCSIDR_SETS.search(", ".join(ins.operands)) is not None
    return False


def _ccsidr_after(src: Source, i: int, hi: int) -> bool:
    """Is CCSIDR_EL1 read after line i in the same block (this write selects its level)?"""
    return any(
        (ins := src.insn(j)) is not None
        and ins.mnemonic == "mrs"
        and len(ins.operands) == 2
        and ins.operands[1].lower() == "ccsidr_el1"
        for j in range(i + 1, hi)
    )

"""Mutation operators: each finds its sites in the source text and proposes one edit per mutant.

Nothing here names a line of a particular loader: sites are found by what the
text is (a `dc` instruction, a barrier, a write of SCTLR/MAIR/TCR/TTBR, a MAIR
byte, a range routine's call) and by what the subject's asm says about its
routines (`Subject.clean_names`, `inval_names`, `range_params`). An edit
replaces a run of consecutive lines, so every mutant is one hunk of one file.
"""

from __future__ import annotations

import re
from typing import Callable, Iterator

from .edits import Edit, line_edit, with_insn
from .setway import setway_walk
from .source import DC_OPS, SW_OPS, Insn, Source, Subject

MAINTENANCE = ("dc", "ic", "tlbi")
BARRIERS = ("dsb", "isb", "dmb")
_SYSREG = re.compile(r"^(sctlr|mair|tcr|ttbr\d*)(_|$)", re.I)
_C_SYSREG_WRITE = re.compile(r"^\s*(write_(sctlr|mair|tcr|ttbr0)|WRITE_SYSREG)\s*\(.*\)\s*;\s*$")
_ASM_STRING = re.compile(r'(__asm__\s+(?:volatile\s*)?\(\s*)"((?:[^"\\]|\\.)*)"')
_MAIR_BYTE = re.compile(r"0x([0-9a-fA-F]{2})(ull)?(\s*<<\s*\(\s*8\s*\*\s*)(\w+)(\s*\))")
_ATTR_INDEX = re.compile(r"\b(DESC_ATTR|ATTR_INDX)\((\w+)\)")
_CALL = re.compile(r"^(\s*)(\w+)\s*\((.*)\)\s*;\s*$")
# MAIR attribute bytes (ARM ARM, MAIR_ELx): what DRAM or the UART is mapped as.
MAIR_WRITE_THROUGH = "bb"  # Normal, inner/outer write-through non-transient, RW-allocate
MAIR_NON_CACHEABLE = "44"  # Normal, inner/outer non-cacheable
MAIR_DEVICE = "00"  # Device-nGnRnE
MAIR_WRITE_BACK = "ff"  # Normal, inner/outer write-back non-transient, RW-allocate


def _deleted(ins: Insn) -> str:
    return f"/* mutant: '{ins.text}' deleted */"


def _c_deleted(code: str, keep: str = "(void)0;") -> str:
    """A C statement replaced by one that does nothing (still a statement: an `if` above
    keeps its body, and no warning about an empty one)."""
    indent = code[: len(code) - len(code.lstrip())]
    return f"{indent}{keep}  /* mutant: '{code.strip()}' deleted */"


def _asm_strings(src: Source, i: int) -> Iterator[tuple[re.Match[str], list[str]]]:
    """Inline asm strings on a C line and the instructions each holds."""
    if src.asm or not src.live[i]:
        return
    for m in _ASM_STRING.finditer(src.lines[i]):
        parts = [p.strip() for p in re.split(r"\\n\\t|\\n|;", m.group(2))]
        yield m, [p for p in parts if p]


def _delete_insns(op: str, wanted: Callable[[str, list[str]], bool], kind: str, src: Source) -> Iterator[Edit]:
    for i in range(len(src.lines)):
        ins = src.insn(i)
        if ins is not None and wanted(ins.mnemonic, list(ins.operands)):
            yield line_edit(op, src, i, with_insn(src, i, ins, _deleted(ins)), f"delete {kind} '{ins.text}'")
        for m, parts in _asm_strings(src, i):
            for k, part in enumerate(parts):
                words = part.replace(",", " ").split()
                if wanted(words[0], words[1:]):
                    kept = "\\n\\t".join(parts[:k] + parts[k + 1 :])
                    line = src.lines[i]
                    new = line[: m.start()] + f'{m.group(1)}"{kept}"' + line[m.end() :]
                    yield line_edit(op, src, i, new, f"delete {kind} '{part}' (inline asm)")


def delete_maintenance(subject: Subject, src: Source) -> Iterator[Edit]:
    """Each dc/ic/tlbi instruction, deleted (asm and inline asm)."""
    yield from _delete_insns("delete-maintenance", lambda mn, _: mn in MAINTENANCE, "cache/TLB maintenance", src)


def delete_barrier(subject: Subject, src: Source) -> Iterator[Edit]:
    """Each dsb/isb/dmb, deleted."""
    yield from _delete_insns("delete-barrier", lambda mn, _: mn in BARRIERS, "barrier", src)


def delete_sysreg_write(subject: Subject, src: Source) -> Iterator[Edit]:
    """Each write of SCTLR/MAIR/TCR/TTBR, deleted: `msr` in asm, a write accessor in C."""
    yield from _delete_insns(
        "delete-sysreg-write",
        lambda mn, ops: mn == "msr" and bool(ops) and bool(_SYSREG.match(ops[0])),
        "system-register write",
        src,
    )
    if src.asm:
        return
    for i, code in enumerate(src.code):
        m = _CALL.match(code) if src.live[i] and _C_SYSREG_WRITE.match(code) else None
        if m:  # the value is still computed (no unused helper), only the write goes
            value = _split_args(m.group(3))[-1]
            yield line_edit(
                "delete-sysreg-write",
                src,
                i,
                _c_deleted(code, f"(void)({value});"),
                f"delete system-register write '{code.strip()}'",
            )


def swap_dc(subject: Subject, src: Source) -> Iterator[Edit]:
    """Each `dc` operation replaced by each of its siblings: by VA (civac, cvac, cvau, ivac)
    or by set/way (cisw, csw, isw: a clean without its invalidate, and the reverse)."""
    for i in range(len(src.lines)):
        ins = src.insn(i)
        if ins is None or ins.mnemonic != "dc" or not ins.operands:
            continue
        family = next((f for f in (DC_OPS, SW_OPS) if ins.operands[0] in f), None)
        if family is None:
            continue
        for other in family:
            if other != ins.operands[0]:
                text = f"dc      {', '.join((other,) + ins.operands[1:])}"
                yield line_edit("swap-dc", src, i, with_insn(src, i, ins, text), f"'{ins.text}' -> 'dc {other}'")


def line_size(subject: Subject, src: Source) -> Iterator[Edit]:
    """The D-cache line size a routine computes from CTR_EL0, halved and doubled."""
    for i, code in enumerate(src.code):
        if not src.live[i] or "ctr_el0" not in code.lower():
            continue
        if not src.asm:  # C: `N << (CTR_EL0.DminLine)`
            m = re.search(r"\b(\d+)(u?ll|u|ull)?(\s*<<)", code)
            if m:
                n = int(m.group(1))
                for factor, name in ((0.5, "halved"), (2, "doubled")):
                    new = src.lines[i].replace(m.group(0), f"{int(n * factor)}{m.group(2) or ''}{m.group(3)}", 1)
                    yield line_edit("line-size", src, i, new, f"D-cache line size {name} ({code.strip()})")
            continue
        for j in range(i + 1, min(i + 5, len(src.lines))):  # asm: mov REG, #N; lsl REG, REG, ...
            ins = src.insn(j)
            if ins is not None and ins.mnemonic == "mov" and len(ins.operands) == 2 and ins.operands[1].startswith("#"):
                n = int(ins.operands[1][1:], 0)
                for value, name in ((n // 2, "halved"), (n * 2, "doubled")):
                    text = f"mov     {ins.operands[0]}, #{value}"
                    yield line_edit(
                        "line-size",
                        src,
                        j,
                        with_insn(src, j, ins, text),
                        f"D-cache line size {name} ('{ins.text}' -> '{text.split(None, 1)[0]} "
                        f"{ins.operands[0]}, #{value}')",
                    )
                break


def _range_loop(src: Source, i: int) -> tuple[str, str, str] | None:
    """(start, end, line) registers of a by-VA loop whose start is rounded down on line i:
    `sub MASK, LINE, #1` before it, `bic S, S, MASK` here, `cmp S, END` after."""
    ins = src.insn(i)
    if ins is None or ins.mnemonic != "bic" or len(ins.operands) != 3 or ins.operands[0] != ins.operands[1]:
        return None
    block = src.block_of(i)
    lo = block.start if block else max(0, i - 20)
    line = None
    for j in range(i - 1, lo - 1, -1):
        prev = src.insn(j)
        if prev and prev.mnemonic == "sub" and prev.operands[0] == ins.operands[2] and prev.operands[-1] == "#1":
            line = prev.operands[1]
            break
    hi = block.end if block else min(len(src.lines), i + 20)
    for j in range(i + 1, hi):
        nxt = src.insn(j)
        if nxt and nxt.mnemonic == "cmp" and nxt.operands[:1] == (ins.operands[0],) and line:
            return ins.operands[0], nxt.operands[1], line
    return None


def _line_expr(src: Source) -> str:
    """A C expression for the D-cache line: the file's CTR_EL0 helper, else 64 (Cortex-A53)."""
    m = re.search(r"(\w+)\s*\(void\)\s*\{[^}]*ctr_el0", "\n".join(src.code), re.S)
    return f"{m.group(1)}()" if m else "64"


def _split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += (ch in "({[") - (ch in ")}]")
        cur += ch
    out.append(cur.strip())
    return out


def shorten_range(subject: Subject, src: Source) -> Iterator[Edit]:
    """Each maintained range one line short at its start or its end: in every by-VA loop,
    at every C call of a range routine, in every range a C table records."""
    for i in range(len(src.lines)):
        loop = _range_loop(src, i)
        if loop is not None:
            start, end, line = loop
            indent = src.lines[i][: len(src.lines[i]) - len(src.lines[i].lstrip())] or "    "
            label = src.insn(i)
            pre = label.pre if label else ""
            pad = " " * len(pre) if pre.strip() else indent
            for reg, mn, where in ((start, "add", "start"), (end, "sub", "end")):
                yield line_edit(
                    "shorten-range",
                    src,
                    i,
                    [src.lines[i], f"{pad}{mn}     {reg}, {reg}, {line}"],
                    f"maintenance loop one line short at the {where} ('{mn} {reg}, {reg}, {line}')",
                )
    if src.asm:
        return
    expr = _line_expr(src)
    for i, code in enumerate(src.code):
        if not src.live[i]:
            continue
        m = _CALL.match(code)
        if m and m.group(2) in subject.range_params:
            args = _split_args(m.group(3))
            for pos, sign, where in zip(subject.range_params[m.group(2)], "+-", ("start", "end")):
                new_args = list(args)
                new_args[pos] = f"{args[pos]} {sign} {expr}"
                yield line_edit(
                    "shorten-range",
                    src,
                    i,
                    f"{m.group(1)}{m.group(2)}({', '.join(new_args)});",
                    f"{m.group(2)}(): range one line short at the {where}",
                )
        if not any(re.search(r"\(struct\s+" + s + r"\)", code) for s in _range_structs(subject)):
            continue
        stop, stmt = src.c_statement(i)
        for r in _range_literals(subject, stmt):
            a, b = r.group(2).strip(), r.group(3).strip()
            for new, where in (((f"{a} + {expr}", b), "start"), ((a, f"{b} - {expr}"), "end")):
                text = stmt.replace(r.group(0), f"{r.group(1)}{{ {new[0]}, {new[1]} }}", 1)
                yield Edit(
                    "shorten-range",
                    src.path,
                    i,
                    src.lines[i:stop],
                    (text,),
                    f"recorded range one line short at the {where}",
                )


def _range_literals(subject: Subject, code: str) -> Iterator[re.Match[str]]:
    """`(struct R){ start, end }` where struct R is a (start, end) range type of the subject."""
    for name in _range_structs(subject):
        yield from re.finditer(r"(\(struct\s+" + name + r"\)\s*)\{\s*([^,{}]+),\s*([^{}]+?)\s*\}", code)


def _range_structs(subject: Subject) -> list[str]:
    names = []
    for src in subject.files:
        names += re.findall(r"struct\s+(\w+)\s*\{\s*u?int(?:64|ptr)_t\s+start\s*,\s*end\s*;\s*\}", "\n".join(src.code))
    return sorted(set(names))


def _is_clean(subject: Subject, ins: Insn | None) -> bool:
    if ins is None:
        return False
    if ins.mnemonic == "dc":
        return bool(ins.operands) and ins.operands[0].startswith("c")
    return ins.mnemonic in subject.clean_names


def ic_before_clean(subject: Subject, src: Source) -> Iterator[Edit]:
    """An I-cache invalidate moved before the D-side clean it follows in the same routine
    (to just after the barrier that precedes the clean, or to the routine's start)."""
    for b in src.blocks:
        idx = range(b.start + 1, b.end - 1)
        cleans = [i for i in idx if _is_clean(subject, src.insn(i))]
        ics = [i for i in idx if (ins := src.insn(i)) is not None and ins.mnemonic == "ic"]
        for k in ics:
            before = [c for c in cleans if c < k]
            if not before:
                continue
            first = before[0]
            at = b.start + 1
            for j in range(first - 1, b.start, -1):
                ins = src.insn(j)
                if ins is not None and ins.mnemonic in BARRIERS:
                    at = src.statement_end(j)
                    break
            unit_end = src.statement_end(k)
            moved = list(src.lines[k:unit_end])
            old = src.lines[at:unit_end]
            new = moved + list(src.lines[at:k])
            ic = src.insn(k)
            yield Edit(
                "ic-before-clean",
                src.path,
                at,
                tuple(old),
                tuple(new),
                f"'{ic.text if ic else 'ic'}' moved before the D-side clean (routine {b.name})",
            )


def no_invalidate_before_enable(subject: Subject, src: Source) -> Iterator[Edit]:
    """The invalidate by VA done before the MMU and caches go on, dropped: an asm use of an
    invalidating macro, or a C call of an invalidating routine."""
    for i in range(len(src.lines)):
        ins = src.insn(i)
        if ins is not None and ins.mnemonic in subject.inval_direct:
            yield line_edit(
                "no-invalidate-before-enable",
                src,
                i,
                with_insn(src, i, ins, _deleted(ins)),
                f"drop '{ins.text}' before the enable",
            )
        if not src.asm and src.live[i]:
            m = _CALL.match(src.code[i])
            if m and m.group(2) in subject.inval_direct:
                yield line_edit(
                    "no-invalidate-before-enable",
                    src,
                    i,
                    _c_deleted(src.code[i]),
                    f"drop {m.group(2)}() before the enable",
                )


def map_attribute(subject: Subject, src: Source) -> Iterator[Edit]:
    """DRAM mapped write-through, Non-cacheable or Device, and the UART Normal: through the
    MAIR attribute byte, or the descriptor's AttrIndx."""
    if src.asm:
        return
    for i, code in enumerate(src.code):
        if not src.live[i]:
            continue
        for m in _MAIR_BYTE.finditer(code):
            name = m.group(4).upper()
            choices: tuple[tuple[str, str], ...]
            if "NORMAL" in name:
                choices = (
                    (MAIR_WRITE_THROUGH, "DRAM write-through"),
                    (MAIR_NON_CACHEABLE, "DRAM Non-cacheable"),
                    (MAIR_DEVICE, "DRAM Device-nGnRnE"),
                )
            elif "DEVICE" in name:
                choices = ((MAIR_WRITE_BACK, "UART Normal write-back"),)
            else:
                continue
            for byte, what in choices:
                tail = f"{m.group(2) or ''}{m.group(3)}{m.group(4)}{m.group(5)}"
                new = src.lines[i].replace(m.group(0), f"0x{byte}{tail}", 1)
                yield line_edit("map-attribute", src, i, new, f"{what} (MAIR byte {m.group(4)} = 0x{byte})")
        for m in _ATTR_INDEX.finditer(code):
            name = m.group(2)
            if "NORMAL" in name.upper():
                other, what = name.upper().replace("NORMAL", "DEVICE"), "DRAM Device (AttrIndx)"
            elif "DEVICE" in name.upper():
                other, what = name.upper().replace("DEVICE", "NORMAL"), "UART Normal (AttrIndx)"
            else:
                continue
            new = src.lines[i].replace(m.group(0), f"{m.group(1)}({other})", 1)
            yield line_edit("map-attribute", src, i, new, what)


def unrecord_range(subject: Subject, src: Source) -> Iterator[Edit]:
    """A destination range left out of the final clean: a call that records a range, or an
    assignment into a table of (start, end) ranges, deleted."""
    if src.asm:
        return
    structs = _range_structs(subject)
    for i in range(len(src.code)):
        if not src.live[i] or not src.code[i].strip():
            continue
        end, code = src.c_statement(i)
        m = _CALL.match(code)
        records = bool(m and m.group(2).endswith("note_range"))
        records |= any(re.match(r"^\s*\w+\s*\[[^]]*\]\s*=\s*\(struct\s+" + s + r"\)", code) for s in structs)
        if records:
            yield Edit(
                "unrecord-range",
                src.path,
                i,
                src.lines[i:end],
                (_c_deleted(code),),
                f"range not recorded: '{code.strip()}'",
            )


def store_after_clean(subject: Subject, src: Source) -> Iterator[Edit]:
    """A store into a cleaned range after the clean: in asm, below the stack pointer (the
    loader's own, cleaned, range) after the barrier that completes the last clean before an
    SCTLR write; in C, to the first byte of a range right after the call that cleaned it."""
    for b in src.blocks:
        idx = range(b.start + 1, b.end - 1)
        cleans = [i for i in idx if _is_clean(subject, src.insn(i))]
        writes = [
            i
            for i in idx
            if (ins := src.insn(i)) is not None
            and ins.mnemonic == "msr"
            and ins.operands
            and ins.operands[0].lower().startswith("sctlr")
        ]
        if not cleans or not writes or writes[-1] < cleans[-1]:
            continue
        for j in range(cleans[-1] + 1, writes[-1]):
            ins = src.insn(j)
            if ins is not None and ins.mnemonic == "dsb":
                at = src.statement_end(j)
                old = src.lines[j:at]
                store = "    str     xzr, [sp, #-16]        /* mutant: a store after the final clean */"
                yield Edit(
                    "store-after-clean",
                    src.path,
                    j,
                    tuple(old),
                    tuple(old) + (store,),
                    f"store below sp after the final clean (routine {b.name})",
                )
                break
    if src.asm:
        return
    for i, code in enumerate(src.code):
        m = _CALL.match(code) if src.live[i] else None
        if (
            m
            and m.group(2) in subject.clean_names
            and m.group(2) in subject.range_params
            and m.group(2) not in subject.sctlr_names
        ):  # caches still on after the call
            first = _split_args(m.group(3))[subject.range_params[m.group(2)][0]]
            store = f"{m.group(1)}*(volatile char *)({first}) = *(volatile char *)({first});"
            yield line_edit(
                "store-after-clean",
                src,
                i,
                [src.lines[i], store],
                f"store to the range's first byte after {m.group(2)}()",
            )


Operator = Callable[[Subject, Source], Iterator[Edit]]
OPERATORS: dict[str, Operator] = {
    "delete-maintenance": delete_maintenance,
    "delete-barrier": delete_barrier,
    "delete-sysreg-write": delete_sysreg_write,
    "swap-dc": swap_dc,
    "line-size": line_size,
    "shorten-range": shorten_range,
    "ic-before-clean": ic_before_clean,
    "no-invalidate-before-enable": no_invalidate_before_enable,
    "map-attribute": map_attribute,
    "unrecord-range": unrecord_range,
    "store-after-clean": store_after_clean,
    "setway-walk": setway_walk,
}

"""Mutant generation for `harness mutate`, host only: the operators on a small loader whose
sites are counted by hand, and on the real subjects (every operator finds sites, ids are
stable, each mutant is one edit, every patch applies), the notes file and the score line.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.mutate.generate import REFERENCE_FILES, SEL4_FILES, Mutant, load_subject, mutants, sample, source_text
from harness.mutate.operators import OPERATORS
from harness.mutate.source import Source, Subject
from harness.mutate.table import EQUIVALENT_HEADING, MutantResult, read_notes, score
from harness.mutate.trial import TargetVerdict
from harness.sel4.sources import TARBALL, upstream_dir
from harness.testing import missing_input, require_tool

pytestmark = pytest.mark.host

TOY_ASM = r"""
.macro line_size reg, tmp
    mrs     \tmp, ctr_el0
    ubfx    \tmp, \tmp, #16, #4
    mov     \reg, #4
    lsl     \reg, \reg, \tmp
.endm

/* void clean_off(uintptr_t start, uintptr_t end): dc cvac in a comment is no site */
BEGIN_FUNC(clean_off)
    line_size x2, x3
    sub     x3, x2, #1
    bic     x0, x0, x3
1:  cmp     x0, x1
    b.hs    2f
    dc      civac, x0           /* clean and invalidate */
    add     x0, x0, x2
    b       1b
2:  dsb     sy
    ic      iallu
    dsb     nsh
    isb
    mrs     x4, sctlr_el1
    bic     x4, x4, #1
    msr     sctlr_el1, x4
    isb
    ret
END_FUNC(clean_off)

BEGIN_FUNC(inval)
    line_size x2, x3
    sub     x3, x2, #1
    bic     x0, x0, x3
1:  cmp     x0, x1
    b.hs    2f
    dc      ivac, x0
    add     x0, x0, x2
    b       1b
2:  dsb     sy
    ret
END_FUNC(inval)

#ifdef BUG_EXTRA
    dsb     sy
#endif
"""

TOY_C = r"""
struct range {
    uint64_t start, end;
};
void clean_off(uintptr_t start, uintptr_t end);
void inval(uintptr_t start, uintptr_t end);
#define MAIR ((0x00ull << (8 * IDX_DEVICE)) | (0xffull << (8 * IDX_NORMAL)))
static struct range ranges[4];

void enable(void)
{
    inval(a, b);
    write_mair(MAIR);
    /* tlbi vmalle1 here is a comment */
    __asm__ volatile("tlbi vmalle1\n\tdsb sy\n\tisb" ::: "memory");
    attrs = ATTR_INDX(IDX_NORMAL) | ATTR_INDX(IDX_DEVICE);
}

void done(void)
{
    ranges[0] = (struct range){ a, b };
    clean_off(x, y);
}
"""

# Counted by hand from the two files above.
TOY_COUNTS = {
    "delete-maintenance": 4,  # dc civac, ic iallu, dc ivac; tlbi (inline)
    "delete-barrier": 7,  # dsb, dsb, isb, isb; dsb; dsb, isb (inline); not BUG_EXTRA's
    "delete-sysreg-write": 2,  # msr sctlr_el1; write_mair
    "swap-dc": 6,  # two dc sites x three siblings
    "line-size": 2,  # mov #4 -> #2, #8
    "shorten-range": 10,  # 2 loops x 2 ends; 2 calls x 2; the range literal x 2
    "ic-before-clean": 1,
    "no-invalidate-before-enable": 1,  # the C call of inval()
    "map-attribute": 6,  # MAIR normal x3, device x1; AttrIndx x2
    "unrecord-range": 1,
    "store-after-clean": 1,  # asm only: clean_off turns the caches off itself
}


def toy() -> Subject:
    return Subject("toy", Path("/nonexistent"), [Source.parse("toy.S", TOY_ASM), Source.parse("toy.c", TOY_C)])


def test_toy_counts_per_operator() -> None:
    found = Counter(m.operator for m in mutants(toy()))
    assert dict(found) == TOY_COUNTS


def test_toy_subject_learns_its_routines() -> None:
    s = toy()
    assert s.clean_names == {"clean_off"}
    assert s.inval_names == s.inval_direct == {"inval"}
    assert s.sctlr_names == {"clean_off"}
    assert s.range_params == {"clean_off": (0, 1), "inval": (0, 1)}


def test_toy_edits_are_what_they_say() -> None:
    by_what = {m.edit.what: m for m in mutants(toy())}
    m = by_what["store below sp after the final clean (routine clean_off)"]
    after = m.apply(source_text(toy(), "toy.S")).splitlines()
    assert after[m.edit.start] == "2:  dsb     sy" and after[m.edit.start + 1].strip().startswith("str")
    moved = by_what["'ic iallu' moved before the D-side clean (routine clean_off)"]
    new = moved.apply(source_text(toy(), "toy.S")).splitlines()
    assert new.index("    ic      iallu") < new.index("    dc      civac, x0           /* clean and invalidate */")


@pytest.fixture(scope="module")
def real() -> dict[str, Subject]:
    if not (upstream_dir() / TARBALL).is_file():
        missing_input(
            str(upstream_dir() / TARBALL),
            "the sel4 subject is our series applied to it",
            "put the shared/ folder beside the repository",
        )
    return {"sel4": load_subject("sel4"), "reference": load_subject("reference")}


def test_every_operator_finds_sites_in_both_subjects(real: dict[str, Subject]) -> None:
    total = 0
    for name, subject in real.items():
        found = Counter(m.operator for m in mutants(subject))
        # the reference loader closes by VA only: no set/way sweep to mutate
        expected = set(OPERATORS) - ({"setway-walk"} if name == "reference" else set())
        assert set(found) == expected, (name, found)
        total += sum(found.values())
    assert total >= 60


SETWAY_KINDS = (
    "levels from CLIDR_EL1.LoUIS instead of LoC",
    "levels from CLIDR_EL1.LoUU instead of LoC",
    "one level fewer than CLIDR_EL1.LoC",
    "the walk starts at L2",
    "step 2: a level skipped",
    "the level never selected",
    "the set field's shift one short",
    "the set field's shift one long",
    "the way shift from a 64-bit clz",
    "the highest way never visited",
    "the highest set never visited",
    "'b.hs 3b' -> 'b.hi'",
    "'b.hs 2b' -> 'b.hi'",
)


def test_setway_sweep_mutants_cover_every_way_to_miss_the_hierarchy(real: dict[str, Subject]) -> None:
    """A wrong level count, a level skipped, an off-by-one in sets or ways, misplaced operand
    fields, the level never selected: each exactly once, each built with the set/way close."""
    sweep = [m for m in mutants(real["sel4"]) if m.operator == "setway-walk"]
    for kind in SETWAY_KINDS:
        assert sum(kind in m.edit.what for m in sweep) == 1, kind
    assert len(sweep) == len(SETWAY_KINDS)
    assert {m.clean for m in sweep} == {"setway"}


def test_ids_are_unique_and_stable(real: dict[str, Subject], tmp_path: Path) -> None:
    for name, subject in real.items():
        ids = [m.id for m in mutants(subject)]
        assert len(ids) == len(set(ids))
        assert ids == [m.id for m in mutants(load_subject(name, subject.root))]
        # a comment added at the top of every file moves every line, not one id
        root = tmp_path / name
        for f in subject.files:
            (root / f.path).parent.mkdir(parents=True, exist_ok=True)
            (root / f.path).write_text("/* moved */\n" + source_text(subject, f.path))
        moved = [m.id for m in mutants(load_subject(name, root))]
        assert moved == ids


def _one_edit(m: Mutant, before: list[str], after: list[str]) -> None:
    ops = [op for op in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes() if op[0] != "equal"]
    lo, hi = m.edit.start, m.edit.start + len(m.edit.old)
    assert all(lo <= i1 and i2 <= hi for _, i1, i2, _, _ in ops), m.id
    if m.operator == "ic-before-clean":  # a move: the same lines, in another order
        assert sorted(before[lo:hi]) == sorted(after[lo:hi]) and before != after, m.id
    else:
        assert len(ops) == 1, (m.id, ops)


def test_each_mutant_is_one_edit_and_its_patch_applies(real: dict[str, Subject], tmp_path: Path) -> None:
    git = require_tool("git", "the mutant patches are applied with git apply", "apt-get install git")
    for name, subject in real.items():
        root = tmp_path / name
        for f in subject.files:
            (root / f.path).parent.mkdir(parents=True, exist_ok=True)
            (root / f.path).write_text(source_text(subject, f.path))
        env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path))
        for m in mutants(subject):
            text = source_text(subject, m.path)
            _one_edit(m, text.splitlines(), m.apply(text).splitlines())
            patch = tmp_path / "m.patch"
            patch.write_text(m.patch(text))
            proc = subprocess.run(
                [git, "apply", "--check", str(patch)], cwd=root, capture_output=True, text=True, env=env
            )
            assert proc.returncode == 0, (m.id, proc.stderr)


def test_only_compiled_early_mmu_code_is_mutated(real: dict[str, Subject]) -> None:
    for subject in real.values():
        for m in mutants(subject):
            src = next(f for f in subject.files if f.path == m.path)
            changed = [
                i
                for i in range(m.edit.start, m.edit.start + len(m.edit.old))
                if src.lines[i].strip() and not src.in_comment[i]
            ]
            assert changed and any(src.live[i] for i in changed), m.id
            block = src.block_of(m.edit.start)
            assert block is None or block.name != "jump_to_entry", m.id
            touched = set(m.edit.old) ^ set(m.edit.new)
            assert not any("BUG_" in line for line in touched), m.id
    hooks = [p for p, h in SEL4_FILES if h]
    assert {m.path for m in mutants(real["sel4"])} & set(hooks), "the hooks have no mutant"
    assert {m.path for m in mutants(real["reference"])} <= set(REFERENCE_FILES)


def test_sample_is_fixed_and_spans_every_operator(real: dict[str, Subject]) -> None:
    every = [m for s in real.values() for m in mutants(s)]
    picked = sample(every, 24)
    assert sorted(m.id for m in picked) == sorted(m.id for m in sample(list(reversed(every)), 24))
    assert {(m.operator, m.subject) for m in picked} == {(m.operator, m.subject) for m in every}
    assert len(picked) >= 24


NOTES = f"""# Mutation testing

{EQUIVALENT_HEADING}

- `toy:swap-dc:toy.S:1` — a clean and invalidate is a clean and more;
  the lines are not read again.
- `toy:line-size:toy.S:2` -- stepping by half a line maintains every line twice.

## Why the survivors survive

- `toy:x:y:3` — elsewhere.
"""


def test_notes_are_read_per_section(tmp_path: Path) -> None:
    notes = tmp_path / "mutation.md"
    notes.write_text(NOTES)
    eq = read_notes(notes, EQUIVALENT_HEADING)
    assert eq == {
        "toy:swap-dc:toy.S:1": "a clean and invalidate is a clean and more; the lines are not read again.",
        "toy:line-size:toy.S:2": "stepping by half a line maintains every line twice.",
    }
    notes.write_text(NOTES + "\n" + EQUIVALENT_HEADING + "\n- toy:no-backticks — why\n")
    with pytest.raises(HarnessError, match="line 14"):
        read_notes(notes, EQUIVALENT_HEADING)


def test_score_line_and_what_counts() -> None:
    ms = mutants(toy())[:6]
    tv = TargetVerdict
    results = [
        MutantResult(ms[0], [tv("a", "killed", ["cache-clean"], "x")]),
        MutantResult(ms[1], [tv("a", "boot", [], "timeout")]),
        MutantResult(ms[2], [tv("a", "survived")]),
        MutantResult(ms[3], [tv("a", "survived")], equivalent="harmless"),
        MutantResult(ms[4], [tv("a", "stillborn", [], "error: x")]),
        MutantResult(ms[5], [tv("a", "killed", ["icache"], "y")], equivalent="wrong claim"),
    ]
    assert [r.verdict for r in results] == ["killed", "killed (boot)", "survived", "equivalent", "stillborn", "killed"]
    assert results[5].contradicted and not results[0].contradicted
    assert score(results).line() == "mutation score: 3/4 (1 equivalent, 6 mutants) = 75.0 %"


def test_rescore_applies_todays_notes(tmp_path: Path) -> None:
    """A recorded run judged again: a mutant listed as equivalent since leaves the score."""
    from harness.mutate.cli import load_run
    from harness.mutate.table import record

    ms = mutants(toy())[:3]
    tv = TargetVerdict
    results = [
        MutantResult(ms[0], [tv("qemu-virt", "killed", ["cache-clean"], "x", 1.0)]),
        MutantResult(ms[1], [tv("qemu-virt", "survived", [], "", 1.0)]),
        MutantResult(ms[2], [tv("qemu-virt", "survived", [], "", 1.0)]),
    ]
    run = tmp_path / "mutation.json"
    run.write_text(json.dumps(record(results, [], ["qemu-virt"], {})))
    notes = tmp_path / "mutation.md"
    notes.write_text(f"{EQUIVALENT_HEADING}\n\n- `{ms[2].id}` — harmless by the architecture.\n")
    again, controls, targets = load_run(run, notes)
    assert targets == ["qemu-virt"] and controls == []
    assert [r.verdict for r in again] == ["killed", "survived", "equivalent"]
    assert score(again).line() == "mutation score: 1/2 (1 equivalent, 3 mutants) = 50.0 %"
    run.write_text("{}")
    with pytest.raises(HarnessError, match="not a mutation record"):
        load_run(run, notes)

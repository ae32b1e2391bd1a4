"""`harness mutate`: generate one-defect mutants of the loaders, run each under the
cache model to the hand-off, print which check killed it and the mutation score."""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HarnessError
from ..images.build import ROOT
from .build import mutate_root
from .generate import SUBJECTS, Mutant, load_subject, mutants, sample
from .operators import OPERATORS
from .trial import Runner, run_all, run_controls
from .table import EQUIVALENT_HEADING, SURVIVOR_HEADING, MutantResult, read_notes, record, score, summary, table

if TYPE_CHECKING:
    from .trial import Control

NOTES = ROOT / "docs" / "mutation.md"
# EL1 and EL2 for both subjects; EL3 (the reference loader only) reaches its EL3 code
DEFAULT_TARGETS = "qemu-virt,qemu-virt-el2,qemu-imx8mp-el3"


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "mutate",
        help="mutation testing: one-defect mutants of the loaders under "
        "the cache model; which check kills each; the score",
        description=__doc__,
    )
    p.add_argument(
        "--subject",
        choices=[*SUBJECTS, "all"],
        default="all",
        help="our seL4_tools series (sel4), the reference loader (reference), or both",
    )
    p.add_argument("--targets", default=DEFAULT_TARGETS, help="comma-separated QEMU targets")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATTERN",
        help="mutant ids matching this glob (or containing this text); repeatable",
    )
    p.add_argument("--list", action="store_true", help="list the mutants and stop (no build, no boot)")
    p.add_argument("--sample", type=int, metavar="N", help="a fixed sample of about N mutants spanning every operator")
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        help="mutants in parallel: 1 only (one boot at a time per process; run several "
        "'harness mutate --only ... --out DIR' processes to spread a run)",
    )
    p.add_argument(
        "--out", type=Path, help="folder for the table, JSON and boot results (default: build/mutate/runs/STAMP)"
    )
    p.add_argument(
        "--notes",
        type=Path,
        default=NOTES,
        help="equivalent mutants and survivor explanations (default docs/mutation.md)",
    )
    p.add_argument(
        "--rescore",
        type=Path,
        metavar="JSON",
        help="no boots: print the table and score of a recorded run (mutation.json) "
        "under the current notes (after an equivalent was added, say)",
    )


def select(all_mutants: list[Mutant], only: list[str], n: int | None) -> list[Mutant]:
    chosen = all_mutants
    if only:
        chosen = [m for m in chosen if any(fnmatch.fnmatchcase(m.id, p) or (p in m.id) for p in only)]
        if not chosen:
            raise HarnessError(
                f"no mutant matches {', '.join(only)}", field="--only", fix="list the ids with 'harness mutate --list'"
            )
    if n is not None:
        if n < 1:
            raise HarnessError(f"--sample {n}", field="--sample", fix="give a positive number")
        chosen = sample(chosen, n)
    return chosen


def _list(chosen: list[Mutant], equivalents: dict[str, str]) -> int:
    for m in chosen:
        eq = "  [equivalent]" if m.id in equivalents else ""
        print(f"{m.id:62} {m.path}:{m.line}  {m.edit.what}{eq}")
    counts = {op: sum(m.operator == op for m in chosen) for op in OPERATORS}
    print("per operator: " + ", ".join(f"{op} {n}" for op, n in counts.items() if n))
    print(f"{len(chosen)} mutants ({sum(m.id in equivalents for m in chosen)} declared equivalent)")
    return 0


def _log(msg: str) -> None:
    print(f"mutate: {msg}", file=sys.stderr, flush=True)


def load_run(path: Path, notes: Path) -> tuple[list[MutantResult], list["Control"], list[str]]:
    """A recorded run (mutation.json) as results judged with today's notes."""
    from .edits import Edit
    from .trial import Control, TargetVerdict

    try:
        doc = json.loads(path.read_text())
        targets = [str(t) for t in doc["targets"]]

        def verdicts(d: dict[str, Any]) -> list[TargetVerdict]:
            return [
                TargetVerdict(
                    t, str(v["status"]), [str(c) for c in v["checks"]], str(v["message"]), float(v["seconds"])
                )
                for t, v in d.items()
            ]

        controls = [Control(c["name"], c["subject"], verdicts(c["targets"])) for c in doc["controls"]]
        equivalents, whys = read_notes(notes, EQUIVALENT_HEADING), read_notes(notes, SURVIVOR_HEADING)
        results = [
            MutantResult(
                Mutant(r["id"], r["subject"], Edit(r["operator"], r["file"], r["line"] - 1, (), (), r["edit"])),
                verdicts(r["targets"]),
                equivalents.get(r["id"]),
                whys.get(r["id"]),
            )
            for r in doc["mutants"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HarnessError(
            f"not a mutation record: {exc}", file=path, field="--rescore", fix="give the mutation.json a run wrote"
        ) from None
    return results, controls, targets


def rescore(path: Path, notes: Path) -> int:
    """The table and score of a recorded run, judged with today's notes."""
    results, controls, targets = load_run(path, notes)
    print(table(results, targets))
    print()
    print("\n".join(summary(results, controls)))
    print(f"rescored {path} with {notes}")
    print(score(results).line())
    return 0


def run(args: argparse.Namespace) -> int:
    if args.rescore is not None:
        return rescore(args.rescore, args.notes)
    names = list(SUBJECTS) if args.subject == "all" else [args.subject]
    subjects = {n: load_subject(n) for n in names}
    every = [m for s in subjects.values() for m in mutants(s)]
    equivalents = read_notes(args.notes, EQUIVALENT_HEADING)
    whys = read_notes(args.notes, SURVIVOR_HEADING)
    known = {m.id for m in every}
    for ident in sorted(set(equivalents) | set(whys)):
        if ident not in known and ident.split(":")[0] in names:
            _log(f"warning: {args.notes} names '{ident}', which is no longer generated")
    if args.jobs != 1:
        raise HarnessError(
            f"-j {args.jobs}: one boot at a time per process (labgrid's step tracking is process-wide)",
            field="-j",
            fix="use -j 1, or split the run: several 'harness mutate --only PATTERN --out DIR'",
        )
    chosen = select(every, args.only, args.sample)
    if args.list:
        return _list(chosen, equivalents)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    out = args.out or mutate_root() / "runs" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    runner = Runner(targets, out / "boots")
    try:
        controls = run_controls(runner, subjects, _log)
        bad = [c for c in controls if not c.ok]
        if bad:
            for c in bad:
                for v in c.verdicts:
                    if v.status != "survived":
                        print(f"control '{c.name}' on {v.target}: {v.status} {','.join(v.checks)}: {v.message}")
            raise HarnessError(
                "a control (unmutated loader) fails: every kill would be a false alarm",
                field="controls",
                fix="fix the loader or the model first, then rerun",
            )
        verdicts = run_all(runner, chosen, subjects, _log)
    finally:
        runner.close()
    results = [MutantResult(m, verdicts[m.id], equivalents.get(m.id), whys.get(m.id)) for m in chosen]
    text = table(results, targets)
    lines = summary(results, controls)
    s = score(results)
    doc = record(
        results,
        controls,
        targets,
        {
            "subjects": names,
            "only": args.only,
            "sample": args.sample,
            "jobs": args.jobs,
            "seconds": round(time.monotonic() - started, 1),
            "out": str(out),
        },
    )
    (out / "mutation.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "table.md").write_text(text + "\n\n" + "\n".join(lines) + "\n\n" + s.line() + "\n")
    print(text)
    print()
    print("\n".join(lines))
    print(f"table and JSON: {out} ({doc['run']['seconds']} s)")
    print(s.line())
    return 0

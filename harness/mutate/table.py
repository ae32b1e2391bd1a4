"""The verdict of each mutant over the targets, the table, the score and the JSON record.

A mutant is killed when any target's checks fail it (or its boot never reaches
the hand-off: "killed (boot)", counted apart); it is stillborn when it does not
build (not scored); equivalent only when docs/mutation.md says why the
architecture makes the change harmless (not scored). A mutant declared
equivalent that a check kills is counted killed and flagged: the claim is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import HarnessError
from .generate import Mutant
from .trial import Control, TargetVerdict

_ENTRY = re.compile(r"^- `([^`]+)`\s+(?:—|–|-{1,2})\s+(.+)$")
EQUIVALENT_HEADING = "## Equivalent mutants"
SURVIVOR_HEADING = "## Why the survivors survive"


def read_notes(path: Path, heading: str) -> dict[str, str]:
    """`- \\`ID\\` — text` entries under `heading` in docs/mutation.md (continuation lines
    indented); ids are mutant ids exactly."""
    if not path.is_file():
        return {}
    notes: dict[str, str] = {}
    inside, last = False, None
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("## "):
            inside, last = line.strip() == heading, None
            continue
        if not inside:
            continue
        m = _ENTRY.match(line)
        if m:
            last = m.group(1)
            if last in notes:
                raise HarnessError(
                    f"mutant '{last}' listed twice under '{heading}'",
                    file=path,
                    field=f"line {n}",
                    fix="keep one entry per mutant id",
                )
            notes[last] = m.group(2).strip()
        elif last and line.startswith("  ") and line.strip():
            notes[last] += " " + line.strip()
        elif re.match(r"^- \S+:\S+", line):  # an id without its backticks (prose bullets pass)
            raise HarnessError(
                "entry is not '- `MUTANT-ID` — why'",
                file=path,
                field=f"line {n}",
                fix="write the id in backticks, then a dash and the reason",
            )
    return notes


@dataclass
class MutantResult:
    mutant: Mutant
    verdicts: list[TargetVerdict]
    equivalent: str | None = None  # why, from docs/mutation.md
    why: str | None = None  # a survivor's explanation, from docs/mutation.md

    @property
    def verdict(self) -> str:
        statuses = {v.status for v in self.verdicts}
        if "stillborn" in statuses:
            return "stillborn"
        if "killed" in statuses:
            return "killed"
        if self.equivalent is not None:
            return "equivalent"
        if "boot" in statuses:
            return "killed (boot)"
        return "survived"

    @property
    def contradicted(self) -> bool:
        """Declared equivalent, yet a check fails it."""
        return self.equivalent is not None and self.verdict == "killed"

    @property
    def killed_by(self) -> list[str]:
        return sorted({c for v in self.verdicts for c in v.checks})

    @property
    def first_message(self) -> str:
        for status in ("killed", "boot", "stillborn"):
            for v in self.verdicts:
                if v.status == status:
                    return v.message
        return ""


@dataclass(frozen=True)
class Score:
    killed: int
    killed_by_boot: int
    survived: int
    equivalent: int
    stillborn: int
    total: int

    @property
    def scored(self) -> int:
        return self.total - self.equivalent - self.stillborn

    @property
    def percent(self) -> float:
        return 100.0 * (self.killed + self.killed_by_boot) / self.scored if self.scored else 0.0

    def line(self) -> str:
        return (
            f"mutation score: {self.killed + self.killed_by_boot}/{self.scored} "
            f"({self.equivalent} equivalent, {self.total} mutants) = {self.percent:.1f} %"
        )


def score(results: list[MutantResult]) -> Score:
    count = {
        k: sum(r.verdict == k for r in results)
        for k in ("killed", "killed (boot)", "survived", "equivalent", "stillborn")
    }
    return Score(
        count["killed"],
        count["killed (boot)"],
        count["survived"],
        count["equivalent"],
        count["stillborn"],
        len(results),
    )


def _cell(v: TargetVerdict | None) -> str:
    if v is None:
        return "-"
    if v.status == "killed":
        return ", ".join(v.checks)
    return {"boot": "boot", "survived": "survived", "stillborn": "stillborn"}[v.status]


def _esc(text: str, most: int = 140) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= most else text[: most - 1] + "…"


def table(results: list[MutantResult], targets: list[str]) -> str:
    """Markdown: one row per mutant; per target the checks that failed it."""
    head = ["mutant", "operator", "where", "edit", *targets, "verdict", "first message / why"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        by = {v.target: v for v in r.verdicts}
        if r.verdict == "equivalent":
            note = f"equivalent: {r.equivalent}"
        elif r.verdict == "survived":
            note = r.why or "no explanation recorded in docs/mutation.md"
        else:
            note = r.first_message
        verdict = r.verdict + (" (declared equivalent!)" if r.contradicted else "")
        if r.verdict == "killed":
            verdict += f" by {', '.join(r.killed_by)}"
        m = r.mutant
        rows.append(
            "| "
            + " | ".join(
                [
                    f"`{m.id}`",
                    m.operator,
                    f"{Path(m.path).name}:{m.line}",
                    _esc(m.edit.what, 80),
                    *(_cell(by.get(t)) for t in targets),
                    verdict,
                    _esc(note),
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def summary(results: list[MutantResult], controls: list[Control]) -> list[str]:
    s = score(results)
    lines = [
        "controls: " + "; ".join(f"{c.name}: {'pass' if c.ok else 'FAIL'}" for c in controls),
        f"killed by a check {s.killed}, killed by a failed boot {s.killed_by_boot}, survived "
        f"{s.survived}, equivalent {s.equivalent}, stillborn (not scored) {s.stillborn}",
    ]
    for op in sorted({r.mutant.operator for r in results}):
        mine = [r for r in results if r.mutant.operator == op]
        k = sum(r.verdict in ("killed", "killed (boot)") for r in mine)
        sc = sum(r.verdict not in ("equivalent", "stillborn") for r in mine)
        lines.append(f"  {op}: {k}/{sc} killed ({len(mine)} mutants)")
    wrong = [r.mutant.id for r in results if r.contradicted]
    if wrong:
        lines.append("declared equivalent but killed (fix docs/mutation.md): " + ", ".join(wrong))
    return lines


def record(
    results: list[MutantResult], controls: list[Control], targets: list[str], run: dict[str, Any]
) -> dict[str, Any]:
    """The JSON document of a run."""
    s = score(results)

    def verdicts(vs: list[TargetVerdict]) -> dict[str, Any]:
        return {
            v.target: {"status": v.status, "checks": v.checks, "message": v.message, "seconds": round(v.seconds, 2)}
            for v in vs
        }

    return {
        "schema": 1,
        "run": run,
        "targets": targets,
        "controls": [
            {"name": c.name, "subject": c.subject, "ok": c.ok, "targets": verdicts(c.verdicts)} for c in controls
        ],
        "mutants": [
            {
                "id": r.mutant.id,
                "subject": r.mutant.subject,
                "operator": r.mutant.operator,
                "file": r.mutant.path,
                "line": r.mutant.line,
                "edit": r.mutant.edit.what,
                "verdict": r.verdict,
                "killed_by": r.killed_by,
                "message": r.first_message,
                "equivalent": r.equivalent,
                "why": r.why,
                "targets": verdicts(r.verdicts),
            }
            for r in results
        ],
        "score": {
            "killed": s.killed,
            "killed_by_boot": s.killed_by_boot,
            "survived": s.survived,
            "equivalent": s.equivalent,
            "stillborn": s.stillborn,
            "total": s.total,
            "scored": s.scored,
            "percent": round(s.percent, 1),
            "line": s.line(),
        },
    }

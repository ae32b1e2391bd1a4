"""Run mutants under the cache model to the hand-off and say what killed each.

One boot session per target for the whole run (as `harness boot --coherence
--until handoff` boots). Controls go first: the stock loader and the clean
patch (sel4), the stock modes and an unedited copy of images/ (reference); a
control that fails a check ends the run, since every kill after it would be
worthless.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import HarnessError
from ..images.build import Variant, build
from ..payload import Payload, from_build
from ..session import BootSession, Outcome
from ..targets import Target, load, with_overrides
from .build import Stillborn, reference_payload, sel4_payload, slug
from .generate import Mutant
from .source import Subject

# Under --until handoff the kernel phase only waits for the cache model's report.
TIMEOUTS = ["kernel=60"]
Log = Callable[[str], None]


@dataclass
class TargetVerdict:
    """One mutant (or control) on one target."""

    target: str
    status: str  # killed | boot | survived | stillborn
    checks: list[str] = field(default_factory=list)
    message: str = ""
    seconds: float = 0.0


def verdict_of(target: str, outcome: Outcome, seconds: float) -> TargetVerdict:
    failure = outcome.result.failure
    if failure is not None:
        first = failure.message.splitlines()[0] if failure.message else ""
        return TargetVerdict(target, "boot", [], f"{failure.kind} failure in {failure.phase}: {first}", seconds)
    failed = [c for c in outcome.checks if c.failed]
    if failed:
        return TargetVerdict(target, "killed", [c.name for c in failed], failed[0].message, seconds)
    return TargetVerdict(target, "survived", [], "every check passed", seconds)


class Runner:
    """Boots payloads on the run's targets, one session per target, one boot at a time
    (labgrid's step tracking is process-wide: boots in threads would tangle it)."""

    def __init__(self, targets: list[str], results: Path) -> None:
        self.targets: list[Target] = [with_overrides(load(t), timeouts=TIMEOUTS) for t in targets]
        for t in self.targets:
            if not t.is_qemu:
                raise HarnessError(
                    f"target '{t.name}' is not a QEMU target",
                    file=t.path,
                    field="--targets",
                    fix="the cache model runs under QEMU only",
                )
        self.results = results
        self._sessions: dict[str, BootSession] = {}

    def session(self, target: Target) -> BootSession:
        if target.name not in self._sessions:
            self._sessions[target.name] = BootSession(target, self.results / target.name, coherence=True, history=None)
        return self._sessions[target.name]

    def close(self) -> None:
        for s in self._sessions.values():
            s.close()

    def boot(self, target: Target, payload: Payload, name: str) -> TargetVerdict:
        start = time.monotonic()
        outcome = self.session(target).boot(payload, name=slug(name), coherence=True, until="handoff", reuse=False)
        return verdict_of(target.name, outcome, time.monotonic() - start)


def payload_for(m: Mutant | None, subject: Subject, target: Target) -> Payload:
    if subject.name == "sel4":
        return sel4_payload(m, subject, target)
    return reference_payload(m, subject, target)


def applies(subject: str, target: Target) -> bool:
    """seL4's elfloader runs at EL1 or EL2 only; the reference loader runs wherever it is
    entered (its EL3 code is reached only on a target that enters it at EL3)."""
    return subject != "sel4" or target.expect_el in (1, 2)


def run_mutant(runner: Runner, m: Mutant, subject: Subject) -> list[TargetVerdict]:
    out = []
    for target in runner.targets:
        if not applies(subject.name, target):
            continue
        start = time.monotonic()
        try:
            payload = payload_for(m, subject, target)
        except Stillborn as exc:
            out.append(TargetVerdict(target.name, "stillborn", [], str(exc), time.monotonic() - start))
            break  # the same source on the other targets: no second build
        v = runner.boot(target, payload, m.id)
        v.seconds = time.monotonic() - start
        out.append(v)
    return out


@dataclass
class Control:
    """An unmutated loader the run starts with: it must pass every check."""

    name: str
    subject: str
    verdicts: list[TargetVerdict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(v.status == "survived" for v in self.verdicts)


def run_controls(runner: Runner, subjects: dict[str, Subject], log: Log) -> list[Control]:
    controls = []
    for name, subject in subjects.items():
        plans: list[tuple[str, Callable[[Target], Payload]]]
        if name == "sel4":
            plans = [
                ("sel4 stock loader", lambda t: sel4_payload(None, None, t, early_mmu=False)),
                ("sel4 clean early-MMU series", lambda t: sel4_payload(None, None, t)),
            ]
        else:
            plans = [
                ("reference mmu-off (stock)", _standard("mmu-off")),
                ("reference early-mmu", _standard("early-mmu")),
                ("reference early-mmu, unedited copy", _unedited(subject)),
            ]
        for label, make in plans:
            c = Control(label, name)
            for target in runner.targets:
                if applies(name, target):
                    c.verdicts.append(runner.boot(target, make(target), f"control-{label}"))
            log(f"control {label}: " + ", ".join(f"{v.target} {_says(v)}" for v in c.verdicts))
            controls.append(c)
    return controls


def _standard(mode: str) -> Callable[[Target], Payload]:
    return lambda t: from_build(build(Variant(t.machine, mode, uart_base=t.console_uart)), t.image_format)


def _unedited(subject: Subject) -> Callable[[Target], Payload]:
    return lambda t: reference_payload(None, subject, t)


def _says(v: TargetVerdict) -> str:
    if v.status == "survived":
        return "pass"
    what = f"{v.status} {','.join(v.checks)}" if v.checks else v.status
    return f"{what}: {v.message[:160]}"


def run_all(
    runner: Runner, mutants: list[Mutant], subjects: dict[str, Subject], log: Log
) -> dict[str, list[TargetVerdict]]:
    """Every mutant on every target, in order."""
    results: dict[str, list[TargetVerdict]] = {}
    for k, m in enumerate(mutants):
        verdicts = run_mutant(runner, m, subjects[m.subject])
        results[m.id] = verdicts
        log(f"[{k + 1}/{len(mutants)}] {m.id}: " + ", ".join(f"{v.target} {_says(v)}" for v in verdicts))
    return results

"""Modeled boots are exact: two `--coherence` boots of one image on a busy host agree bit
for bit on every exact figure, and their guest clocks read the same at every mark.

Why a CPU hog: with QEMU's default clock the generic timer follows the host, so a loaded
host shifts what the loader does inside the counted window (it prints a tick value with
one more digit), and the "exact" counts moved between identical boots. Modeled boots run
on the instruction-count clock (harness.qemu.command.instruction_clock); this test is its proof
and fails without it (the marks' ticks differ on every pair of boots, the counts often).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.history.metrics import EXACT, metrics
from harness.processes import register, stop
from harness.session import BootSession
from harness.targets import Target

pytestmark = [pytest.mark.boot, pytest.mark.reference]


@pytest.fixture
def cpu_hog() -> Iterator[list[int]]:
    """One busy process per host CPU, started here and stopped here by pid."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    for p in procs:
        register(p.pid, "cpu hog (test_determinism)")
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            stop(p)


def _modeled_boot(target: Target, results: Path) -> dict[str, Any]:
    """One full `--coherence` boot of the reference early-MMU image; its result.json."""
    session = BootSession(target, results)
    try:
        payload = session.payload(session.variant(mode="early-mmu"))
        outcome = session.boot(payload, coherence=True)
    finally:
        session.close()
    assert outcome.result.ok, outcome.result.failure
    assert outcome.result.log_path is not None
    doc: dict[str, Any] = json.loads((outcome.result.log_path.parent / "result.json").read_text())
    return doc


def _exact(doc: dict[str, Any]) -> dict[str, float]:
    return {m.name: m.value for m in metrics(doc) if m.kind == EXACT}


def _marks(doc: dict[str, Any]) -> list[tuple[str, int]]:
    return [(m["name"], m["ticks"]) for m in doc["timeline"]["marks"]]


def test_modeled_boots_agree_bit_for_bit_on_a_busy_host(
    harness_target: Target, tmp_path: Path, cpu_hog: list[int]
) -> None:
    if not harness_target.is_qemu or harness_target.boot != "qemu" or not harness_target.timing_profile:
        pytest.skip("runs on the direct QEMU targets with a timing profile (cache model, no U-Boot)")
    first, second = (_modeled_boot(harness_target, tmp_path / name) for name in ("one", "two"))
    a, b = _exact(first), _exact(second)
    assert "model.insns" in a and "modeled.total_s" in a, sorted(a)
    moved = {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}
    assert moved == {}, f"exact figures moved between identical modeled boots: {moved}"
    assert _marks(first) == _marks(second), (
        "the guest's timer read differently at the same marks: its clock follows the host"
    )
    assert len(_marks(first)) >= 4

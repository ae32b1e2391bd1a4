"""The history from real boots: two runs of the same boot agree on every exact figure;
a history edited to show a slower unpack fails the comparison, naming metric and values."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.cli import main
from harness.history.compare import compare
from harness.history.db import History
from harness.history.document import RunContext
from harness.session import BootSession
from harness.targets import Target

pytestmark = [pytest.mark.boot, pytest.mark.reference]


def test_two_runs_agree_and_an_edited_slower_unpack_fails(
    harness_target: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not harness_target.is_qemu or harness_target.boot != "qemu" or not harness_target.timing_profile:
        pytest.skip("runs on the direct QEMU targets with a timing profile (cache model, no U-Boot)")
    history = tmp_path / "history.sqlite"
    for night in ("night-1", "night-2"):
        session = BootSession(
            harness_target, tmp_path / night, history=history, run=RunContext(run_id=night, started=float(len(night)))
        )
        try:
            payload = session.payload(session.variant(mode="early-mmu"))
            outcome = session.boot(payload, coherence=True)
        finally:
            session.close()
        assert outcome.result.ok, outcome.result.failure
    with History(history) as h:
        same = compare(h, "night-2")
        assert same.judged > 20, same.text(verbose=True)
        exact = [f for f in same.findings if f.metric.startswith(("model", "image"))]
        assert exact == [], f"a deterministic figure moved between identical boots:\n{same.text()}"
        [boot] = h.boots(run_id="night-2")
        old = h.metrics_of([boot.id])[boot.id]["modeled.total_s"].value
    con = sqlite3.connect(history)  # the edit: tonight's modeled unpack 50 % slower
    with con:
        con.execute("UPDATE metrics SET value = value * 1.5 WHERE boot = ? AND name = 'modeled.total_s'", (boot.id,))
    con.close()
    assert main(["compare", str(history), "--run", "night-2"]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "modeled.total_s" in x)
    assert line.startswith("REGRESSION") and f"{old:.6g} s -> {old * 1.5:.6g} s" in line and "+50.0%" in line

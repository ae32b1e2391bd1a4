"""The results history: round trip, the comparison rules, concurrency, schema, CLI errors."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.history.compare import Rule, compare
from harness.history.db import History, import_results, series_key
from harness.history.metrics import EXACT, NOISY, metrics
from helpers.history_docs import make_doc

pytestmark = pytest.mark.host

# Host-stamped unpack windows of a quiet week: a few ms of jitter around 70 ms.
QUIET = [0.070, 0.071, 0.069, 0.072, 0.070, 0.068, 0.071, 0.070, 0.073, 0.069]


def nights(path: Path, unpack: list[float], **kw: object) -> History:
    """A history with one boot per night, oldest first."""
    h = History(path)
    for i, value in enumerate(unpack):
        h.record(make_doc(f"night-{i:02d}", 1_000_000.0 + i * 86400, unpack_s=value, **kw))  # type: ignore[arg-type]
    return h


def test_every_figure_round_trips(tmp_path: Path) -> None:
    doc = make_doc("r1", 1000.0, unpack_s=0.0731, modeled_s=0.00125, insns=98765)
    with History(tmp_path / "h.sqlite") as h:
        rowid = h.record(doc, tmp_path)
        assert rowid is not None
        assert h.record(doc) is None, "the same (run, boot) is recorded once"
        [boot] = h.boots()
        stored = h.metrics_of([boot.id])[boot.id]
        spans = h.spans_of(boot.id)
        checks = h.checks_of([boot.id])[boot.id]
    expected = metrics(doc)
    assert {m.name: (m.value, m.unit, m.kind) for m in expected} == {
        n: (m.value, m.unit, m.kind) for n, m in stored.items()
    }
    assert stored["unpack.host_s"].value == 0.0731 and stored["unpack.host_s"].kind == NOISY
    assert stored["modeled.total_s"].value == 0.00125 and stored["modeled.total_s"].kind == EXACT
    assert stored["model.insns"].value == 98765
    assert stored["model.loads.cacheable"].value == 520
    assert [s[0] for s in spans] == [s["name"] for s in doc["spans"]]
    assert spans[3][4] == "unpack", "an image's span stays nested under the unpack"
    assert checks == {c["name"]: (c["status"], c["message"]) for c in doc["checks"]}
    assert (boot.target, boot.image, boot.mode, boot.ok, boot.run_id) == (
        "qemu-virt",
        "early-mmu-none-1M",
        "early-mmu",
        True,
        "r1",
    )
    assert boot.series == series_key(doc) == "qemu-virt/early-mmu-none-1M/early-mmu/coherence"
    assert boot.result_path == str(tmp_path)


def test_a_sustained_shift_is_a_regression(tmp_path: Path) -> None:
    with nights(tmp_path / "h.sqlite", QUIET + [0.095, 0.097, 0.094]) as h:
        result = compare(h, baseline="last:10")
    # the window, its phase bar and its target-timer time all moved together
    assert {f.metric for f in result.regressions} == {
        "unpack.host_s",
        "unpack.target_s",
        "phase.unpack.host_s",
        "phase.image:kernel.host_s",
    }
    finding = next(f for f in result.regressions if f.metric == "unpack.host_s")
    assert "3 runs in a row above the limit" in finding.detail
    assert "(0.095 s, 0.097 s, 0.094 s)" in finding.detail and "n=8" in finding.detail


def test_one_noisy_night_is_an_outlier_not_a_regression(tmp_path: Path) -> None:
    with nights(tmp_path / "h.sqlite", QUIET + [0.070, 0.071, 0.190]) as h:
        result = compare(h, baseline="last:10")
    assert not result.regressions, result.text()
    outliers = [f for f in result.findings if f.status == "outlier" and f.metric == "unpack.host_s"]
    assert outliers and "watching" in outliers[0].detail


def test_a_quiet_week_has_no_finding(tmp_path: Path) -> None:
    with nights(tmp_path / "h.sqlite", QUIET + [0.071, 0.072, 0.070]) as h:
        result = compare(h, baseline="last:10")
    assert [f for f in result.findings if f.status != "insufficient"] == [], result.text()


def test_too_few_samples_are_not_judged(tmp_path: Path) -> None:
    with nights(tmp_path / "h.sqlite", [0.070, 0.300]) as h:
        result = compare(h)
    assert not result.regressions
    assert any(f.status == "insufficient" and f.metric == "unpack.host_s" for f in result.findings)


def test_any_change_of_an_exact_figure_is_flagged(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as h:
        h.record(make_doc("a", 1000.0, insns=1000))
        h.record(make_doc("b", 2000.0, insns=1001))
        grew = compare(h)
        h.record(make_doc("c", 3000.0, insns=999))
        shrank_same_image = compare(h)
        h.record(make_doc("d", 4000.0, insns=900, image_sha="b" * 64))
        shrank_new_image = compare(h)
    assert {f.metric for f in grew.regressions} == {"model.insns", "model.ifetch_cacheable"}
    f = next(f for f in grew.regressions if f.metric == "model.insns")
    assert "1000 count -> 1001 count (+1 count, +0.1%)" in f.detail
    f = next(f for f in shrank_same_image.regressions if f.metric == "model.insns")
    assert "same image and target" in f.detail
    assert not shrank_new_image.regressions
    assert [f.status for f in shrank_new_image.findings if f.metric == "model.insns"] == ["improved"]


def test_a_check_that_starts_failing_is_a_regression(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as h:
        h.record(make_doc("a", 1000.0))
        h.record(make_doc("b", 2000.0, ok=False, checks={"segments": "fail", "bss": "pass"}))
        result = compare(h)
    assert {f.metric for f in result.regressions} == {"boot", "check segments"}


def test_named_baseline_and_missing_series(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as h:
        h.record(make_doc("a", 1000.0, modeled_s=0.0013))
        h.record(make_doc("a", 1000.0, image="mmu-off-none-1M", mode="mmu-off"))
        h.set_baseline("release-1.0", "a", 1000.0)
        h.record(make_doc("b", 2000.0, modeled_s=0.0020))
        result = compare(h, baseline="release-1.0")
        with pytest.raises(HarnessError, match="no baseline named 'nope'"):
            compare(h, baseline="nope")
        with pytest.raises(HarnessError, match="last:N"):
            compare(h, baseline="last:x")
    assert result.baseline == "'release-1.0' (run a)"
    assert {f.metric for f in result.regressions} == {
        "modeled.total_s",
        "modeled.cached_copy_s",
        "modeled.uncached_data_s",
    }
    assert [f.series for f in result.findings if f.status == "missing"] == [
        "qemu-virt/mmu-off-none-1M/mmu-off/coherence"
    ]


def _writer(path: str, worker: int) -> None:
    with History(Path(path)) as h:
        for i in range(15):
            h.record(make_doc(f"w{worker}", 1000.0 + worker, boot=f"b{i}"))


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with History(path) as h:
        assert len(h.boots(limit=1000)) == 60
        assert len(h.runs()) == 4


def test_a_newer_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    History(path).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(HarnessError, match="schema 99 is newer") as exc:
        History(path)
    assert str(path) in str(exc.value) and "update the harness" in str(exc.value)


def test_result_folders_import_once(tmp_path: Path) -> None:
    import json

    for i in range(3):
        folder = tmp_path / "results" / "qemu-virt" / f"2026112{i}-010101" / "early-mmu-none-1M"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(make_doc(f"r{i}", 1000.0 + i)))
    with History(tmp_path / "h.sqlite") as h:
        assert import_results(h, [tmp_path / "results"]) == (3, 0)
        assert import_results(h, [tmp_path / "results"]) == (0, 3)


def test_cli_history_compare_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nights(tmp_path / "history.sqlite", QUIET + [0.095, 0.097, 0.094]).close()
    assert main(["history", str(tmp_path), "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("night-1") == 3 and "unpack.host_s" in out
    assert main(["compare", str(tmp_path), "--baseline", "last:10"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "unpack.host_s" in out
    assert main(["compare", str(tmp_path / "nothing-here")]) == 2
    err = capsys.readouterr().err
    assert "nothing-here" in err and "no history here" in err and "fix:" in err
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    assert main(["history", str(tmp_path / "junk.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "junk.sqlite" in err and "cannot open the history" in err


def test_rule_knobs_change_the_judgement(tmp_path: Path) -> None:
    with nights(tmp_path / "h.sqlite", QUIET + [0.095, 0.097, 0.094]) as h:
        assert not compare(h, baseline="last:10", rule=Rule(sustain=4)).regressions
        assert not compare(h, baseline="last:10", rule=Rule(k=40)).regressions


def test_modeled_band_is_recorded_as_exact_figures(tmp_path: Path) -> None:
    """The band over the profile's uncertain parameters travels with the modeled figure,
    so a nightly sees its ends move as it sees the figure move."""
    doc = make_doc("r1", 1000.0, modeled_s=0.00125)
    doc["modeled"]["band_s"] = [0.001, 0.0023]
    with History(tmp_path / "h.sqlite") as h:
        h.record(doc, tmp_path)
        [boot] = h.boots()
        stored = h.metrics_of([boot.id])[boot.id]
    assert (stored["modeled.band_low_s"].value, stored["modeled.band_high_s"].value) == (0.001, 0.0023)
    assert stored["modeled.band_low_s"].kind == EXACT

"""The slowest tests across a `make test` run's JUnit files, and the atomic build helpers
two concurrent suites rely on."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from harness.atomic import locked, tmp_beside
from harness.errors import HarnessError
from harness.slowest import lines, main, slowest, timed_cases

pytestmark = pytest.mark.host

CASE = '<testcase classname="tests.test_{mod}" name="{name}" time="{t}"/>'


def junit(path: Path, *cases: tuple[str, str, str]) -> Path:
    body = "".join(CASE.format(mod=m, name=n, t=t) for m, n, t in cases)
    path.write_text(f'<testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')
    return path


def test_slowest_orders_across_suites_and_names_each_suite(tmp_path: Path) -> None:
    a = junit(tmp_path / "junit-qemu-virt.xml", ("sel4", "test_a", "120.5"), ("boot", "test_b", "3"))
    b = junit(tmp_path / "junit-host.xml", ("mutate", "test_c", "40"))
    top = slowest(timed_cases([a, b, tmp_path / "junit-missing.xml"]), 2)
    assert [(t.suite, t.test, t.seconds) for t in top] == [
        ("qemu-virt", "tests/test_sel4.py::test_a", 120.5),
        ("host", "tests/test_mutate.py::test_c", 40.0),
    ]
    assert lines(top)[0] == "   120.5s  qemu-virt  tests/test_sel4.py::test_a"


def test_a_bad_time_is_one_error_naming_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = junit(tmp_path / "junit-x.xml", ("boot", "test_a", "soon"))
    with pytest.raises(HarnessError, match="testcase/@time"):
        timed_cases([bad])
    assert main(["3", str(bad)]) == 1
    assert "junit-x.xml" in capsys.readouterr().err


def _hold(lock: Path, log: Path, tag: str) -> None:
    with locked(lock):
        with log.open("a") as f:
            f.write(f"{tag}+")
        time.sleep(0.3)
        with log.open("a") as f:
            f.write(f"{tag}-")


def test_two_processes_under_one_lock_never_overlap(tmp_path: Path) -> None:
    lock, log = tmp_path / "out.lock", tmp_path / "log"
    procs = [multiprocessing.get_context("fork").Process(target=_hold, args=(lock, log, t)) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    text = log.read_text()
    assert text in ("a+a-b+b-", "b+b-a+a-"), f"the two holders overlapped: {text}"


def test_private_temporary_names_differ_per_process(tmp_path: Path) -> None:
    out = tmp_path / "image.bin"
    mine = tmp_beside(out)
    assert mine.parent == out.parent and mine != out
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        theirs = pool.apply(tmp_beside, (out,))
    assert theirs != mine

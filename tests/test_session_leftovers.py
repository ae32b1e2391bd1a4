"""The session-finish check (tests/conftest.py) fails a run that leaves a process behind.

Its negative control: an inner pytest run, with a copy of tests/conftest.py and
tests/helpers/, whose one test starts a harmless child and does not stop it. The
inner run's tests pass, so only the check can fail it; the control beside it (a
test that stops its child) must pass the check.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from harness import processes
from helpers.process_tree import command_line

pytestmark = pytest.mark.host

TESTS = Path(__file__).parent

INNER = """
import subprocess
import sys
from pathlib import Path

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def test_leaves_a_child_running():
    child = subprocess.Popen(SLEEPER + ["{token}-left"])
    Path("left.pid").write_text(str(child.pid))


def test_stops_its_child():
    child = subprocess.Popen(SLEEPER + ["{token}-stopped"])
    child.terminate()
    child.wait(10)
"""


def inner_run(tmp: Path, token: str, *select: str) -> subprocess.CompletedProcess[str]:
    """pytest in a process of its own over INNER, with this suite's conftest and helpers."""
    shutil.copy(TESTS / "conftest.py", tmp / "conftest.py")
    shutil.copytree(
        TESTS / "helpers", tmp / "helpers", ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
    )
    (tmp / "test_inner.py").write_text(INNER.format(token=token))
    (tmp / "pytest.ini").write_text("[pytest]\n")
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "HARNESS_TARGET", "LG_ENV", "LG_COORDINATOR")
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:sel4_harness",
            "-c",
            str(tmp / "pytest.ini"),
            "--rootdir",
            str(tmp),
            "-q",
            *select,
            "test_inner.py",
        ],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stop_if_ours(pid_file: Path, token: str) -> None:
    """Stop the inner run's child if it still runs: only that pid, and only while its
    command line still carries this test's token (never a process that reused the pid)."""
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    if processes.alive(pid) and token in command_line(pid):
        os.kill(pid, signal.SIGKILL)


def test_a_process_left_running_fails_the_run(tmp_path: Path) -> None:
    token = f"leftover-{uuid.uuid4().hex}"
    try:
        run = inner_run(tmp_path, token)
        out = run.stdout + run.stderr
        pid = int((tmp_path / "left.pid").read_text())
        assert "2 passed" in out, out  # the tests pass: the check fails the run
        assert run.returncode == pytest.ExitCode.TESTS_FAILED, out
        assert "processes this run started are still running (1)" in out, out
        assert f"pid {pid}: process: " in out and f"{token}-left" in out, out
        assert f"{token}-stopped" not in out, out  # a child its test stopped is not named
        assert not processes.alive(pid), "the check did not stop the process it reported"
    finally:
        stop_if_ours(tmp_path / "left.pid", token)


def test_a_run_that_stops_its_processes_passes(tmp_path: Path) -> None:
    token = f"leftover-{uuid.uuid4().hex}"
    run = inner_run(tmp_path, token, "-k", "stops_its_child")
    out = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.OK, out
    assert "1 passed" in out and "still running" not in out, out

"""Skips that cannot hide missing evidence (harness/testing.py).

A skip for a missing tool or input is a skip on a developer's machine and a
failure under CI=true; a skip for another target or option stays a skip; every
run ends with its skips counted by reason. Checked on a tiny test file run in a
pytest of its own (the harness's plugin loaded as in every run).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.testing import junit_skip_reasons, junit_totals, main, summary_lines, under_ci

pytestmark = pytest.mark.host

ROOT = Path(__file__).resolve().parents[1]

TINY = """
import pytest
from harness.testing import missing_input, require_tool

def test_tool_call():
    require_tool("no-such-tool-for-harness-tests", "the demo needs it", "install nothing")

@pytest.mark.requires_tool("no-such-tool-for-harness-tests|also-not-there", why="the marker form")
def test_tool_marker():
    pass

def test_missing_input():
    missing_input("upstream tarball demo.tar.xz", "the demo applies patches to it")

@pytest.mark.parametrize("n", [1, 2])
def test_other_target(n):
    pytest.skip("runs on another target")

def test_plain():
    pass
"""


def run_tiny(tmp_path: Path, ci: str | None) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "test_tiny.py").write_text(TINY)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    if ci is not None:
        env["CI"] = ci
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-rfEs",
            f"--junitxml={junit}",
            "--rootdir",
            str(tmp_path),
            "--results",
            str(tmp_path / "results"),
            str(tmp_path / "test_tiny.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, junit


def test_missing_tools_and_inputs_skip_locally_and_are_counted(tmp_path: Path) -> None:
    proc, junit = run_tiny(tmp_path, None)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert re.search(r"\b1 passed, 5 skipped\b", out), out
    summary = out[out.index("skips by reason (5)") :]
    assert re.search(r"^\s+2  runs on another target$", summary, re.M), summary
    assert re.search(
        r"^\s+1  \[missing\] missing tool 'no-such-tool-for-harness-tests': the demo "
        r"needs it \(fix: install nothing\)$",
        summary,
        re.M,
    ), summary
    assert "1  [missing] missing tool 'no-such-tool-for-harness-tests or also-not-there': the marker form" in summary, (
        summary
    )
    assert "1  [missing] missing upstream tarball demo.tar.xz: the demo applies patches" in summary
    # the same counts come back from the JUnit file (scripts/test.sh's closing lines)
    assert junit_totals([junit]) == (1, 0, 5)
    assert summary_lines(junit_skip_reasons([junit]))[0] == "    2  runs on another target"


def test_under_ci_a_missing_tool_or_input_fails_and_a_target_skip_stays(tmp_path: Path) -> None:
    proc, junit = run_tiny(tmp_path, "true")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    # the marker is checked at set-up: its failure is an error
    assert re.search(r"\b2 failed, 1 passed, 2 skipped, 1 error\b", out), out
    for kind, test in (("FAILED", "test_tool_call"), ("ERROR", "test_tool_marker"), ("FAILED", "test_missing_input")):
        assert re.search(rf"{kind} .*::{test} - .*CI=true: a missing tool or input fails", out), out
    assert "2  runs on another target" in out and "[missing]" not in out, out
    assert junit_totals([junit]) == (1, 3, 2)


@pytest.mark.parametrize(
    "value,ci",
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("", False), ("false", False), ("0", False)],
)
def test_what_counts_as_ci(monkeypatch: pytest.MonkeyPatch, value: str, ci: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert under_ci() is ci


def test_the_closing_lines_of_make_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/test.sh ends with every run's skips by reason and one plain totals line."""
    _, junit = run_tiny(tmp_path, None)
    assert main([str(junit), str(tmp_path / "never-written.xml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "== skips by reason over 2 run(s)"
    assert lines[1] == "    2  runs on another target"
    assert lines[-1] == "total: 1 passed, 0 failed, 5 skipped"


def test_no_skip_bypasses_the_helper() -> None:
    """A `skipif` or `importorskip` would skip for a missing tool without failing under CI:
    tests use `requires_tool`/`require_tool`/`missing_input` (harness/testing.py) for
    those, and plain `pytest.skip` only for another target or option."""
    offenders = []
    for path in [*sorted((ROOT / "tests").glob("*.py")), ROOT / "harness/pytest_plugin.py"]:
        if path.name == Path(__file__).name:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bskipif\(|\bimportorskip\(", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
            elif "pytest.skip(" in line and re.search(r"install|not found|absent|missing", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)

"""labgrid users keep their way: `pytest --lg-env FILE` selects the same target as --target."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.targets import Target

pytestmark = [pytest.mark.boot, pytest.mark.reference]


def test_lg_env_runs_the_suite(harness_target: Target, tmp_path: Path) -> None:
    if harness_target.remote:
        pytest.skip("a lab target needs its coordinator (see tests/test_lab.py)")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--lg-env",
            str(harness_target.path),
            "--results",
            str(tmp_path),
            "-m",
            "boot",
            "-k",
            "test_boot_reaches_the_kernel and early-mmu",
            str(Path(__file__).parent / "test_boot.py"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout
    # the boot ran on the env file's target: its results are filed under its name
    assert list((tmp_path / harness_target.name).glob("*/*/console.log"))

"""`harness boot` as a user runs it: a phase summary, checks, and an exact dry run."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from harness.targets import Target

pytestmark = [pytest.mark.boot, pytest.mark.reference]


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=600)


def test_boot_prints_the_phase_summary(harness_target: Target, tmp_path: Path) -> None:
    if harness_target.remote:
        pytest.skip("a lab target boots through its place (see tests/test_lab.py)")
    proc = harness("boot", "--target", str(harness_target.path), "--mode", "early-mmu", "--results", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith(f"Boot of early-mmu-none-1M on {harness_target.name}: early-mmu at EL")
    assert "Startup finished in" in out and "(unpack;" in out and "by the target timer" in out
    assert "Unpack window: " in out and "[pass] segments" in out and "[fail]" not in out
    assert list(tmp_path.glob("*/*/timeline.json")) and list(tmp_path.glob("*/*/console.log"))


def test_dry_run_is_a_command_a_person_can_run(harness_target: Target) -> None:
    if not harness_target.is_qemu:
        pytest.skip("a board has no QEMU command")
    proc = harness("boot", "--target", str(harness_target.path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    # U-Boot targets print the TFTP staging (mkdir, ln) first: QEMU's line comes last
    line = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith("#")][-1]
    argv = shlex.split(line)
    assert argv[0].endswith("qemu-system-aarch64")
    assert "-s" not in argv  # never a gdbstub on every interface
    assert "-qmp" not in argv and "-S" not in argv and "labgrid" not in line  # nothing to serve
    assert argv[argv.index("-serial", len(argv) - 2) + 1] == "mon:stdio"  # the terminal
    assert argv.count("-accel") == 1 and argv[argv.index("-accel") + 1] == "tcg,thread=single"
    if "-netdev" in argv:
        assert "restrict=on" in argv[argv.index("-netdev") + 1]

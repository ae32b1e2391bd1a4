"""The lab under abuse: runs against the virtual board killed or stopped mid-boot.

Each test starts a real `pytest --target=lab-virtual-board` in a subprocess and
ends it while U-Boot is running. Afterwards no process it started may be left,
and no place may stay locked — a SIGKILLed run cannot clean up, so its lock
must be recognised and released by the next run's start.

Runs with the lab target (`pytest -m boot --target=lab-virtual-board`); the
board it boots is never the session's own (each test has its own lab).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from harness import processes
from harness.images.build import ROOT, build_root
from harness.lab import TAG, LabClient, VirtualLab
from harness.targets import Target

pytestmark = [pytest.mark.boot, pytest.mark.lab]


@pytest.fixture(autouse=True)
def only_for_the_lab(harness_target: Target) -> None:
    if harness_target.lab != "virtual":
        pytest.skip("lab tests run with --target=lab-virtual-board")


def inner_run(tmp: Path, *k: str, attach: str | None = None) -> "subprocess.Popen[bytes]":
    """`pytest --target=lab-virtual-board` on the good early-mmu boot, in its own session."""
    env = {
        key: v
        for key, v in os.environ.items()
        if key not in ("LG_COORDINATOR", "HARNESS_LAB_COORDINATOR", "PYTEST_ADDOPTS", "HARNESS_TARGET", "LG_ENV")
    }
    env["HARNESS_LAB_STATE"] = str(tmp / "lab-state.json")
    if attach:
        env["HARNESS_LAB_COORDINATOR"] = attach
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "boot",
        "--target=lab-virtual-board",
        "--results",
        str(tmp / "results"),
        "tests/test_boot.py",
        "-k",
        " and ".join(("reaches_the_kernel",) + k),
    ]
    log = open(tmp / "inner.log", "ab")
    # `env --default-signal`: a run started from a script's background job inherits SIGINT
    # ignored, and would never see the Ctrl-C these tests send (make test runs suites so)
    proc = subprocess.Popen(
        ["env", "--default-signal=INT", *cmd],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    processes.register(proc.pid, "inner pytest")
    return proc


def wait(check: Callable[[], Any], timeout: float, what: str, tmp: Path) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    log = (tmp / "inner.log").read_text(errors="replace")[-3000:] if (tmp / "inner.log").exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def in_uboot(tmp: Path) -> bool:
    """The inner run is mid-boot: its console log shows U-Boot at work."""
    for log in (tmp / "results").rglob("console.log"):
        text = log.read_text(errors="replace")
        if "U-Boot" in text and "ELF-loader started" not in text:
            return True
    return False


def lab_state(tmp: Path) -> dict[str, Any] | None:
    path = tmp / "lab-state.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return state if len(state.get("pids", {})) == 4 and state.get("address") else None


def alive(pids: dict[str, int]) -> dict[str, int]:
    return {what: pid for what, pid in pids.items() if processes.alive(pid)}


def finish(proc: "subprocess.Popen[bytes]", timeout: float = 60) -> int:
    try:
        return proc.wait(timeout)
    finally:
        processes.stop(proc)


def test_sigkilled_run_leaves_no_process(tmp_path: Path) -> None:
    """The run's own virtual lab (coordinator, exporter, QEMU, power switch) dies with it."""
    proc = inner_run(tmp_path)
    state = wait(lambda: lab_state(tmp_path), 120, "the inner run's lab", tmp_path)
    wait(lambda: in_uboot(tmp_path), 120, "U-Boot on the inner run's console", tmp_path)
    assert alive(state["pids"]) == state["pids"]  # all four were up mid-boot
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc)
    wait(lambda: not alive(state["pids"]), 10, "the lab processes to die", tmp_path)
    # its coordinator died with it, and the place with the coordinator; the next start
    # removes what is left on disk.
    run_dir = Path(state["dir"])
    VirtualLab.clean_stale()
    assert not run_dir.exists()


def test_sigkilled_run_lock_is_released_at_next_start(tmp_path: Path) -> None:
    """Against a lab that outlives the run (like a real one), a SIGKILLed run leaves the place
    locked; the next run recognises the lock as its dead predecessor's, releases it, passes."""
    with VirtualLab(tmp_path / "lab-logs") as lab:
        client = LabClient(lab.address)
        proc = inner_run(tmp_path, attach=lab.address)
        info = wait(
            lambda: (i := client.place(lab.place)) and i.acquired and TAG in i.tags and i,
            120,
            "the inner run to acquire the place",
            tmp_path,
        )
        assert info.tags[TAG].split("_")[-2] == str(proc.pid)
        wait(lambda: in_uboot(tmp_path), 120, "U-Boot on the inner run's console", tmp_path)
        os.kill(proc.pid, signal.SIGKILL)
        finish(proc)
        left = client.place(lab.place)
        assert left is not None and left.acquired, "the killed run cannot have released it"

        (tmp_path / "inner.log").unlink()
        proc2 = inner_run(tmp_path, "early", attach=lab.address)
        rc = finish(proc2, 240)
        out = (tmp_path / "inner.log").read_text(errors="replace")
        assert rc == 0, out[-3000:]
        assert f"left by harness run pid {proc.pid}, which no longer runs; releasing it" in out, out
        after = client.place(lab.place)
        assert after is not None and not after.acquired and TAG not in after.tags
        pids = {what: p.pid for what, p in lab.procs.items()}
    assert not alive(pids)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_releases_the_place(sig: signal.Signals, tmp_path: Path) -> None:
    """SIGTERM (a CI job cancelled) and SIGINT (Ctrl-C) mid-boot: the run releases the place
    itself, powers the board off and stops every process it started."""
    with VirtualLab(tmp_path / "lab-logs") as lab:
        client = LabClient(lab.address)
        proc = inner_run(tmp_path, attach=lab.address)
        wait(lambda: (i := client.place(lab.place)) and i.acquired, 120, "the inner run to acquire the place", tmp_path)
        wait(lambda: in_uboot(tmp_path), 120, "U-Boot on the inner run's console", tmp_path)
        os.kill(proc.pid, sig)
        rc = finish(proc, 60)
        out = (tmp_path / "inner.log").read_text(errors="replace")
        assert rc != 0, out[-3000:]
        assert "released place 'virtual-board'" in out, out[-3000:]
        after = client.place(lab.place)
        assert after is not None and not after.acquired
    assert not list((build_root() / "lab").glob(f"run-{proc.pid}-*"))

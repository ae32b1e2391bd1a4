"""The registry of processes we started: a pid is ours only while it is the process we
started. pid_max is often 32768, and a busy machine hands a reaped QEMU's pid to another
process within seconds; that process must neither count as our leftover nor be signalled."""

from __future__ import annotations

import subprocess

import pytest

from harness import processes

pytestmark = pytest.mark.host


def test_a_registered_process_is_alive_until_reaped() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    processes.register(proc.pid, "sleep")
    try:
        assert processes.alive(proc.pid) and processes.start_time(proc.pid) is not None
    finally:
        processes.stop(proc)
    assert not processes.alive(proc.pid)
    assert proc.pid not in processes.survivors()


def test_a_reused_pid_is_not_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process now holding a registered pid: not a survivor, never signalled."""
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        processes.register(stranger.pid, "qemu")
        # as if the registered process had started earlier and its pid had come round again
        born = processes._born[stranger.pid]
        assert born is not None
        monkeypatch.setitem(processes._born, stranger.pid, born - 1)
        assert not processes.alive(stranger.pid)
        assert stranger.pid not in processes.survivors()
        processes.stop_pid(stranger.pid, grace=0.1)
        assert stranger.poll() is None, "a process we did not start was signalled"
    finally:
        stranger.kill()
        stranger.wait()
        processes._started.pop(stranger.pid, None)
        processes._born.pop(stranger.pid, None)

"""Processes this harness started, so that it stops exactly those and can prove it.

Every QEMU, coordinator or exporter we start is registered here by pid; tests
assert at the end of a session that none of them is still alive. We never look
processes up by name: only ids we started are ever signalled. A pid is kept with
the process's start time: pids wrap (pid_max is often 32768) and a busy machine
hands a reaped QEMU's pid to someone else's process within seconds, which must
neither count as ours still running nor ever be signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

_started: dict[int, str] = {}
_born: dict[int, int | None] = {}  # pid -> start time (clock ticks after boot)
_session: set[int] = set()


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name (field 3, the state, first)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return None


def start_time(pid: int) -> int | None:
    """When `pid` started, in clock ticks after boot (field 22 of /proc/PID/stat)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None and len(fields) > 19 else None


def register(pid: int, what: str, *, session: bool = False) -> None:
    """Record a process we started. `session=True`: infrastructure meant to run until the
    test session ends (the virtual lab); survivors() leaves it out, its owner stops it and
    proves it stopped (harness/lab/)."""
    _started[pid] = what
    _born[pid] = start_time(pid)
    if session:
        _session.add(pid)


def describe_exit(returncode: int) -> str:
    """A child's end in a lab engineer's words: 'exited (killed by signal 9)'."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "?"
        return f"exited (killed by signal {-returncode}, {name})"
    return f"exited with status {returncode}"


def alive(pid: int) -> bool:
    """`pid` runs (not a zombie) and, if we registered it, is still the process we
    started: a reused pid is someone else's."""
    fields = _stat_fields(pid)
    if fields is None or not fields or fields[0] in ("Z", "X"):
        return False
    born = _born.get(pid)
    return born is None or len(fields) <= 19 or int(fields[19]) == born


def survivors(include_session: bool = False) -> dict[int, str]:
    """Registered processes that are still running (session infrastructure only if asked)."""
    return {pid: what for pid, what in _started.items() if alive(pid) and (include_session or pid not in _session)}


def stop(proc: "subprocess.Popen[bytes] | subprocess.Popen[str]", grace: float = 5.0) -> None:
    """Terminate a child we started, kill it if it ignores us, reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace)


def stop_pid(pid: int, grace: float = 5.0) -> None:
    """Stop a registered non-child process by id (e.g. a daemon we spawned)."""
    if pid not in _started or not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)

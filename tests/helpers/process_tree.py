"""The processes below this one, found by parentage, never by name.

Another pytest may run on the same machine at the same time: what this run started
is exactly what descends from its own process, so that is all these helpers look at
and all they ever signal.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pexpect

from harness import processes


def children(pid: int) -> list[int]:
    """Direct children of `pid`, from every thread (a child started from a worker
    thread is listed under that thread only)."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            out += [int(kid) for kid in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended while we looked
    return out


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, each before its own descendants."""
    out: list[int] = []
    for kid in children(pid):
        out += [kid, *descendants(kid)]
    return out


def command_line(pid: int, limit: int = 300) -> str:
    """The process's command line as one string (cut at `limit` characters)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    return text if len(text) <= limit else text[:limit] + " ..."


# Python's own helpers, started by the interpreter for multiprocessing (a process pool's
# resource tracker or fork server): they live until the interpreter that started them exits,
# by design, and are nobody's leak.
PYTHON_RUNTIME = ("from multiprocessing.resource_tracker import main", "from multiprocessing.forkserver import main")


def left_running(pid: int | None = None) -> dict[int, str]:
    """Live descendants of `pid` (default: this process), each as 'what: command line';
    'what' is the harness's own name for it when it registered the process."""
    root = os.getpid() if pid is None else pid
    named = processes.survivors(include_session=True)
    out = {}
    for kid in descendants(root):
        cmd = command_line(kid)
        if processes.alive(kid) and not any(marker in cmd for marker in PYTHON_RUNTIME):
            out[kid] = f"{named.get(kid, 'process')}: {cmd}"
    return out


def stop_pids(pids: list[int], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL what is still alive after `grace` seconds (by pid)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(processes.alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in pids:
        if processes.alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def stop_tree(child: pexpect.spawn) -> None:
    """Stop a spawned command and what it started (by pid, deepest first)."""
    for pid in reversed(descendants(child.pid)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if child.isalive():
        child.terminate(force=True)
    child.close()

"""The lab's processes on this host: started so that they die with the run.

A virtual lab is several long-running processes (QEMU, the power switch, the
coordinator, the exporter). Each one is started under `setpriv --pdeathsig KILL`
in its own session and registered in `harness.processes`, so it dies with the
run even when the run is SIGKILLed and is stopped by pid otherwise; a process is
waited for until its TCP port answers, and a start that fails says why with the
tail of its log. A board's power-on garbage is a file made here once.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from .. import processes
from ..atomic import tmp_beside
from ..images.build import build_root
from .client import LabError


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound and released: the caller binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def garbage_file(pattern: int, size: int) -> Path:
    """`size` bytes of `pattern` under build/lab: what a virtual board's DRAM holds at power-on
    (QEMU re-applies `-device loader` blobs at every system_reset)."""
    path = build_root() / "lab" / f"garbage-{pattern:02x}-{size}.bin"
    if not path.exists() or path.stat().st_size != size:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_beside(path)  # two labs may start at once
        tmp.write_bytes(bytes([pattern]) * size)
        tmp.replace(path)
    return path


def spawn(
    cmd: list[str], what: str, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> "subprocess.Popen[bytes]":
    """Start a lab process that dies with us: PDEATHSIG=KILL (via setpriv, so no
    preexec_fn in a threaded process), its own session (a terminal's Ctrl-C reaches
    us, not it: we stop it in order), registered by pid."""
    full = (["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []) + cmd
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    processes.register(proc.pid, what, session=True)
    return proc


def wait_until(
    check: Any, timeout: float, what: str, proc: "subprocess.Popen[bytes] | None" = None, log: Path | None = None
) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").strip().splitlines()[-8:])
    state = f" (it exited with {proc.returncode})" if proc is not None and proc.poll() is not None else ""
    raise LabError(
        f"{what} did not come up within {timeout:g} s{state}{tail}",
        field="lab",
        fix=f"see {log}" if log else "see the lab logs",
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def port_listening(port: int) -> bool:
    """Whether a socket listens on 127.0.0.1:`port`, read from /proc/net/tcp without
    connecting: QEMU's serial server takes one client, and one that connected and left may
    stay its client until QEMU next writes, which then drops the board's first lines."""
    want = f"0100007F:{port:04X}"
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return port_open(port)
    return any(f[1] == want and f[3] == "0A" for f in (line.split() for line in lines) if len(f) > 3)

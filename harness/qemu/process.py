"""Power for labgrid's QEMUDriver: start it with the console read from the first
instruction and start-up under a watchdog; quit it, killing and reaping it if it hangs.

Both strategies power QEMU through these (the U-Boot strategy too, when its power
driver is a QEMUDriver).
"""

from __future__ import annotations

import shlex
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .. import processes
from ..errors import BootFailure
from .drain import ConsoleDrain


def start_qemu(qemu: Any, timeout: float, before_cont: Callable[[], None] | None = None, hold: bool = False) -> bytes:
    """Start labgrid's QEMUDriver (already activated), reading the console from the first
    instruction; return what the guest printed during start-up.

    labgrid's on() sends QMP 'cont' and waits for the answer before anyone
    reads the console socket. QEMU writes each UART byte as its own socket
    message, so a few hundred bytes fill the unix socket; the vCPU thread then
    retries the write while holding QEMU's big lock and QMP never answers (seen
    under load: 3 boots in 40). So a drain thread reads the console from just
    before 'cont' until on() returns, and a watchdog kills our QEMU if start-up
    still hangs. `before_cont` runs at that moment too (a debugger arming).
    `hold`: 'cont' is not sent -- a debugger stopped the guest and a person's gdb
    resumes it.
    """
    fired = threading.Event()

    def kill() -> None:
        child = qemu._child
        if child is not None and child.poll() is None:
            fired.set()
            child.kill()

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    drain = ConsoleDrain()
    original = qemu.monitor_command

    def monitor_command(command: str, arguments: dict[str, Any] = {}) -> Any:  # noqa: B006
        if command == "cont":
            drain.start(qemu._clientsocket)
            if before_cont is not None:
                before_cont()
            if hold:
                return {}
        return original(command, arguments)

    qemu.monitor_command = monitor_command
    stderr = _capture_stderr(qemu)
    try:
        qemu.on()
    except BootFailure:  # the before_cont hook's own verdict (e.g. a silent gdbstub)
        drain.stop()
        raise
    except Exception as exc:  # noqa: BLE001 - QMP errors come in many types
        drain.stop()
        said = _stderr_lines(stderr)  # QEMU's own words ("Some ROM regions are overlapping")
        why = (
            f"QEMU did not answer QMP within {timeout:.0f} s and was killed"
            if fired.is_set()
            else f"QEMU failed to start: {said[0] if said else exc}"
            + (" (QEMU's stderr below)" if len(said) > 1 else "")
        )
        raise BootFailure(why, kind="infrastructure", phase="power-on", last_lines=said[-15:]) from None
    finally:
        del qemu.monitor_command  # back to the class's method
        watchdog.cancel()
        if qemu._child is not None:
            processes.register(qemu._child.pid, "qemu")
    return drain.stop()


def _capture_stderr(qemu: Any) -> Path | None:
    """Send QEMU's stderr to a file in the driver's temp dir: labgrid leaves it on ours
    and reports a failed start as 'QEMU error: None'. The command is wrapped in
    `sh -c 'exec ...'`, so the pid labgrid holds is still QEMU's."""
    cmd = getattr(qemu, "_cmd", None)
    tmp = getattr(qemu, "_tempdir", None)
    if not cmd or tmp is None:
        return None
    path = Path(tmp) / "qemu-stderr.txt"
    if cmd[0] != "sh":  # not wrapped yet in this activation
        qemu._cmd = ["sh", "-c", f'exec "$0" "$@" 2>>{shlex.quote(str(path))}', *[str(a) for a in cmd]]
    path.unlink(missing_ok=True)
    return path


def _stderr_lines(path: Path | None) -> list[str]:
    if path is None or not path.exists():
        return []
    return [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]


def stop_qemu(qemu: Any) -> None:
    """Quit our QEMU over QMP; kill our own child if it does not go in time; reap it."""
    child = qemu._child
    killer = threading.Timer(10.0, lambda: child.kill() if child and child.poll() is None else None)
    killer.start()
    try:
        if qemu.status:
            try:
                qemu.off()
            except Exception:  # noqa: BLE001 - a dead QEMU must still be reaped
                qemu.status = 0
        if child is not None:
            processes.stop(child)
        qemu._child = None
    finally:
        killer.cancel()


def exit_status(qemu: Any, wait: float) -> int | None:
    """Our QEMU's exit status once it has exited, None while it runs (or none was started).
    A dying QEMU closes its console a moment before it can be reaped: wait up to `wait` s."""
    child = qemu._child
    if child is None:
        return None
    end = time.monotonic() + wait
    while child.poll() is None and time.monotonic() < end:
        time.sleep(0.02)
    code: int | None = child.returncode
    return code

"""QEMU command lines: the one labgrid starts, the one a person can run, the guest clock.

labgrid builds QEMU's command when its driver activates; `labgrid_command` reads it,
`standalone` turns it into a command a person pastes into a shell (console on the
terminal), and `instruction_clock` is what modeled boots add to it.
"""

from __future__ import annotations

from typing import Any

from ..errors import HarnessError


def labgrid_command(target: Any, qemu: Any) -> list[str]:
    """The command labgrid's QEMUDriver would start (it is built on activation)."""
    target.activate(qemu)
    try:
        return [str(a) for a in qemu._cmd]
    finally:
        target.deactivate(qemu)


#: Virtual nanoseconds per guest instruction under the instruction-count clock, as a power
#: of two: 0 is one instruction per ns, a 1 GHz core (the armStone's A53s run at 1.2 GHz).
ICOUNT_SHIFT = 0


def instruction_clock() -> list[str]:
    """QEMU arguments that make guest time a function of the instructions executed.

    Modeled boots count every instruction of the unpack window, and those counts are
    judged as exact figures. With QEMU's default clock the generic timer follows the
    host: a busy host makes the loader print a longer tick value inside the window (one
    more digit: ~26 instructions and a UART access), so identical boots differed. With
    `-icount shift=N` the timer advances 2**N ns per instruction, and `sleep=off` skips
    idle time straight to the next timer deadline instead of waiting for the host, so
    the guest sees the same time at the same instruction on any host, loaded or not
    (tests/test_determinism.py). A fixed shift, never `auto`: that adapts to the host.
    """
    return ["-icount", f"shift={ICOUNT_SHIFT},sleep=off"]


#: How a person quits the standalone command: QEMU's character-device mux keys.
QUIT_KEYS = "Ctrl-A X"


def standalone(argv: list[str]) -> list[str]:
    """labgrid's QEMU command made runnable by hand, booting the same thing.

    labgrid starts QEMU paused (`-S`) with QMP on its stdio and the console on a
    unix socket it serves itself: pasted into a shell that command hangs, paused,
    waiting for a QMP client and a socket nobody listens on. Here the console
    goes to the terminal instead, at the same position among the `-serial`
    options (so the same UART: on imx8mp the first is `-serial null`), with
    QEMU's monitor muxed in (Ctrl-A C; Ctrl-A X quits); no `-S`, no QMP. Images,
    memory poison, firmware and plugin arguments are untouched."""
    out: list[str] = []
    socket_ids: set[str] = set()
    i = 0
    while i < len(argv):
        arg = argv[i]
        value = argv[i + 1] if i + 1 < len(argv) else ""
        if arg == "-S":
            i += 1
            continue
        if arg == "-qmp":
            i += 2
            continue
        if arg == "-chardev" and value.startswith("socket,") and "id=" in value:
            socket_ids.add(value.split("id=", 1)[1].split(",", 1)[0])
            i += 2
            continue
        if arg == "-serial" and value.startswith("chardev:") and value[8:] in socket_ids:
            out += ["-serial", "mon:stdio"]
            i += 2
            continue
        out.append(arg)
        i += 1
    if "mon:stdio" not in out:
        raise HarnessError(
            "labgrid's QEMU command has no console socket to replace",
            field="QEMUDriver",
            fix="report this: labgrid's command line changed",
        )
    return out

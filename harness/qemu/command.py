"""QEMU command lines: the one labgrid starts, the one a person can run, the guest clock.

labgrid builds QEMU's command when its driver activates; `labgrid_command` reads it,
`standalone` turns it into a command a person pastes into a shell (console on the
terminal), `instruction_clock` is what modeled boots add to it, and `one_tcg_thread` what
every boot adds unless its target chose an accelerator.
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


#: QEMU's TCG run on one host thread, vCPUs in turn (round-robin) instead of a thread each.
ONE_TCG_THREAD = ["-accel", "tcg,thread=single"]


def one_tcg_thread(base_args: str) -> list[str]:
    """`-accel tcg,thread=single`, unless the target's own arguments pick an accelerator or
    more than one vCPU (`-smp`).

    The boots here run one vCPU (seL4 and the loaders run on CPU 0; the imx8mp-evk's other
    cores stay powered off), so multi-threaded TCG buys nothing, and its vCPU thread and
    main loop hand the big lock and timer kicks back and forth. Measured with sel4test to
    its verdict on this project's 2-core machine, QEMU 10.0, alternating the two modes
    three times: 26.0 s against 27.4 s on average (system time 1.2 s against 1.3-4.4 s).
    Larger swings in either mode come from the host's first touch of the guest's 2 GiB.
    The guest sees the same machine either way; `-icount` (modeled boots) needs this mode.
    """
    words = base_args.split()
    if "-accel" in words or "accel=" in base_args or "-smp" in words:
        return []
    return list(ONE_TCG_THREAD)


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

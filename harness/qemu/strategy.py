"""labgrid strategies: how a target gets from off to a running image.

Tests never talk to QEMU or a board directly; they ask a strategy for a state.
`QEMUBootStrategy` boots an image with QEMU's `-kernel` (off -> running). The
image and per-boot QEMU arguments (memory poison, plugins, gdbstub) change from
boot to boot, so the strategy swaps them into the labgrid QEMUDriver while it is
deactivated; everything else comes from the environment file.
"""
from __future__ import annotations

import enum
import select
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import attr
from labgrid.factory import target_factory
from labgrid.strategy.common import Strategy, StrategyError

from .. import processes
from ..errors import BootFailure, HarnessError


class Status(enum.Enum):
    unknown = 0
    off = 1
    running = 2


def set_image(target: Any, key: str, path: Path) -> None:
    """Point the environment's image `key` at `path` (labgrid resolves it on activate)."""
    target.env.config.data.setdefault("images", {})[key] = str(path)


def start_qemu(qemu: Any, timeout: float, before_cont: Callable[[], None] | None = None,
               hold: bool = False) -> bytes:
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
    except BootFailure:         # the before_cont hook's own verdict (e.g. a silent gdbstub)
        drain.stop()
        raise
    except Exception as exc:  # noqa: BLE001 - QMP errors come in many types
        drain.stop()
        said = _stderr_lines(stderr)    # QEMU's own words ("Some ROM regions are overlapping")
        why = (f"QEMU did not answer QMP within {timeout:.0f} s and was killed"
               if fired.is_set() else f"QEMU failed to start: {said[0] if said else exc}"
               + (" (QEMU's stderr below)" if len(said) > 1 else ""))
        raise BootFailure(why, kind="infrastructure", phase="power-on",
                          last_lines=said[-15:]) from None
    finally:
        del qemu.monitor_command   # back to the class's method
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
    if cmd[0] != "sh":          # not wrapped yet in this activation
        qemu._cmd = ["sh", "-c", f'exec "$0" "$@" 2>>{shlex.quote(str(path))}',
                     *[str(a) for a in cmd]]
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
        raise HarnessError("labgrid's QEMU command has no console socket to replace",
                           field="QEMUDriver", fix="report this: labgrid's command line changed")
    return out


@dataclass(frozen=True)
class Firmware:
    """EL3 firmware given to QEMU's -kernel in front of the loader, and its mailbox: the
    64-bit word it reads the next stage's entry from (images/firmware/link.ld)."""

    elf: Path
    mailbox: int


def firmware_for(target: Any) -> Firmware | None:
    """Build (or reuse) the firmware a harness target names in `firmware:`."""
    if getattr(target, "firmware", None) is None:
        return None
    from ..images.build import FIRMWARE_MAILBOX, build_firmware
    from ..images.elf import read_elf
    elf = build_firmware(target.machine)
    return Firmware(elf, read_elf(elf, "firmware").symbol(FIRMWARE_MAILBOX))


def loader_placement(image: Path, dram_base: int) -> tuple[list[str], int]:
    """How QEMU loads a loader that firmware, not QEMU, starts: the `-device loader`
    option and the entry address the firmware jumps to.

    ELF: its PT_LOADs at their physical addresses (QEMU's ELF loading), entered at the
    physical e_entry (the MMU is off). arm64 Image (a raw binary with the header): the file
    at DRAM base + text_offset, where booti/QEMU's -kernel put it, entered at its first
    byte. A raw binary without the header has no load address anyone could know.
    """
    from ..images.elf import read_elf
    from ..images.package import image_header, is_elf
    if not image.is_file():
        raise HarnessError("no such file", file=image, fix="check the path (build the image first?)")
    if is_elf(image):
        return ["-device", f"loader,file={image}"], read_elf(image, image.name).entry_paddr
    text_offset = image_header(image)
    if text_offset is None:
        raise HarnessError("a raw binary without an arm64 Image header: its load address is "
                           "unknown", file=image, field="boot file",
                           fix="give the loader as an ELF (seL4: build/elfloader/elfloader), or "
                               "set 'image_format: elf' in the target")
    load = dram_base + text_offset
    return ["-device", f"loader,file={image},addr={load:#x},force-raw=on"], load


class ConsoleDrain:
    """Reads a console socket in a thread so the guest never blocks on it."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, sock: socket.socket | None) -> None:
        if sock is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()

    def _run(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.01)
            if ready:
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                self._data += chunk

    def stop(self) -> bytes:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return bytes(self._data)


class PrefixedConsole:
    """A labgrid console whose first reads return bytes read earlier by a drain."""

    def __init__(self, console: Any, early: bytes) -> None:
        self._console = console
        self._early = early

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes:
        if self._early:
            data, self._early = self._early, b""
            return data
        data = bytes(self._console.read(size=size, timeout=timeout, max_size=max_size))
        if not data:    # QEMUDriver reads only when the socket is readable: this is its end
            raise EOFError("the console socket closed")
        return data

    def write(self, data: bytes) -> Any:
        return self._console.write(data)


@target_factory.reg_driver
@attr.s(eq=False)
class QEMUBootStrategy(Strategy):  # type: ignore[misc]
    """off -> running: start QEMU with the image as -kernel and the console attached."""

    bindings = {"qemu": "QEMUDriver"}
    status: Status = attr.ib(default=Status.unknown)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._base_args: str | None = None
        self.power_on_ns: int | None = None
        self.power_on_timeout = 10.0
        # Runs once when labgrid resumes the paused guest (QMP 'cont'): the one
        # moment a debugger can arm breakpoints before the first instruction.
        self.before_cont: Callable[[], None] | None = None
        self.hold_at_cont = False      # --gdb: the guest waits for the person's debugger
        self.early_console = b""
        self.firmware: Firmware | None = None
        self._dram_base = 0x40000000

    def configure(self, target: Any) -> None:
        """Take what the harness target adds to the labgrid environment: its firmware.

        With `firmware:` the target boots as a board does: the firmware is QEMU's -kernel
        (entered at EL3), the loader is loaded beside it with `-device loader`, and the
        firmware's mailbox gets the loader's entry; the firmware enters it at EL2."""
        self.firmware = firmware_for(target)
        self._dram_base = target.dram[0]

    def prepare(self, image: Path, extra_args: list[str]) -> None:
        """Choose what the next power-on boots (only while off)."""
        self.transition("off")
        if self._base_args is None:
            self._base_args = self.qemu.extra_args or ""
        key = self.qemu.kernel or "kernel"
        self.qemu.kernel = key
        boot_args: list[str] = []
        if self.firmware is not None:
            load, entry = loader_placement(Path(image), self._dram_base)
            boot_args = load + ["-device", f"loader,addr={self.firmware.mailbox:#x},"
                                           f"data={entry:#x},data-len=8"]
            image = self.firmware.elf
        set_image(self.target, key, image)
        self.qemu.extra_args = " ".join([self._base_args, *boot_args, *extra_args]).strip()

    def bootstrap(self, rec: Any, tl: Any, target: Any, payload: Any) -> None:
        """Nothing runs before the elfloader: QEMU starts it directly."""

    def command_line(self) -> list[str]:
        """The exact QEMU command the next power-on runs: labgrid builds it when the
        driver activates, console socket and QMP included (`standalone()` makes it
        one a person can run)."""
        self.transition("off")
        return labgrid_command(self.target, self.qemu)

    def transition(self, status: str | Status) -> None:
        if not isinstance(status, Status):
            status = Status[status]
        if status == Status.unknown:
            raise StrategyError(f"can not transition to {status}")
        if status == self.status:
            return
        if status == Status.off:
            self._stop()
        elif status == Status.running:
            self._stop()
            self.target.activate(self.qemu)
            self.power_on_ns = time.monotonic_ns()
            self._start_with_watchdog()
        self.status = status

    def _start_with_watchdog(self) -> None:
        hook, self.before_cont = self.before_cont, None
        hold, self.hold_at_cont = self.hold_at_cont, False
        try:
            self.early_console = start_qemu(self.qemu, self.power_on_timeout, hook, hold)
        except BootFailure:
            self._stop()
            raise

    @property
    def console(self) -> Any:
        """labgrid's console, with what the drain read during start-up served first."""
        early, self.early_console = self.early_console, b""
        return PrefixedConsole(self.qemu, early)

    def is_alive(self) -> bool:
        child = self.qemu._child
        return child is not None and child.poll() is None

    def _stop(self) -> None:
        """Quit our QEMU and let go of the driver."""
        stop_qemu(self.qemu)
        self.target.deactivate(self.qemu)

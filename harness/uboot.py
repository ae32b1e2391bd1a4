"""The U-Boot `bootm` path: a labgrid Strategy, off -> uboot -> loader -> handoff.

On the boards the elfloader is reached through U-Boot: interrupt autoboot, get
a prompt, fetch a uImage or FIT by TFTP, `bootm ADDR[#conf] - ${fdtcontroladdr}`.
`UBootBootStrategy` drives exactly that, on QEMU (`QEMUDriver` is power and
console) and on boards (any labgrid power driver + `SerialDriver`, locally or
through a `RemotePlace`), with TFTP served by labgrid's `TFTPProvider`.

States: `off`; `running` (powered, console attached: what boot.py asks for);
`uboot` (at a verified prompt); `loader` (`Starting kernel ...` seen: the
elfloader runs); `handoff` (the loader's hand-off line seen, standalone use).
In a harness boot, `bootstrap()` walks running -> uboot -> loader and
`boot.follow` takes the loader and kernel phases.

Why not labgrid's UBootDriver: it reads the console through pexpect itself,
so U-Boot's lines would bypass our ConsoleRecorder (no host timestamps, no
timeline); its prompt wait sends blind interrupts and fixed 2 s probes; and its
boot step expects Linux. The facts it needs (prompt, autoboot text, interrupt)
are the target YAML's `harness.uboot` section, validated in one place. Every
byte here goes through `rec.wait_for` with `tl.feed`, so U-Boot's phases join
the same timeline as the loader's.

Robustness: the autoboot interrupt is re-sent while the countdown is still on
the line (up to `retries`), a silent console is nudged, a missed window is
answered with Ctrl-C and then a power cycle; after the prompt the console is
resynchronised with an `echo` marker, and every command is checked against its
echo before Enter is pressed (a UART that drops characters never executes a
garbled command).

Failures are classified: infrastructure (no console output, no prompt, a
garbled console, TFTP failure, staging failure, lost console) versus product
(U-Boot rejects the image, bootm never starts it, the loader's own errors).
"""
from __future__ import annotations

import enum
import os
import re
import shlex
import socket
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import attr
import pexpect
from labgrid.driver import QEMUDriver
from labgrid.factory import target_factory
from labgrid.protocol import ConsoleProtocol, PowerProtocol
from labgrid.resource.common import NetworkResource
from labgrid.strategy.common import Strategy, StrategyError

from .strategy import labgrid_command, start_qemu, stop_qemu
from .console import ConsoleLine, ConsoleRecorder
from .errors import BootFailure, HarnessError
from .images.package import Package, package
from .phases import Event, Timeline
from .protocol import Patterns
from .targets import Target, UBoot, load

TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
CTRL_C = "\x03"
WAIT_PHASE = "u-boot wait"      # the phase of our own waits' timeouts (never reported)


# -- the command sequence (pure: unit-tested for every U-Boot target) ---------

def render(text: str, environ: Mapping[str, str] | None = None,
           field: str = "harness.uboot.setup") -> str:
    """Expand `{{NAME}}` from the environment (U-Boot keeps its own `${var}`)."""
    env = os.environ if environ is None else environ

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            raise HarnessError(f"'{{{{{name}}}}}' is not set in the environment", field=field,
                               fix=f"export {name}=... (see docs/lab.md)")
        return env[name]
    return TEMPLATE.sub(value, text)


def template_names(target: Target) -> list[str]:
    """Environment variables the target's U-Boot commands need."""
    u = target.uboot
    return sorted({m.group(1) for c in (u.setup if u else ()) for m in TEMPLATE.finditer(c)})


def command_parts(target: Target, image: str, environ: Mapping[str, str] | None = None
                  ) -> tuple[list[str], str | None, str]:
    """(setup commands, transfer command or None, boot command) for `image`."""
    u = _uboot(target)
    setup = [render(c, environ) for c in u.setup]
    transfer = f"tftpboot {u.load_addr:#x} {image}" if u.transport == "tftp" else None
    spec = f"{u.load_addr:#x}" + (f"#{u.fit_config}" if u.package == "fit" else "")
    boot = f"bootm {spec} - {u.fdt}" if u.fdt else f"bootm {spec}"
    return setup, transfer, boot


def command_sequence(target: Target, image: str, environ: Mapping[str, str] | None = None
                     ) -> list[str]:
    """Every command sent at the U-Boot prompt, in order."""
    setup, transfer, boot = command_parts(target, image, environ)
    return setup + ([transfer] if transfer else []) + [boot]


def _uboot(target: Target) -> UBoot:
    if target.uboot is None:
        raise HarnessError("not a U-Boot target", file=target.path, field="harness.uboot",
                           fix="add a 'uboot:' section and 'boot: uboot'")
    return target.uboot


def check_layout(target: Target, pkg: Package) -> None:
    """The transfer buffer must lie in DRAM and must not overlap where bootm
    copies the data (a legacy image placed exactly 64 bytes below its load
    address is booted in place, which is fine)."""
    u = _uboot(target)
    base, size = target.dram
    lo, hi = u.load_addr, u.load_addr + pkg.size
    where = "harness.uboot.load_addr"
    if lo < base or hi > base + size:
        raise HarnessError(f"the {pkg.kind} ({pkg.size} bytes) at {lo:#x} does not fit in DRAM "
                           f"{base:#x}..{base + size:#x}", file=target.path, field=where,
                           fix="pick a transfer address inside the board's DRAM")
    in_place = pkg.kind == "uimage" and lo + 64 == pkg.load
    if not in_place and lo < pkg.load + pkg.data_bytes and pkg.load < hi:
        raise HarnessError(f"the transfer buffer {lo:#x}..{hi:#x} overlaps where bootm puts the "
                           f"image ({pkg.load:#x}..{pkg.load + pkg.data_bytes:#x})",
                           file=target.path, field=where,
                           fix=f"move it above {pkg.load + pkg.data_bytes:#x} or below "
                               f"{pkg.load - pkg.size:#x}")


def package_for(target: Target, boot_file: Path) -> Package:
    """Package `boot_file` the way the target's U-Boot section asks, and check the layout."""
    u = _uboot(target)
    pkg = package(boot_file, u.package, target.dram[0], config=u.fit_config, hashes=u.fit_hashes)
    check_layout(target, pkg)
    return pkg


def _placeholders(target: Target) -> dict[str, str]:
    """The environment, with `{{NAME}}` left in place for what is not set (dry runs)."""
    env = dict(os.environ)
    for name in template_names(target):
        env.setdefault(name, "{{" + name + "}}")
    return env


def dry_run_text(target: Target, pkg: Package, image: str, qemu: str | None = None,
                 tftp_root: str | None = None) -> str:
    """What a boot would do, without doing it.

    With QEMU (`qemu`: the standalone command, strategy.standalone) the text is a
    shell script a person pastes: the package linked into the TFTP folder QEMU
    serves, then QEMU with the console on the terminal; the U-Boot steps are
    comments to follow at the prompt. For a board: the package and the commands
    to type at its prompt, one per line."""
    u = _uboot(target)
    commands = command_sequence(target, image, _placeholders(target))
    what = f"{pkg.kind} {pkg.path} ({pkg.size} bytes; load {pkg.load:#x}, entry {pkg.entry:#x}"
    what += f"; {u.fit_config}, hashes {', '.join(pkg.hashes)})" if pkg.kind == "fit" else ")"
    out = [f"# package: {what}"]
    if u.transport == "tftp":
        out.append(f"# served by TFTP as '{image}'" + (f" from {tftp_root}" if tftp_root else
                   " (prefixed with the exporter's TFTPProvider 'external' path)"))
    if qemu is None:
        out.append(f"# U-Boot: interrupt autoboot ('{u.autoboot}') with {u.interrupt!r}, wait for "
                   f"the prompt {u.prompt!r}, resync, then send:")
        return "\n".join(out + commands)
    if u.transport == "tftp" and tftp_root:
        out += [f"mkdir -p {shlex.quote(tftp_root)}",
                f"ln -sfn {shlex.quote(str(pkg.path.resolve()))} "
                f"{shlex.quote(str(Path(tftp_root) / image))}"]
    key = "press Enter" if u.interrupt in ("\n", "\r") else f"type {u.interrupt!r}"
    out.append(f"# The console is this terminal; Ctrl-A X quits QEMU. At '{u.autoboot}' {key}, "
               f"then type at the prompt {u.prompt!r}:")
    out += [f"#   {c}" for c in commands]
    out.append(qemu)
    return "\n".join(out)


def dry_run_offline(target: Target, boot_file: Path) -> str:
    """A lab target's dry run: no coordinator is contacted."""
    pkg = package_for(target, boot_file)
    return dry_run_text(target, pkg, pkg.name)


def staged_name(internal: str, external: str, name: str) -> str:
    """The path a TFTP client asks for, as labgrid's TFTPProviderDriver computes it."""
    return external + os.path.join(internal, name)[len(internal):]


# -- the strategy ---------------------------------------------------------------

class Status(enum.Enum):
    unknown = 0
    off = 1
    running = 2
    uboot = 3
    loader = 4
    handoff = 5


ORDER = [Status.off, Status.running, Status.uboot, Status.loader, Status.handoff]


class _NoPrompt(Exception):
    """This power-on did not reach a prompt (the caller may power cycle)."""


class _Console:
    """The console as the recorder reads it: a read returns as soon as bytes
    arrive (SerialDriver would otherwise wait for `size` bytes), and a lost
    connection is an infrastructure failure instead of a traceback."""

    def __init__(self, strategy: "UBootBootStrategy") -> None:
        self._s = strategy

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes:
        if self._s._early:      # what the guest printed while QEMU was starting
            data, self._s._early = self._s._early, b""
            return data
        limit = max_size or max(size, 4096)
        try:
            data = bytes(self._s.serial.read(size=1, timeout=timeout, max_size=limit))
            if not data and self._s.is_qemu:    # readable but empty: the socket's end
                raise EOFError("the console socket closed")
            if len(data) == 1 and not self._s.is_qemu:
                # pyserial's socket:// hands out one byte per read: collect what follows
                # within 10 ms in one go (QEMUDriver does the same), not a step per byte.
                try:
                    data += bytes(self._s.serial.read(size=limit - 1, timeout=0.01,
                                                      max_size=limit - 1))
                except pexpect.TIMEOUT:
                    pass
            return data
        except pexpect.TIMEOUT:
            raise
        except Exception as exc:  # noqa: BLE001 - serial, socket, labgrid state errors alike
            raise self._s.lost_console(exc) from None

    def write(self, data: bytes) -> Any:
        try:
            return self._s.serial.write(data)
        except Exception as exc:  # noqa: BLE001
            raise self._s.lost_console(exc) from None


@target_factory.reg_driver
@attr.s(eq=False)
class UBootBootStrategy(Strategy):  # type: ignore[misc]
    """off -> running -> uboot -> loader (-> handoff): boot through U-Boot `bootm`."""

    bindings = {
        "power": PowerProtocol,
        "serial": ConsoleProtocol,
        "tftp": {"TFTPProviderDriver", None},
    }
    status: Status = attr.ib(default=Status.unknown)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.power_on_ns: int | None = None
        self._harness: Target | None = None
        self._image: Path | None = None
        self._extra: list[str] = []
        self._base_args: str | None = None
        self._package: Package | None = None
        self._rec: ConsoleRecorder | None = None
        self._tl: Timeline | None = None
        self._sync_no = 0
        self._console = _Console(self)
        self._early = b""
        self.power_on_timeout = 10.0    # boot.py sets the target's power_on timeout
        # Runs once when QEMU is resumed (QMP 'cont'): not supported here (see _qemu_on).
        self.before_cont: Callable[[], None] | None = None
        # Runs once right before `bootm` is sent: U-Boot is done with memory, the
        # loader has not run; a debugger arms its kernel-entry breakpoints here.
        self.before_bootm: Callable[[], None] | None = None

    # -- configuration ---------------------------------------------------------
    def configure(self, target: Target) -> None:
        """The harness target this strategy boots (BootSession calls this)."""
        self._harness = target

    @property
    def harness(self) -> Target:
        if self._harness is None:   # plain labgrid use: read our section of the env file
            self._harness = load(str(self.target.env.config_file))
        return self._harness

    @property
    def uboot(self) -> UBoot:
        return _uboot(self.harness)

    @property
    def is_qemu(self) -> bool:
        return isinstance(self.power, QEMUDriver)

    @property
    def qemu(self) -> Any:
        """The QEMUDriver (QMP for out-of-band verification), None on a board."""
        return self.power if self.is_qemu else None

    @property
    def console(self) -> _Console:
        return self._console

    def lost_console(self, exc: BaseException) -> BootFailure:
        tail = self._rec.tail() if self._rec else []
        return BootFailure(f"lost the console: {exc.__class__.__name__}: {exc}",
                           kind="infrastructure", phase="console", last_lines=tail)

    # -- what boot.py calls ----------------------------------------------------
    def prepare(self, image: Path, extra_args: list[str]) -> None:
        """Choose what the next power-on boots (only while off): package it now."""
        self.transition("off")
        self._image = image
        self._extra = list(extra_args)
        self._package = package_for(self.harness, image)
        if self.is_qemu:
            if self._base_args is None:
                self._base_args = self.power.extra_args or ""
            args = list(self._extra)
            if self.uboot.transport == "tftp" and "-netdev" not in self._base_args:
                # User networking sealed off from the host (restrict=on) whose TFTP server
                # serves the provider's directory, on a virtio-mmio NIC (no option ROM).
                args += ["-netdev", f"user,id=uboot-net,tftp={self._tftp_root()},restrict=on",
                         "-device", "virtio-net-device,netdev=uboot-net"]
            if self.uboot.transport == "loader":   # no network: QEMU puts the package in RAM
                args += ["-device", f"loader,file={self._package.path},"
                                    f"addr={self.uboot.load_addr:#x},force-raw=on"]
            self.power.extra_args = " ".join([self._base_args, *map(shlex.quote, args)]).strip()

    @property
    def package(self) -> Package:
        if self._package is None:
            raise StrategyError("prepare() was not called: nothing to boot")
        return self._package

    def command_line(self) -> list[str]:
        """The exact QEMU command the next power-on runs, console socket and QMP included
        (labgrid builds it when the driver activates); [] for a board."""
        if not self.is_qemu:
            return []
        self.transition("off")
        return labgrid_command(self.target, self.power)

    def uboot_commands(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """The commands the next boot sends at the prompt (for --dry-run)."""
        return command_sequence(self.harness, self._predicted_name(), environ)

    def dry_run(self, qemu_line: str | None) -> str:
        """--dry-run: the package, the U-Boot commands and (QEMU) the standalone command."""
        root = None
        if self.uboot.transport == "tftp" and self.tftp is not None and \
                not isinstance(self.tftp.provider, NetworkResource):
            root = str(self._tftp_root())
        return dry_run_text(self.harness, self.package, self._predicted_name(),
                            qemu_line if self.is_qemu else None, root)

    def bootstrap(self, rec: ConsoleRecorder, tl: Timeline, target: Target, payload: Any) -> None:
        """running -> uboot -> loader: prompt, transfer, bootm, `Starting kernel`."""
        if self._harness is None or self._harness.path != target.path:
            self._harness = target
            if self._image is not None:
                self._package = package_for(target, self._image)
        self._rec, self._tl = rec, tl
        self._to_prompt(rec, tl)
        self._load(rec, tl)
        self._bootm(rec, tl)

    def is_alive(self) -> bool:
        if self.is_qemu:
            child = self.power._child
            return child is not None and child.poll() is None
        return bool(getattr(self.serial, "status", 1))

    # -- states ------------------------------------------------------------------
    def force(self, status: str | Status) -> None:
        self.status = status if isinstance(status, Status) else Status[status]

    def transition(self, status: str | Status) -> None:
        if not isinstance(status, Status):
            try:
                status = Status[status]
            except KeyError:
                raise StrategyError(f"unknown state '{status}'") from None
        if status == Status.unknown:
            raise StrategyError(f"can not transition to {status}")
        if status == self.status:
            return
        if status == Status.off:
            self._stop()
        elif status == Status.running:
            self._stop()
            self._power_on()
        else:
            # Walk forward from where we are; anything past the goal starts over.
            if self.status not in ORDER[1:] or ORDER.index(self.status) > ORDER.index(status):
                self.transition(Status.running)
            rec, tl = self._recorder()
            if self.status == Status.running:
                self._to_prompt(rec, tl)
            if status in (Status.loader, Status.handoff) and self.status == Status.uboot:
                self._load(rec, tl)
                self._bootm(rec, tl)
            if status == Status.handoff and self.status == Status.loader:
                self._await_handoff(rec, tl)

    def _recorder(self) -> tuple[ConsoleRecorder, Timeline]:
        """Standalone transitions (not through boot.py) read with a recorder of their own."""
        if self._rec is None or self._tl is None:
            self._rec = ConsoleRecorder(self.console, None, self.is_alive)
            self._tl = Timeline(self.power_on_ns or time.monotonic_ns(),
                                Patterns.for_target(self.harness.phases))
        return self._rec, self._tl

    # -- power -------------------------------------------------------------------
    def _power_on(self) -> None:
        try:
            if self.is_qemu:
                self.target.activate(self.power)      # QEMUDriver: power and console
                self.power_on_ns = time.monotonic_ns()
                self._qemu_on()                       # starts paused, `cont` once attached
            else:
                self.target.activate(self.serial)     # attach first: no byte is lost
                self.target.activate(self.power)
                self.power.off()                      # a clean start, whatever ran before
                time.sleep(float(getattr(self.power, "delay", 0.0) or 0.0))
                self._drain()
                self.power_on_ns = time.monotonic_ns()
                self.power.on()
        except BootFailure:
            self._stop()
            raise
        except Exception as exc:  # noqa: BLE001 - PDU unreachable, QEMU refusing to start, ...
            from .lab import resources_gone
            gone = resources_gone(self.target)     # labgrid says only KeyError: 'params'
            why = (f"the lab's exporter no longer offers {', '.join(gone)} for this place "
                   f"(is its labgrid-exporter running?)" if gone else
                   f"{exc.__class__.__name__}: {exc}")
            self._stop()
            raise BootFailure(f"power-on failed: {why}", kind="infrastructure",
                              phase="power-on") from None
        self.status = Status.running

    def _qemu_on(self) -> None:
        """QEMUDriver.on() with the console drained from 'cont' on, under a watchdog."""
        if self.before_cont is not None:
            # Out-of-band verification arms at QEMU's first `cont` and runs the guest to the
            # loader's entry right there; with U-Boot in front the loader only runs after
            # bootm, which this strategy sends later. Say so instead of hanging.
            self.before_cont = None
            raise BootFailure("a before_cont hook with U-Boot in front: arm at before_bootm "
                              "instead (the loader runs only after bootm)",
                              kind="infrastructure", phase="power-on")
        self._early = start_qemu(self.power, self.power_on_timeout)

    def _drain(self, quiet: float = 0.2, limit: float = 2.0) -> None:
        """Discard what an earlier boot left in the console buffers."""
        port = getattr(self.serial, "serial", None)     # SerialDriver's pyserial port
        if port is not None and hasattr(port, "reset_input_buffer"):
            time.sleep(quiet)
            port.reset_input_buffer()
            return
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                self.console.read(size=1, timeout=quiet, max_size=4096)
            except pexpect.TIMEOUT:
                return

    def _power_cycle(self, rec: ConsoleRecorder, tl: Timeline, attempt: int) -> None:
        tl.events.append(Event("uboot.powercycle", time.monotonic_ns(), {"attempt": str(attempt)},
                               f"power cycle for attempt {attempt}"))
        try:
            if self.is_qemu:
                self._stop_qemu_child()
                self._qemu_on()
            else:
                self.power.cycle()
        except Exception as exc:  # noqa: BLE001
            raise BootFailure(f"power cycle failed: {exc.__class__.__name__}: {exc}",
                              kind="infrastructure", phase="power-on",
                              last_lines=rec.tail()) from None

    def _stop_qemu_child(self) -> None:
        stop_qemu(self.power)

    def _stop(self) -> None:
        """Power off and let go of every driver this boot activated."""
        self._rec, self._tl = None, None
        try:
            if self.is_qemu:
                self._stop_qemu_child()
                self.target.deactivate(self.power)
            else:
                try:
                    if self.power.state.name == "active":
                        self.power.off()
                except Exception as exc:  # noqa: BLE001 - still release the console
                    self.logger.warning("power off failed: %s", exc)
                for drv in (self.serial, self.power, self.tftp):
                    if drv is not None:
                        self.target.deactivate(drv)
        finally:
            self.status = Status.off

    # -- helpers over the recorder ---------------------------------------------------
    @staticmethod
    def _wait(rec: ConsoleRecorder, match: Callable[[ConsoleLine], Any], timeout: float,
              what: str, partial: Callable[[str], Any] | None = None) -> Any:
        """`rec.wait_for`, but its timeout returns None (anything else still raises:
        a lost console, a failure `match` raised)."""
        try:
            return rec.wait_for(match, timeout, WAIT_PHASE, what, partial=partial)
        except BootFailure as exc:
            if exc.phase == WAIT_PHASE and exc.message.startswith("timed out"):
                return None
            raise

    def _prompt_at(self, text: str) -> bool:
        return text.endswith(self.uboot.prompt)

    def _note(self, tl: Timeline, name: str, text: str, **fields: str) -> None:
        tl.events.append(Event(name, time.monotonic_ns(), dict(fields), text))

    # -- off/running -> uboot ---------------------------------------------------------
    def _to_prompt(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        u = self.uboot
        last = ""
        for attempt in range(1, u.retries + 1):
            try:
                self._reach_prompt(rec, tl)
                break
            except _NoPrompt as exc:
                last = str(exc)
                if attempt == u.retries:
                    raise BootFailure(f"no U-Boot prompt '{u.prompt.strip()}' after {attempt} "
                                      f"power-on(s): {last}", kind="infrastructure",
                                      phase="u-boot", last_lines=rec.tail()) from None
                self._power_cycle(rec, tl, attempt + 1)
        self._sync(rec, tl)
        self.status = Status.uboot

    def _reach_prompt(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        u, t = self.uboot, self.harness.timeouts
        autoboot = re.compile(u.autoboot)

        def first(line: ConsoleLine) -> bool:
            tl.feed(line)
            return True
        if self._wait(rec, first, t.power_on, "the first console output",
                      partial=lambda s: True if s else None) is None:
            raise _NoPrompt(f"no console output within {t.power_on:g} s of power-on")

        booting = ("uboot.tftp", "uboot.booting", "uboot.starting", "loader.banner")

        def watch(line: ConsoleLine) -> str | None:
            ev = tl.feed(line)
            return "booting" if isinstance(ev, Event) and ev.name in booting else None

        def state(text: str) -> str | None:
            if self._prompt_at(text):
                return "prompt"
            return "autoboot" if autoboot.search(text) else None

        deadline = time.monotonic() + t.uboot
        interrupts = 0
        while (left := deadline - time.monotonic()) > 0:
            what = self._wait(rec, watch, min(left, 2.0), "the U-Boot prompt", partial=state)
            if what is None:
                # Quiet: a prompt we cannot see yet, or a console that needs a key.
                rec.send(u.interrupt)
                interrupts += 1
                continue
            if what == "prompt":
                self._note(tl, "uboot.prompt", u.prompt)
                return
            if what == "booting":
                # The countdown ran out before we saw it: Ctrl-C stops most boot commands.
                rec.send(CTRL_C)
                if self._wait(rec, lambda line: tl.feed(line) and None, 3.0, "a prompt after Ctrl-C",
                              partial=lambda s: True if self._prompt_at(s) else None):
                    self._note(tl, "uboot.prompt", u.prompt)
                    return
                raise _NoPrompt("U-Boot went on booting before autoboot was interrupted")
            # Autoboot countdown on the line: interrupt, and again while it is still counting.
            for _ in range(u.retries):
                rec.send(u.interrupt)
                interrupts += 1
                got = self._wait(rec, watch, 1.0, "the prompt after the interrupt",
                                 partial=lambda s: "prompt" if self._prompt_at(s) else None)
                if got == "prompt":
                    self._note(tl, "uboot.prompt", u.prompt, interrupts=str(interrupts))
                    return
                if got == "booting":
                    break
            else:
                raise _NoPrompt(f"autoboot interrupted {interrupts} time(s), no prompt came")
        raise _NoPrompt(f"no prompt within {t.uboot:g} s ({interrupts} interrupt(s) sent)")

    def _sync(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        """Resynchronise: discard the line, echo a marker, see it and a fresh prompt."""
        u = self.uboot
        for _ in range(u.retries):
            self._sync_no += 1
            marker = f"HARNESS-SYNC-{os.getpid()}-{self._sync_no}"
            rec.send(CTRL_C)
            rec.send(f"echo {marker}\n")

            def seen(line: ConsoleLine, marker: str = marker) -> bool | None:
                tl.feed(line)
                return True if line.text.strip() == marker else None
            if self._wait(rec, seen, 3.0, "the sync marker") and \
                    self._wait(rec, lambda line: tl.feed(line) and None, 2.0, "the prompt",
                               partial=lambda s: True if self._prompt_at(s) else None):
                return
        raise BootFailure(f"the console does not answer at the U-Boot prompt ({u.retries} "
                          "resync attempts)", kind="infrastructure", phase="u-boot",
                          last_lines=rec.tail())

    # -- commands -------------------------------------------------------------------------
    def _type(self, rec: ConsoleRecorder, tl: Timeline, cmd: str, phase: str) -> None:
        """Type `cmd` and press Enter only once its echo is exactly right."""
        u = self.uboot
        want = u.prompt + cmd
        echo_s = 2.0 + len(cmd) * float(getattr(self.serial, "txdelay", 0.0) or 0.0)
        for _ in range(u.retries):
            rec.send(cmd)
            if self._wait(rec, lambda line: tl.feed(line) and None, echo_s, f"the echo of '{cmd}'",
                          partial=lambda s: True if s.endswith(want) else None):
                rec.send("\n")
                return
            self._sync(rec, tl)      # Ctrl-C discards the garbled line
        raise BootFailure(f"the console garbles commands: '{cmd}' never echoed intact",
                          kind="infrastructure", phase=phase, last_lines=rec.tail())

    def _command(self, rec: ConsoleRecorder, tl: Timeline, cmd: str, timeout: float, phase: str,
                 kind: str, until: str | None = None) -> Event | None:
        """Run `cmd`; fail with `kind` on a U-Boot error. With `until`, return at that
        event (the prompt coming back first is a failure); else at the next prompt."""
        self._type(rec, tl, cmd, phase)

        def match(line: ConsoleLine) -> Event | None:
            ev = tl.feed(line)
            if isinstance(ev, Event):
                if ev.name == "uboot.error":
                    raise BootFailure(f"U-Boot: {ev.fields.get('text', ev.text)} (after '{cmd}')",
                                      kind=kind, phase=phase, last_lines=rec.tail())
                if until is not None and ev.name == until:
                    return ev
            return None

        def prompt(text: str) -> str | None:
            return "prompt" if self._prompt_at(text) else None
        hit = self._wait(rec, match, timeout, f"'{cmd}'", partial=prompt)
        if hit is None:
            raise BootFailure(f"timed out after {timeout:g} s waiting for '{cmd}'", kind=kind,
                              phase=phase, last_lines=rec.tail())
        if until is not None and hit == "prompt":
            raise BootFailure(f"'{cmd}' returned to the prompt without '{until}'", kind=kind,
                              phase=phase, last_lines=rec.tail())
        return hit if isinstance(hit, Event) else None

    # -- uboot -> loader ------------------------------------------------------------------
    def _tftp_root(self) -> Path:
        """The local TFTP root (a relative `internal` is relative to the env file)."""
        if self.tftp is None:
            raise HarnessError("transport 'tftp' but no TFTPProvider in the environment",
                               file=self.harness.path, field="targets.main.resources",
                               fix="add 'TFTPProvider: {internal: ../build/tftp/, external: \"\"}' "
                                   "and 'TFTPProviderDriver: {}'")
        internal = str(self.tftp.provider.internal)
        env = getattr(self.target, "env", None)
        root = Path(os.path.normpath(env.config.resolve_path(internal) if env is not None
                                     else os.path.abspath(internal)))
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _predicted_name(self) -> str:
        pkg = self.package
        if self.uboot.transport != "tftp" or self.tftp is None:
            return pkg.name
        prov = self.tftp.provider
        return staged_name(str(prov.internal), str(prov.external), pkg.name)

    def _stage(self) -> str:
        """Put the package where the board's TFTP server serves it."""
        pkg = self.package
        if self.uboot.transport != "tftp":
            return pkg.name
        if self.tftp is None:
            raise BootFailure("transport 'tftp' but the environment has no TFTPProvider/"
                              "TFTPProviderDriver", kind="infrastructure", phase="load")
        prov = self.tftp.provider
        host = getattr(prov, "host", "localhost")
        try:
            if not isinstance(prov, NetworkResource) or host in LOCAL_HOSTS \
                    or host == socket.gethostname():
                # The TFTP root is on this machine (local QEMU, or an exporter running
                # here): link the file in directly (labgrid would ssh to itself).
                internal = self._tftp_root()
                tmp = internal / f".{pkg.name}.{os.getpid()}"
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(pkg.path.resolve())
                tmp.replace(internal / pkg.name)
                return staged_name(str(prov.internal), str(prov.external), pkg.name)
            self.target.activate(self.tftp)
            return str(self.tftp.stage(str(pkg.path)))    # labgrid: rsync/ssh + symlink
        except Exception as exc:  # noqa: BLE001
            raise BootFailure(f"staging {pkg.name} on the TFTP server ({host}) failed: "
                              f"{exc.__class__.__name__}: {exc}", kind="infrastructure",
                              phase="load") from None

    def _load(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        """Network set-up and the transfer; any failure here is the lab's."""
        t = self.harness.timeouts
        name = self._stage()
        setup, transfer, _ = command_parts(self.harness, name)
        for cmd in setup:
            self._command(rec, tl, cmd, t.load, "load", "infrastructure")
        if transfer is None:
            return
        before = len([e for e in tl.events if e.name == "uboot.loaded"])
        self._command(rec, tl, transfer, t.load, "load", "infrastructure")
        loaded = [e for e in tl.events if e.name == "uboot.loaded"][before:]
        if not loaded:
            raise BootFailure(f"TFTP failure: '{transfer}' reported no 'Bytes transferred'",
                              kind="infrastructure", phase="load", last_lines=rec.tail())
        got = int(loaded[-1].fields["bytes"])
        if got != self.package.size:
            raise BootFailure(f"TFTP failure: {got} bytes transferred, {self.package.name} has "
                              f"{self.package.size} (the file the server sent is "
                              f"{'truncated' if got < self.package.size else 'not this package'})",
                              kind="infrastructure", phase="load", last_lines=rec.tail())

    def _bootm(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        """bootm until `Starting kernel ...`: U-Boot rejecting the image is the product's."""
        _, _, boot = command_parts(self.harness, self.package.name)
        hook, self.before_bootm = self.before_bootm, None
        if hook is not None:
            hook()      # e.g. out-of-band verification arming its kernel-entry breakpoints
        self._command(rec, tl, boot, self.harness.timeouts.loader, "bootm", "product",
                      until="uboot.starting")
        self.status = Status.loader

    def _await_handoff(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        t = self.harness.timeouts

        def match(line: ConsoleLine) -> Event | None:
            ev = tl.feed(line)
            if isinstance(ev, Event) and ev.name in ("loader.error", "loader.abort"):
                raise BootFailure(f"loader error: {ev.text}", kind="product", phase="unpack",
                                  last_lines=rec.tail())
            return ev if isinstance(ev, Event) and ev.name == "handoff" else None
        rec.wait_for(match, t.loader + t.unpack, "unpack", "the hand-off line")
        self.status = Status.handoff

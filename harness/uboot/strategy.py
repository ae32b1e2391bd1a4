"""The labgrid `UBootBootStrategy`: the state machine off -> running -> uboot -> loader.

This is what boot.py and plain labgrid users talk to: it owns power (QEMUDriver
or any labgrid power driver + SerialDriver, locally or through a RemotePlace),
the states and their transitions, and the order of a boot: prompt, load,
`bootm`, `Starting kernel ...`. It classifies failures: infrastructure (no
console output, no prompt, a garbled console, TFTP or staging failure, lost
console) versus product (U-Boot rejects the image, bootm never starts it, the
loader's own errors). The prompt dialogue (console.py) and the TFTP staging
(staging.py) are its mixins; the commands come from commands.py.
"""

from __future__ import annotations

import enum
import shlex
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import attr
import pexpect
from labgrid.driver import QEMUDriver
from labgrid.factory import target_factory
from labgrid.protocol import ConsoleProtocol, PowerProtocol
from labgrid.resource.common import NetworkResource
from labgrid.strategy.common import StrategyError

from ..console import ConsoleLine, ConsoleRecorder
from ..errors import BootFailure, HarnessError
from ..images.package import Package
from ..labgrid_fixes import resources_gone
from ..phases import Event, Timeline
from ..console_lines import Patterns
from ..qemu.command import labgrid_command, one_tcg_thread, standalone
from ..qemu.firmware import firmware_for
from ..qemu.process import exit_status, start_qemu, stop_qemu
from ..qemu.strategy import set_image
from ..strategy_contract import BootStrategy, LabgridStrategy, goal_state, power_step
from ..targets import Target, UBoot, load
from .commands import _uboot, command_parts, command_sequence, dry_run_text
from .prompt import PromptDialogue, _Console, _NoPrompt
from .placement import Placement
from .qemu_start import firmware_args, network_args, sd_card_args
from .sdcard import write_card
from .source_build import built_uboot
from .staging import TFTPStaging, package_for


def card_contents(pkg: Package) -> dict[str, Path]:
    """What the SD card holds for `pkg` (`transport: mmc`): the package under its own name."""
    return {pkg.name: pkg.path}


class Status(enum.Enum):
    unknown = 0
    off = 1
    running = 2
    uboot = 3
    loader = 4
    handoff = 5


ORDER = [Status.off, Status.running, Status.uboot, Status.loader, Status.handoff]


@target_factory.reg_driver
@attr.s(eq=False)
class UBootBootStrategy(LabgridStrategy, PromptDialogue, TFTPStaging):
    """off -> running -> uboot -> loader (-> handoff): boot through U-Boot `bootm`."""

    bindings = {
        "power": PowerProtocol,
        "serial": ConsoleProtocol,
        "tftp": {"TFTPProviderDriver", None},
    }
    status: Status = attr.ib(default=Status.unknown)
    # bound by labgrid: QEMUDriver or any power driver, its console, the TFTP provider
    power: Any
    serial: Any
    tftp: Any

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.power_on_ns: int | None = None
        self._harness: Target | None = None
        self._image: Path | None = None
        self._extra: list[str] = []
        self._base_args: str | None = None
        self._package: Package | None = None
        self._placement: Placement | None = None
        self._rec: ConsoleRecorder | None = None
        self._tl: Timeline | None = None
        self._sync_no = 0
        self._console = _Console(self)
        self._early = b""
        self.power_on_timeout = 10.0  # boot.py sets the target's power_on timeout
        # Runs once right before `bootm` is sent: U-Boot is done with memory, the
        # loader has not run; a debugger arms its kernel-entry breakpoints here.
        self._before_bootm: Callable[[], None] | None = None

    # -- configuration ---------------------------------------------------------
    def configure(self, target: Target) -> None:
        """The harness target this strategy boots (BootSession calls this)."""
        self._harness = target

    @property
    def harness(self) -> Target:
        if self._harness is None:  # plain labgrid use: read our section of the env file
            self._harness = load(str(self.target.env.config_file))
        return self._harness

    @property
    def uboot(self) -> UBoot:
        return _uboot(self.harness)

    @property
    def stages_image(self) -> bool:
        """U-Boot fetches and unpacks the package: the guest runs before the loader does."""
        return True

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
        return BootFailure(
            f"lost the console: {exc.__class__.__name__}: {exc}",
            kind="infrastructure",
            phase="console",
            last_lines=tail,
        )

    # -- what boot.py calls ----------------------------------------------------
    def prepare(self, image: Path, extra_args: list[str]) -> None:
        """Choose what the next power-on boots (only while off): package it now."""
        self.transition("off")
        self._image = image
        self._extra = list(extra_args)
        self._package, self._placement = package_for(self.harness, image)
        if self.is_qemu:
            if self._base_args is None:
                self._base_args = self.power.extra_args or ""
            args = one_tcg_thread(f"{self.power.machine} {self._base_args}") + self._firmware_args() + list(self._extra)
            if self.uboot.transport == "tftp" and "-netdev" not in self._base_args and "-nic" not in self._base_args:
                args += network_args(self.harness.machine, self._tftp_root())
            if self.uboot.transport == "mmc":  # the SD card U-Boot reads with `load mmc`
                card = write_card(card_contents(self._package))
                args += sd_card_args(self.harness.machine, self.uboot.mmc, card)
            if self.uboot.transport == "loader":  # no network: QEMU puts the package in RAM
                args += ["-device", f"loader,file={self._package.path},addr={self.placement.addr:#x},force-raw=on"]
            self.power.extra_args = " ".join([self._base_args, *map(shlex.quote, args)]).strip()

    def _firmware_args(self) -> list[str]:
        """With `firmware:` (QEMU): the firmware becomes -kernel and U-Boot (the `uboot`
        image, built first when it comes from Debian's source) goes in beside it."""
        firmware = firmware_for(self.harness)
        if firmware is None:
            return []
        uboot = built_uboot(Path(self.target.env.config.get_image_path("uboot")))
        key = self.power.kernel or "kernel"
        self.power.kernel = key
        set_image(self.target, key, firmware.elf)
        return firmware_args(firmware, uboot, self.harness.dram[0])

    @property
    def package(self) -> Package:
        if self._package is None:
            raise StrategyError("prepare() was not called: nothing to boot")
        return self._package

    @property
    def placement(self) -> Placement:
        """Where the package is staged (placement.place)."""
        if self._placement is None:
            raise StrategyError("prepare() was not called: nothing to boot")
        return self._placement

    def command_line(self) -> list[str]:
        """The exact QEMU command the next power-on runs, console socket and QMP included
        (labgrid builds it when the driver activates); [] for a board."""
        if not self.is_qemu:
            return []
        self.transition("off")
        return labgrid_command(self.target, self.power)

    def uboot_commands(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """The commands the next boot sends at the prompt (for --dry-run)."""
        return command_sequence(self.harness, self._predicted_name(), self.placement, environ)

    def dry_run(self, label: str) -> str:
        """--dry-run: the package, the U-Boot commands and (QEMU) the standalone command."""
        root = None
        if (
            self.uboot.transport == "tftp"
            and self.tftp is not None
            and not isinstance(self.tftp.provider, NetworkResource)
        ):
            root = str(self._tftp_root())
        qemu_line = shlex.join(standalone(self.command_line())) if self.is_qemu else None
        return dry_run_text(self.harness, self.package, self._predicted_name(), self.placement, qemu_line, root)

    def at_loader_start(self, hook: Callable[[], None], hold: bool = False) -> None:
        """`hook` runs right before `bootm`, the guest running U-Boot; a guest cannot be
        held there for a person's debugger (U-Boot runs first and needs no help)."""
        if hold:
            raise HarnessError(
                "a guest behind U-Boot cannot be held at the loader entry",
                file=self.harness.path,
                field="harness.boot",
                fix="use a QEMU target that starts the loader directly",
            )
        self._before_bootm = hook

    def monitor(self, command: str, arguments: dict[str, Any]) -> Any:
        if not self.is_qemu:
            raise HarnessError(
                "QMP needs QEMU: this target is a board", file=self.harness.path, fix="use a QEMU target"
            )
        return self.power.monitor_command(command, arguments)

    def qemu_exit(self, wait: float) -> int | None:
        return exit_status(self.power, wait) if self.is_qemu else None

    def bootstrap(self, rec: ConsoleRecorder, tl: Timeline, target: Target, payload: Any) -> None:
        """running -> uboot -> loader: prompt, transfer, bootm, `Starting kernel`."""
        if self._harness is None or self._harness.path != target.path:
            self._harness = target
            if self._image is not None:
                self._package, self._placement = package_for(target, self._image)
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
        status = goal_state(status, Status)
        if power_step(self.status, status, self._stop, self._power_on):
            return
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
            self._tl = Timeline(self.power_on_ns or time.monotonic_ns(), Patterns.for_target(self.harness.phases))
        return self._rec, self._tl

    # -- power -------------------------------------------------------------------
    def _power_on(self) -> None:
        try:
            if self.is_qemu:
                self.target.activate(self.power)  # QEMUDriver: power and console
                self.power_on_ns = time.monotonic_ns()
                self._qemu_on()  # starts paused, `cont` once attached
            else:
                self.target.activate(self.serial)  # attach first: no byte is lost
                self.target.activate(self.power)
                self.power.off()  # a clean start, whatever ran before
                time.sleep(float(getattr(self.power, "delay", 0.0) or 0.0))
                self._drain()
                self.power_on_ns = time.monotonic_ns()
                self.power.on()
        except BootFailure:
            self._stop()
            raise
        except Exception as exc:  # noqa: BLE001 - PDU unreachable, QEMU refusing to start, ...
            gone = resources_gone(self.target)  # labgrid says only KeyError: 'params'
            why = (
                f"the lab's exporter no longer offers {', '.join(gone)} for this place "
                f"(is its labgrid-exporter running?)"
                if gone
                else f"{exc.__class__.__name__}: {exc}"
            )
            self._stop()
            raise BootFailure(f"power-on failed: {why}", kind="infrastructure", phase="power-on") from None
        self.status = Status.running

    def _qemu_on(self) -> None:
        """QEMUDriver.on() with the console drained from 'cont' on, under a watchdog."""
        self._early = start_qemu(self.power, self.power_on_timeout)

    def _drain(self, quiet: float = 0.2, limit: float = 2.0) -> None:
        """Discard what an earlier boot left in the console buffers."""
        port = getattr(self.serial, "serial", None)  # SerialDriver's pyserial port
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
        tl.events.append(
            Event(
                "uboot.powercycle", time.monotonic_ns(), {"attempt": str(attempt)}, f"power cycle for attempt {attempt}"
            )
        )
        try:
            if self.is_qemu:
                self._stop_qemu_child()
                self._qemu_on()
            else:
                self.power.cycle()
        except Exception as exc:  # noqa: BLE001
            raise BootFailure(
                f"power cycle failed: {exc.__class__.__name__}: {exc}",
                kind="infrastructure",
                phase="power-on",
                last_lines=rec.tail(),
            ) from None

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
                    raise BootFailure(
                        f"no U-Boot prompt '{u.prompt.strip()}' after {attempt} power-on(s): {last}",
                        kind="infrastructure",
                        phase="u-boot",
                        last_lines=rec.tail(),
                    ) from None
                self._power_cycle(rec, tl, attempt + 1)
        self._sync(rec, tl)
        self.status = Status.uboot

    def _load(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        """Network set-up and the transfer; any failure here is the lab's."""
        t = self.harness.timeouts
        name = self._stage()
        setup, transfer, _ = command_parts(self.harness, name, self.placement)
        for cmd in setup:
            self._command(rec, tl, cmd, t.load, "load", "infrastructure")
        if transfer is None:
            return
        # TFTP ends with `Bytes transferred = N`, `load mmc` with `N bytes read in M ms`
        mmc = self.uboot.transport == "mmc"
        event, what, says, moved = (
            ("uboot.read", "load mmc", "'N bytes read'", "read")
            if mmc
            else ("uboot.loaded", "TFTP", "'Bytes transferred'", "transferred")
        )
        source = "the card holds" if mmc else "the server sent"
        before = len([e for e in tl.events if e.name == event])
        self._command(rec, tl, transfer, self._scaled(t.load), "load", "infrastructure", step="load")
        loaded = [e for e in tl.events if e.name == event][before:]
        if not loaded:
            raise BootFailure(
                f"{what} failure: '{transfer}' reported no {says}",
                kind="infrastructure",
                phase="load",
                last_lines=rec.tail(),
            )
        got = int(loaded[-1].fields["bytes"])
        if got != self.package.size:
            raise BootFailure(
                f"{what} failure: {got} bytes {moved}, {self.package.name} has "
                f"{self.package.size} (the file {source} is "
                f"{'truncated' if got < self.package.size else 'not this package'})",
                kind="infrastructure",
                phase="load",
                last_lines=rec.tail(),
            )

    def _bootm(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        """bootm (bootelf) until `Starting kernel ...` (`## Starting application at ...`):
        U-Boot rejecting the image is the product's."""
        _, _, boot = command_parts(self.harness, self.package.name, self.placement)
        hook, self._before_bootm = self._before_bootm, None
        if hook is not None:
            hook()  # e.g. out-of-band verification arming its kernel-entry breakpoints
        self._note(
            tl,
            "uboot.staging",
            self.placement.describe(self.package),
            addr=f"{self.placement.addr:#x}",
            in_place=str(self.placement.in_place).lower(),
        )
        self._command(
            rec,
            tl,
            boot,
            self._scaled(self.harness.timeouts.loader),
            "bootm",
            "product",
            until="uboot.starting",
            step="boot",
        )
        self._check_in_place(rec, tl)
        self.status = Status.loader

    def _scaled(self, seconds: float) -> float:
        """A step over the whole package (transfer, bootm's checksum and copy) gets the
        target's per-MiB allowance (unpack_per_mib) on top of its base timeout."""
        return seconds + self.harness.timeouts.unpack_per_mib * self.package.size / (1 << 20)

    def _check_in_place(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        """Staged in place, bootm must say so (`XIP ...`): a copy means the staging is wrong."""
        xip = [e for e in tl.events if e.name == "uboot.xip"]
        if self.placement.in_place and xip and xip[-1].fields.get("in_place") != "true":
            raise BootFailure(
                f"staged in place at {self.placement.addr:#x} but bootm copied the image ('{xip[-1].text.strip()}')",
                kind="setup",
                phase="bootm",
                last_lines=rec.tail(),
            )

    def _await_handoff(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        t = self.harness.timeouts

        def match(line: ConsoleLine) -> Event | None:
            ev = tl.feed(line)
            if isinstance(ev, Event) and ev.name in ("loader.error", "loader.abort"):
                raise BootFailure(f"loader error: {ev.text}", kind="product", phase="unpack", last_lines=rec.tail())
            return ev if isinstance(ev, Event) and ev.name == "handoff" else None

        rec.wait_for(match, t.loader + t.unpack, "unpack", "the hand-off line")
        self.status = Status.handoff


#: mypy checks the strategy against the contract boot.py and session.py use.
_CONTRACT: type[BootStrategy] = UBootBootStrategy

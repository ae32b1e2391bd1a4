"""The labgrid `QEMUBootStrategy`: how a QEMU target gets from off to a running image.

Tests never talk to QEMU or a board directly; they ask a strategy for a state.
`QEMUBootStrategy` boots an image with QEMU's `-kernel` (off -> running). The
image and per-boot QEMU arguments (memory poison, plugins, gdbstub) change from
boot to boot, so the strategy swaps them into the labgrid QEMUDriver while it is
deactivated; everything else comes from the environment file.
"""

from __future__ import annotations

import enum
import shlex
import time
from pathlib import Path
from typing import Any, Callable

import attr
from labgrid.factory import target_factory
from labgrid.strategy.common import StrategyError

from ..console import ConsoleRecorder
from ..errors import BootFailure
from ..payload import Payload
from ..phases import Timeline
from ..strategy_contract import BootStrategy, LabgridStrategy, goal_state, power_step
from ..targets import Target
from .command import QUIT_KEYS, labgrid_command, one_tcg_thread, standalone
from .drain import PrefixedConsole
from .firmware import Firmware, firmware_for, loader_placement
from .process import exit_status, start_qemu, stop_qemu


class Status(enum.Enum):
    unknown = 0
    off = 1
    running = 2


def set_image(target: Any, key: str, path: Path) -> None:
    """Point the environment's image `key` at `path` (labgrid resolves it on activate)."""
    target.env.config.data.setdefault("images", {})[key] = str(path)


@target_factory.reg_driver
@attr.s(eq=False)
class QEMUBootStrategy(LabgridStrategy):
    """off -> running: start QEMU with the image as -kernel and the console attached."""

    bindings = {"qemu": "QEMUDriver"}
    status: Status = attr.ib(default=Status.unknown)
    qemu: Any  # labgrid's QEMUDriver, bound by labgrid

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._base_args: str | None = None
        self.power_on_ns: int | None = None
        self.power_on_timeout = 10.0
        # Runs once when labgrid resumes the paused guest (QMP 'cont'): the one
        # moment a debugger can arm breakpoints before the first instruction.
        self._at_start: Callable[[], None] | None = None
        self._hold = False  # --gdb: the guest waits for the person's debugger
        self.early_console = b""
        self.firmware: Firmware | None = None
        self._harness: Target | None = None
        self._dram_base = 0x40000000

    def configure(self, target: Target) -> None:
        """Take what the harness target adds to the labgrid environment: its firmware.

        With `firmware:` the target boots as a board does: the firmware is QEMU's -kernel
        (entered at EL3), the loader is loaded beside it with `-device loader`, and the
        firmware's mailbox gets the loader's entry; the firmware enters it at EL2."""
        self._harness = target
        self.firmware = firmware_for(target)
        self._dram_base = target.dram[0]

    @property
    def stages_image(self) -> bool:
        """QEMU loads the image itself: the guest is paused before the loader's first
        instruction (or the firmware's, which QEMU loads too)."""
        return False

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
            boot_args = load + ["-device", f"loader,addr={self.firmware.mailbox:#x},data={entry:#x},data-len=8"]
            image = self.firmware.elf
        set_image(self.target, key, image)
        chosen = f"{self.qemu.machine} {self._base_args}"
        self.qemu.extra_args = " ".join([self._base_args, *one_tcg_thread(chosen), *boot_args, *extra_args]).strip()

    def bootstrap(self, rec: ConsoleRecorder, tl: Timeline, target: Target, payload: Payload) -> None:
        """Nothing runs before the elfloader: QEMU starts it directly."""

    def command_line(self) -> list[str]:
        """The exact QEMU command the next power-on runs: labgrid builds it when the
        driver activates, console socket and QMP included (`standalone()` makes it
        one a person can run)."""
        self.transition("off")
        return labgrid_command(self.target, self.qemu)

    def dry_run(self, label: str) -> str:
        """The prepared boot as one command a person pastes into a shell, the console
        on the terminal."""
        if self._harness is None:
            raise StrategyError("configure() was not called: no harness target")
        uart = self._harness.console_uart
        where = f" (UART at {uart:#x})" if uart else ""
        return (
            f"# {label} on {self._harness.name}: the console is this terminal{where}; "
            f"{QUIT_KEYS} quits QEMU, Ctrl-A C is its monitor.\n"
            f"{shlex.join(standalone(self.command_line()))}"
        )

    def at_loader_start(self, hook: Callable[[], None], hold: bool = False) -> None:
        """`hook` runs at QMP 'cont', the guest paused before its first instruction;
        `hold`: 'cont' is not sent, a person's debugger resumes the guest."""
        self._at_start, self._hold = hook, hold

    def monitor(self, command: str, arguments: dict[str, Any]) -> Any:
        return self.qemu.monitor_command(command, arguments)

    def qemu_exit(self, wait: float) -> int | None:
        return exit_status(self.qemu, wait)

    def transition(self, status: str | Status) -> None:
        status = goal_state(status, Status)
        if power_step(self.status, status, self._stop, self._power_on):
            self.status = status

    def _power_on(self) -> None:
        self.target.activate(self.qemu)
        self.power_on_ns = time.monotonic_ns()
        self._start_with_watchdog()

    def _start_with_watchdog(self) -> None:
        hook, self._at_start = self._at_start, None
        hold, self._hold = self._hold, False
        try:
            self.early_console = start_qemu(self.qemu, self.power_on_timeout, hook, hold)
        except BootFailure:
            self._stop()
            raise

    @property
    def console(self) -> PrefixedConsole:
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


#: mypy checks the strategy against the contract boot.py and session.py use.
_CONTRACT: type[BootStrategy] = QEMUBootStrategy

"""The one contract between a boot and the labgrid strategy that powers its target.

`BootStrategy` lists every member boot.py and session.py use, so neither probes a
strategy for what it might have: the QEMU strategy (harness/qemu/), the U-Boot
strategy (harness/uboot/) and the tests' fake implement all of it, and mypy checks
both real strategies against it where they are defined.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from labgrid.strategy.common import StrategyError

from .console import ConsoleRecorder
from .payload import Payload
from .phases import Timeline
from .targets import Target

__all__ = ["BootStrategy", "LabgridStrategy", "goal_state", "power_step"]

S = TypeVar("S", bound=enum.Enum)


def goal_state(status: str | S, states: type[S]) -> S:
    """The state a `transition(status)` asks for, as labgrid strategies take it (a member
    or its name); `unknown` or a name the strategy lacks is labgrid's StrategyError."""
    if not isinstance(status, states):
        try:
            status = states[str(status)]
        except KeyError:
            raise StrategyError(f"unknown state '{status}'") from None
    if status.name == "unknown":
        raise StrategyError(f"can not transition to {status}")
    return status


def power_step(current: S, goal: S, stop: Callable[[], None], power_on: Callable[[], None]) -> bool:
    """The steps every strategy's transition shares: nothing to do when `goal` is where it
    is, `off` stops, `running` stops and powers on afresh. False: `goal` lies beyond
    `running`, the strategy's own steps take it from there."""
    if goal == current:
        return True
    if goal.name == "off":
        stop()
        return True
    if goal.name == "running":
        stop()
        power_on()
        return True
    return False


if TYPE_CHECKING:
    import attr

    @attr.s(eq=False)
    class LabgridStrategy:
        """labgrid's Strategy as the type checker sees it. labgrid ships no types, and
        a base of type Any would let a strategy lack a member of the contract unseen
        (mypy takes any missing attribute to come from that base). Its attrs fields are
        labgrid's, so a strategy is made as labgrid makes it: (target, name)."""

        target: Any = attr.ib()
        name: str | None = attr.ib()
        logger: Any

        def __attrs_post_init__(self) -> None: ...
else:
    from labgrid.strategy.common import Strategy as LabgridStrategy


class BootStrategy(Protocol):
    """What a boot needs from a labgrid strategy.

    `transition("running")` powers the target on with its console attached;
    `bootstrap` then does whatever must happen before the elfloader runs (for
    U-Boot: interrupt autoboot, load the image, bootm), reading the console
    through the same recorder so its lines join the timeline.
    """

    #: Host monotonic ns of the last power-on (the timeline's zero), None before one.
    power_on_ns: int | None
    #: Seconds power-on may take before the target counts as not started.
    power_on_timeout: float

    @property
    def console(self) -> Any:
        """The running target's console: `read(size, timeout, max_size)` and `write`."""

    @property
    def stages_image(self) -> bool:
        """Whether a boot loader on the target stages the image before the loader runs
        (U-Boot: package, transfer, bootm). Then the guest already runs when a hook
        of `at_loader_start` fires, and it cannot be held before its first instruction."""

    def configure(self, target: Target) -> None:
        """Take the harness target this strategy boots (its `harness:` section)."""

    def prepare(self, image: Path, extra_args: list[str]) -> None:
        """Choose what the next power-on boots, with per-boot QEMU arguments (only while off)."""

    def transition(self, status: str) -> None:
        """Go to a state: "off" and "running" are every strategy's."""

    def is_alive(self) -> bool:
        """Whether the target still runs (a closed console from a dead QEMU is not a hang)."""

    def bootstrap(self, rec: ConsoleRecorder, tl: Timeline, target: Target, payload: Payload) -> None:
        """Running -> the loader started, reading the console through `rec`."""

    def command_line(self) -> list[str]:
        """The exact QEMU command the next power-on runs; [] for a board."""

    def dry_run(self, label: str) -> str:
        """What --dry-run prints for the prepared boot of `label`: what a person runs
        to boot the same thing by hand (for U-Boot also the package and the commands)."""

    def at_loader_start(self, hook: Callable[[], None], hold: bool = False) -> None:
        """Run `hook` once in the next boot, at the last moment before the loader runs:
        at QMP 'cont' with the guest paused before its first instruction, or right
        before `bootm` with the guest running (`stages_image`). `hold`: the guest stays
        stopped there for a person's debugger (refused when `stages_image`)."""

    def monitor(self, command: str, arguments: dict[str, Any]) -> Any:
        """A QMP command to the target's QEMU (out-of-band verification reads memory
        through it); a HarnessError on a board."""

    def qemu_exit(self, wait: float) -> int | None:
        """QEMU's exit status once it has exited, waiting up to `wait` s for a dying one
        (it closes its console a moment before it can be reaped); None while it runs,
        and on a board."""

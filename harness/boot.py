"""One boot, start to finish: power on, follow the phases, stop, keep the record.

The phases and their timeouts come from the target; the first loader error
ends the boot at once with the loader's own words (seL4's loader never exits
after `abort() called.`, so waiting for a timeout would only waste minutes).
Whatever happens, the target is powered off before this returns.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from .console import ConsoleLine, ConsoleRecorder
from .errors import BootFailure
from .payload import Payload
from .phases import Event, Timeline
from .protocol import Patterns, Record
from .targets import Target


class BootStrategy(Protocol):
    """What boot.py needs from a labgrid strategy.

    `transition("running")` powers the target on with its console attached;
    `bootstrap` then does whatever must happen before the elfloader runs (for
    U-Boot: interrupt autoboot, load the image, bootm), reading the console
    through the same recorder so its lines join the timeline.
    """

    power_on_ns: int | None
    power_on_timeout: float

    @property
    def console(self) -> Any: ...

    def prepare(self, image: Path, extra_args: list[str]) -> None: ...

    def transition(self, status: str) -> None: ...

    def is_alive(self) -> bool: ...

    def bootstrap(self, rec: ConsoleRecorder, tl: Timeline, target: Target,
                  payload: Payload) -> None: ...


@dataclass
class BootResult:
    """The record of one boot: timeline, console, failure (if any), files written."""

    target: Target
    payload: Payload
    timeline: Timeline
    lines: list[ConsoleLine]
    power_on_ns: int
    log_path: Path | None
    failure: BootFailure | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None


def _loader_error(tl: Timeline, rec: ConsoleRecorder, phase: str) -> None:
    """Fail now with the loader's text, after a moment for the lines that follow it."""
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline and not tl.first("loader.abort"):
        if rec.poll(0.1):
            for line in rec.new_lines():
                tl.feed(line)
    raise BootFailure(f"loader error: {'; '.join(tl.errors) or 'abort() called.'}",
                      kind="product", phase=phase, last_lines=rec.tail())


def follow(rec: ConsoleRecorder, tl: Timeline, target: Target, payload: Payload,
           at_handoff: Callable[[Timeline], None] | None = None) -> None:
    """Walk the loader and kernel phases with their timeouts."""
    t = target.timeouts

    def until(*names: str, kinds: tuple[str, ...] = ()) -> Any:
        def match(line: ConsoleLine) -> Event | Record | None:
            item = tl.feed(line)
            if isinstance(item, Event):
                if item.name in ("loader.error", "loader.abort"):
                    _loader_error(tl, rec, phase)
                if item.name in names:
                    return item
            if isinstance(item, Record) and item.kind in kinds and item.words[:1] == ("verdict",):
                return item
            return None
        return match

    phase = "loader"
    rec.wait_for(until("loader.banner"), t.loader, phase, "the elfloader banner ('ELF-loader started')")
    phase = "unpack"
    rec.wait_for(until("handoff"), t.unpack_for(payload.archive_bytes), phase,
                 "the hand-off line ('Jumping to kernel-image entry point...' or "
                 "'Enabling MMU and jumping to entry point...')")
    phase = "kernel"
    if at_handoff is not None:
        at_handoff(tl)
    if payload.reference:
        rec.wait_for(until(kinds=("probe",)), t.kernel, phase, "the probe kernel's verdict")
    else:
        # A release seL4 kernel prints nothing: wait for its final words until it
        # has been quiet for `kernel_quiet` s (the hand-off was reached either way).
        rec.wait_quiet(until("kernel.success", "kernel.failure"), t.kernel, phase,
                       "the kernel", quiet=t.kernel_quiet)
        if tl.first("kernel.failure"):
            raise BootFailure("the kernel reported '*** FAILURES DETECTED ***'", kind="product",
                              phase="kernel", last_lines=rec.tail())


def run_boot(strategy: BootStrategy, target: Target, payload: Payload, out_dir: Path | None,
             extra_args: list[str] | None = None,
             at_handoff: Callable[[Timeline], None] | None = None) -> BootResult:
    """Boot `payload` once and return its record; the target is off afterwards."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "console.log" if out_dir else None
    strategy.prepare(payload.boot_file, list(extra_args or []))
    strategy.power_on_timeout = target.timeouts.power_on
    tl = Timeline(time.monotonic_ns(), Patterns.for_target(target.phases))
    failure: BootFailure | None = None
    rec: ConsoleRecorder | None = None
    try:
        strategy.transition("running")
        rec = ConsoleRecorder(strategy.console, log, strategy.is_alive)
        tl.t0_ns = rec.t0_ns = strategy.power_on_ns or rec.t0_ns
        strategy.bootstrap(rec, tl, target, payload)
        follow(rec, tl, target, payload, at_handoff)
    except BootFailure as exc:
        failure = exc
    finally:
        try:
            strategy.transition("off")
        finally:
            if rec is not None:
                rec.close()
    result = BootResult(target, payload, tl, rec.lines if rec else [], tl.t0_ns, log, failure)
    if out_dir is not None:
        (out_dir / "timeline.json").write_text(json.dumps(tl.to_json(), indent=2))
    return result

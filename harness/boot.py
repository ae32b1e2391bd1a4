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

from . import processes
from .console import CLOSED, ConsoleLine, ConsoleRecorder
from .errors import BootFailure
from .payload import Payload
from .phases import Event, Timeline
from .console_lines import Patterns, Record
from .strategy_contract import BootStrategy
from .targets import Target


class Attachment(Protocol):
    """A person at the console (harness/interactive.py): sees what the recorder reads,
    types to the target, and keeps the console after the boot's end until detached."""

    def wrap(self, console: Any) -> Any: ...

    def linger(self, rec: ConsoleRecorder) -> None: ...


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
    while True:
        for line in rec.new_lines():  # lines already read with the error line come first
            tl.feed(line)
        if time.monotonic() >= deadline or tl.first("loader.abort"):
            break
        rec.poll(0.1)
    raise BootFailure(
        f"loader error: {'; '.join(tl.errors) or 'abort() called.'}", kind="product", phase=phase, last_lines=rec.tail()
    )


@dataclass(frozen=True)
class KernelVerdict:
    """What decided a user kernel's boot: a success line, a failure line, or declared silence."""

    status: str  # "pass" | "fail"
    how: str  # "line" | "silent-ok" | "none"
    what: str  # "sel4test", "/REGEX/", or "" (silence)
    text: str  # the deciding line, or a description
    after_s: float  # seconds after power-on (line) or of quiet (silent-ok)
    t_ns: int = 0  # host stamp of the deciding line

    def describe(self) -> str:
        if self.how == "silent-ok":
            return f"declared silent-ok after {self.after_s:g} s quiet after the hand-off"
        if self.how == "none":
            return self.text
        return f"{self.what}: '{self.text}' at {self.after_s:.1f} s"


def _follow_kernel(rec: ConsoleRecorder, tl: Timeline, target: Target, verdict_out: list[KernelVerdict]) -> None:
    """A user's kernel: its workload's verdict line decides (sel4test's by default).

    Silence is not success -- sel4test is silent for seconds inside some tests --
    unless the target or the user declared it (`silent_ok`): then a kernel quiet
    that long after the hand-off passes, and the result says so.
    """
    v, timeout = target.verdict, target.timeouts.kernel
    fails, passes = v.failure_patterns(), v.success_patterns()

    def match(line: ConsoleLine) -> KernelVerdict | None:
        item = tl.feed(line)
        at = (line.t_ns - tl.t0_ns) / 1e9
        if isinstance(item, Record) and item.kind == "probe" and item.words[:1] == ("verdict",):
            # our probe kernel inside a user's image: its verdict is the workload's
            ok = item.words[1:2] == ("ok",)
            return KernelVerdict("pass" if ok else "fail", "line", "probe", line.text, at, line.t_ns)
        for what, rx in fails:
            if rx.search(line.text):
                return KernelVerdict("fail", "line", what, line.text, at, line.t_ns)
        for what, rx in passes:
            if rx.search(line.text):
                return KernelVerdict("pass", "line", what, line.text, at, line.t_ns)
        return None

    try:
        hit = rec.wait_quiet(match, timeout, "kernel", "the workload's verdict", quiet=v.silent_ok)
    except BootFailure as exc:
        if exc.phase != "kernel" or not exc.message.startswith("timed out"):
            raise
        silent = (
            "" if v.silent_ok is None else f" (silent-ok {v.silent_ok:g} s was declared but the kernel kept talking)"
        )
        msg = (
            f"no success line was seen within {timeout:g} s after the hand-off{silent}: "
            f"expected {v.describe_expected()} (fix: --expect REGEX for another workload, "
            f"--timeout kernel=SECONDS if it needs longer, --silent-ok SECONDS if a quiet "
            f"kernel is success)"
        )
        verdict_out.append(KernelVerdict("fail", "none", "", msg, timeout))
        raise BootFailure(msg, kind="product", phase="kernel", last_lines=rec.tail()) from None
    if hit is None:
        assert v.silent_ok is not None
        hit = KernelVerdict("pass", "silent-ok", "", "", v.silent_ok)
    else:
        tl.events.append(Event("workload.verdict", hit.t_ns, {"status": hit.status, "what": hit.what}, hit.text))
    verdict_out.append(hit)
    if hit.status == "fail":
        raise BootFailure(
            f"the workload reported failure: {hit.describe()}", kind="product", phase="kernel", last_lines=rec.tail()
        )


UNTIL = ("verdict", "handoff")

# Where a boot was when its console went away, as its failure's phase (the phases of the
# timeouts: `loader` = power-on to the banner, `unpack` = banner to the hand-off, ...).
_REACHED = (
    ("kernel", ("handoff", "handoff.mmu")),
    ("unpack", ("loader.banner",)),
    ("loader", ("uboot.starting",)),
    ("bootm", ("uboot.booting",)),
    ("load", ("uboot.prompt",)),
    ("u-boot", ("uboot.banner",)),
)
_WORDS = {
    "kernel": "kernel run (after the hand-off)",
    "unpack": "unpack",
    "loader": "loader start",
    "bootm": "bootm",
    "load": "image load",
    "u-boot": "U-Boot start",
}


def phase_reached(tl: Timeline, uboot: bool) -> str:
    """The phase a boot is in, from what its console said so far."""
    for phase, events in _REACHED:
        if tl.first(*events):
            return phase
    return "u-boot" if uboot else "loader"


def _qemu_exit(strategy: BootStrategy, wait: float = 1.0) -> str | None:
    """'QEMU exited (killed by signal 9)' if the strategy's QEMU is gone, else None.
    A dying QEMU closes its console a moment before it can be reaped: wait a little."""
    code = strategy.qemu_exit(wait)
    return None if code is None else f"QEMU {processes.describe_exit(code)}"


def _console_lost(exc: BootFailure, strategy: BootStrategy, tl: Timeline, target: Target) -> BootFailure:
    """A lost console, said in the words of what happened and where: QEMU died (and
    how), or the connection closed under a target that still runs."""
    phase = phase_reached(tl, target.uboot is not None)
    exited = _qemu_exit(strategy)
    if exited:
        msg = f"{exited} during the {_WORDS[phase]}; its console closed with it"
    else:
        msg = f"console closed during the {_WORDS[phase]}: {exc.message.removeprefix(CLOSED)}"
    return BootFailure(msg, kind="infrastructure", phase=phase, last_lines=exc.last_lines)


def follow(
    rec: ConsoleRecorder,
    tl: Timeline,
    target: Target,
    payload: Payload,
    at_handoff: Callable[[Timeline], None] | None = None,
    verdict_out: list[KernelVerdict] | None = None,
    until: str = "verdict",
) -> None:
    """Walk the loader and kernel phases with their timeouts.

    The reference probe's `@h probe verdict` ends the kernel phase; a user's
    kernel ends it with its workload's verdict line (`_follow_kernel`).
    `until="handoff"` ends the boot at the hand-off: for boots whose evidence
    is all in the loader (cache model, out-of-band dump); the kernel check then
    skips, it never passes.
    """
    t = target.timeouts

    def upto(*names: str, kinds: tuple[str, ...] = ()) -> Any:
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
    rec.wait_for(upto("loader.banner"), t.loader, phase, "the elfloader banner ('ELF-loader started')")
    phase = "unpack"
    rec.wait_for(
        upto("handoff"),
        t.unpack_for(payload.archive_bytes),
        phase,
        "the hand-off line ('Jumping to kernel-image entry point...' or 'Enabling MMU and jumping to entry point...')",
    )
    phase = "kernel"
    if at_handoff is not None:
        at_handoff(tl)
    if until == "handoff":
        return
    if payload.reference:
        rec.wait_for(upto(kinds=("probe",)), t.kernel, phase, "the probe kernel's verdict")
    else:
        _follow_kernel(rec, tl, target, verdict_out if verdict_out is not None else [])


def run_boot(
    strategy: BootStrategy,
    target: Target,
    payload: Payload,
    out_dir: Path | None,
    extra_args: list[str] | None = None,
    at_handoff: Callable[[Timeline], None] | None = None,
    until: str = "verdict",
    attach: Attachment | None = None,
) -> BootResult:
    """Boot `payload` once and return its record; the target is off afterwards.
    With `attach` the console is also a person's until they detach."""
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "console.log" if out_dir else None
    strategy.prepare(payload.boot_file, list(extra_args or []))
    strategy.power_on_timeout = target.timeouts.power_on
    tl = Timeline(time.monotonic_ns(), Patterns.for_target(target.phases))
    failure: BootFailure | None = None
    rec: ConsoleRecorder | None = None
    verdict: list[KernelVerdict] = []
    try:
        strategy.transition("running")
        console = strategy.console
        rec = ConsoleRecorder(attach.wrap(console) if attach else console, log, strategy.is_alive)
        tl.t0_ns = rec.t0_ns = strategy.power_on_ns or rec.t0_ns
        strategy.bootstrap(rec, tl, target, payload)
        follow(rec, tl, target, payload, at_handoff, verdict, until)
        if attach is not None:
            attach.linger(rec)
    except BootFailure as exc:
        failure = exc if exc.phase != "console" else _console_lost(exc, strategy, tl, target)
        if not failure.last_lines and rec is not None:  # e.g. a debugger's or QMP's failure:
            failure.last_lines = rec.tail()  # the console had its say before it
    finally:
        try:
            strategy.transition("off")
        finally:
            if rec is not None:
                rec.close()
            elif log is not None:  # ended before a console was attached: an empty log says so
                try:
                    log.touch()
                except OSError:
                    pass
    result = BootResult(target, payload, tl, rec.lines if rec else [], tl.t0_ns, log, failure)
    if verdict:
        result.extras["verdict"] = verdict[-1]
    if until != "verdict":
        result.extras["until"] = until
    errors = [rec.log_error] if rec is not None and rec.log_error else []
    if out_dir is not None:
        try:
            (out_dir / "timeline.json").write_text(json.dumps(tl.to_json(), indent=2))
        except OSError as exc:  # the verdict stands; report.write says what is missing
            errors.append(f"timeline.json: {exc.strerror or exc}")
    if errors:
        result.extras["write_errors"] = errors
    return result

"""Talking to U-Boot's prompt through the recorder.

Every byte U-Boot prints goes through `ConsoleRecorder.wait_for` with `tl.feed`,
so U-Boot's phases join the loader's timeline (labgrid's UBootDriver would read
past the recorder). `_Console` adapts the labgrid console for the recorder (a
read returns as soon as bytes arrive, a lost connection is an infrastructure
failure); `PromptDialogue` is the strategy's conversation with the prompt: the
autoboot interrupt re-sent while the countdown is on the line, a silent console
nudged, a missed window answered with Ctrl-C, the console resynchronised with an
`echo` marker, and every command checked against its echo before Enter is
pressed (a UART that drops characters never executes a garbled command).
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any, Callable

import pexpect

from ..console import ConsoleLine, ConsoleRecorder
from ..errors import BootFailure
from ..phases import Event, Timeline
from ..targets import Target, UBoot
from .diagnose import COPIED, IN_PLACE, classify, explain

if TYPE_CHECKING:
    from .strategy import UBootBootStrategy

CTRL_C = "\x03"
WAIT_PHASE = "u-boot wait"  # the phase of our own waits' timeouts (never reported)


class _NoPrompt(Exception):
    """This power-on did not reach a prompt (the caller may power cycle)."""


class _Console:
    """The console as the recorder reads it: a read returns as soon as bytes
    arrive (SerialDriver would otherwise wait for `size` bytes), and a lost
    connection is an infrastructure failure instead of a traceback."""

    def __init__(self, strategy: "UBootBootStrategy") -> None:
        self._s = strategy

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes:
        if self._s._early:  # what the guest printed while QEMU was starting
            data, self._s._early = self._s._early, b""
            return data
        limit = max_size or max(size, 4096)
        try:
            data = bytes(self._s.serial.read(size=1, timeout=timeout, max_size=limit))
            if not data and self._s.is_qemu:  # readable but empty: the socket's end
                raise EOFError("the console socket closed")
            if len(data) == 1 and not self._s.is_qemu:
                # pyserial's socket:// hands out one byte per read: collect what follows
                # within 10 ms in one go (QEMUDriver does the same), not a step per byte.
                try:
                    data += bytes(self._s.serial.read(size=limit - 1, timeout=0.01, max_size=limit - 1))
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


class PromptDialogue:
    """The prompt half of `UBootBootStrategy`: reach the prompt, resync, type
    commands and read their outcome (power cycling between attempts stays with
    the strategy)."""

    if TYPE_CHECKING:  # provided by UBootBootStrategy
        serial: Any
        _sync_no: int

        @property
        def harness(self) -> Target: ...

        @property
        def uboot(self) -> UBoot: ...

    # -- helpers over the recorder ---------------------------------------------------
    @staticmethod
    def _wait(
        rec: ConsoleRecorder,
        match: Callable[[ConsoleLine], Any],
        timeout: float,
        what: str,
        partial: Callable[[str], Any] | None = None,
    ) -> Any:
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
    def _reach_prompt(self, rec: ConsoleRecorder, tl: Timeline) -> None:
        u, t = self.uboot, self.harness.timeouts
        autoboot = re.compile(u.autoboot)

        def first(line: ConsoleLine) -> bool:
            tl.feed(line)
            return True

        if (
            self._wait(rec, first, t.power_on, "the first console output", partial=lambda s: True if s else None)
            is None
        ):
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
                if self._wait(
                    rec,
                    lambda line: tl.feed(line) and None,
                    3.0,
                    "a prompt after Ctrl-C",
                    partial=lambda s: True if self._prompt_at(s) else None,
                ):
                    self._note(tl, "uboot.prompt", u.prompt)
                    return
                raise _NoPrompt("U-Boot went on booting before autoboot was interrupted")
            # Autoboot countdown on the line: interrupt, and again while it is still counting.
            for _ in range(u.retries):
                rec.send(u.interrupt)
                interrupts += 1
                got = self._wait(
                    rec,
                    watch,
                    1.0,
                    "the prompt after the interrupt",
                    partial=lambda s: "prompt" if self._prompt_at(s) else None,
                )
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

            if self._wait(rec, seen, 3.0, "the sync marker") and self._wait(
                rec,
                lambda line: tl.feed(line) and None,
                2.0,
                "the prompt",
                partial=lambda s: True if self._prompt_at(s) else None,
            ):
                return
        raise BootFailure(
            f"the console does not answer at the U-Boot prompt ({u.retries} resync attempts)",
            kind="infrastructure",
            phase="u-boot",
            last_lines=rec.tail(),
        )

    # -- commands -------------------------------------------------------------------------
    def _type(self, rec: ConsoleRecorder, tl: Timeline, cmd: str, phase: str, step: str) -> None:
        """Type `cmd` and press Enter only once its echo is exactly right; the timeline
        notes the Enter (`uboot.command`, with the boot's `step`: setup, load or boot)."""
        u = self.uboot
        want = u.prompt + cmd
        echo_s = 2.0 + len(cmd) * float(getattr(self.serial, "txdelay", 0.0) or 0.0)
        for _ in range(u.retries):
            rec.send(cmd)
            if self._wait(
                rec,
                lambda line: tl.feed(line) and None,
                echo_s,
                f"the echo of '{cmd}'",
                partial=lambda s: True if s.endswith(want) else None,
            ):
                # stamped before the Enter leaves: the command cannot start earlier, so the
                # phase it opens is never shorter than the board's work (a write can block)
                self._note(tl, "uboot.command", cmd, command=cmd, step=step)
                rec.send("\n")
                return
            self._sync(rec, tl)  # Ctrl-C discards the garbled line
        raise BootFailure(
            f"the console garbles commands: '{cmd}' never echoed intact",
            kind="infrastructure",
            phase=phase,
            last_lines=rec.tail(),
        )

    def _command(
        self,
        rec: ConsoleRecorder,
        tl: Timeline,
        cmd: str,
        timeout: float,
        phase: str,
        kind: str,
        until: str | None = None,
        step: str = "setup",
    ) -> Event | None:
        """Run `cmd`; fail with `kind` on a U-Boot error. With `until`, return at that
        event (the prompt coming back first is a failure); else at the next prompt, which
        the timeline notes (`uboot.returned`: a command's time is Enter to it)."""
        self._type(rec, tl, cmd, phase, step)

        def match(line: ConsoleLine) -> Event | None:
            ev = tl.feed(line)
            known = classify(line.text)
            if known is not None:  # U-Boot's own line, its class and (set-up) the fix
                raise BootFailure(
                    f"{explain(line.text, known)} (after '{cmd}')", kind=known.kind, phase=phase, last_lines=rec.tail()
                )
            copy = IN_PLACE.match(line.text) or COPIED.match(line.text)
            if copy is not None:
                self._note(tl, "uboot.xip", line.text, in_place="true" if copy.re is IN_PLACE else "false")
            if isinstance(ev, Event):
                if ev.name == "uboot.error":
                    raise BootFailure(
                        f"U-Boot: {ev.fields.get('text', ev.text)} (after '{cmd}')",
                        kind=kind,
                        phase=phase,
                        last_lines=rec.tail(),
                    )
                if until is not None and ev.name == until:
                    return ev
            return None

        def prompt(text: str) -> str | None:
            return "prompt" if self._prompt_at(text) else None

        hit = self._wait(rec, match, timeout, f"'{cmd}'", partial=prompt)
        if hit is None:
            raise BootFailure(
                f"timed out after {timeout:g} s waiting for '{cmd}'", kind=kind, phase=phase, last_lines=rec.tail()
            )
        if until is not None and hit == "prompt":
            raise BootFailure(
                f"'{cmd}' returned to the prompt without '{until}'", kind=kind, phase=phase, last_lines=rec.tail()
            )
        if hit == "prompt":
            self._note(tl, "uboot.returned", self.uboot.prompt, command=cmd, step=step)
        return hit if isinstance(hit, Event) else None

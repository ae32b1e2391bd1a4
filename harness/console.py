"""Timestamped console capture.

Every line is stamped with the host's monotonic clock when its last byte
arrives, so phases can be timed on any target, and the whole transcript is
written to a log as it comes (a hung boot still leaves its log behind).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Protocol, TypeVar

import pexpect

from .errors import BootFailure

T = TypeVar("T")


@dataclass(frozen=True)
class ConsoleLine:
    """One line of console text (CR and LF stripped), `t_ns` host monotonic ns."""

    t_ns: int
    text: str


class Readable(Protocol):
    """The part of labgrid's ConsoleProtocol the recorder uses."""

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes: ...

    def write(self, data: bytes) -> Any: ...


def save_log(lines: list[ConsoleLine], path: Path, t0_ns: int) -> None:
    with open(path, "w") as f:
        for line in lines:
            f.write(format_line(line, t0_ns))


def format_line(line: ConsoleLine, t0_ns: int) -> str:
    return f"[{(line.t_ns - t0_ns) / 1e9:12.6f}] {line.text}\n"


def load_log(path: Path) -> list[ConsoleLine]:
    """Read a log written by save_log/ConsoleRecorder (times relative to its t0)."""
    lines = []
    for raw in path.read_text().splitlines():
        if raw.startswith("[") and "] " in raw:
            stamp, text = raw[1:].split("] ", 1)
            lines.append(ConsoleLine(int(float(stamp) * 1e9), text))
    return lines


def split_lines(buffer: str, data: str) -> tuple[list[str], str]:
    """Add `data` to a partial line; return complete lines (CRLF tolerant) and the rest."""
    buffer += data
    *complete, rest = buffer.split("\n")
    return [c.replace("\r", "") for c in complete], rest


class ConsoleRecorder:
    """Reads a labgrid console, keeps every line with its arrival time, logs it."""

    def __init__(self, console: Readable, log_path: Path | None = None,
                 is_alive: Callable[[], bool] | None = None) -> None:
        self.console = console
        self.lines: list[ConsoleLine] = []
        self.partial = ""
        self.t0_ns = time.monotonic_ns()
        self._log: IO[str] | None = open(log_path, "w") if log_path else None
        self._is_alive = is_alive
        self._seen = 0

    def close(self) -> None:
        if self.partial:
            self._add(self.partial.replace("\r", ""), time.monotonic_ns())
            self.partial = ""
        if self._log:
            self._log.close()
            self._log = None

    def _add(self, text: str, t_ns: int) -> None:
        line = ConsoleLine(t_ns, text)
        self.lines.append(line)
        if self._log:
            self._log.write(format_line(line, self.t0_ns))
            self._log.flush()

    def poll(self, timeout: float) -> bool:
        """Read what is there (waiting up to `timeout`); False if nothing came."""
        try:
            data = self.console.read(size=4096, timeout=timeout)
        except pexpect.TIMEOUT:
            return False
        now = time.monotonic_ns()
        if not data:
            if self._is_alive is not None and not self._is_alive():
                raise BootFailure("the target's console closed (QEMU exited?)",
                                  kind="infrastructure", phase="console", last_lines=self.tail())
            return False
        complete, self.partial = split_lines(self.partial, data.decode("utf-8", "replace"))
        for text in complete:
            self._add(text, now)
        return True

    def tail(self, n: int = 15) -> list[str]:
        out = [line.text for line in self.lines[-n:]]
        return out + ([self.partial] if self.partial else [])

    def new_lines(self) -> list[ConsoleLine]:
        """Lines not yet handed out by `new_lines` (for incremental parsing)."""
        fresh = self.lines[self._seen:]
        self._seen = len(self.lines)
        return fresh

    def wait_for(self, match: Callable[[ConsoleLine], T | None], timeout: float, phase: str,
                 what: str = "", on_line: Callable[[ConsoleLine], None] | None = None,
                 partial: Callable[[str], T | None] | None = None) -> T:
        """Read until `match` returns something for a line (or `partial` for the
        unfinished line, e.g. a prompt without newline), else fail at `timeout`."""
        hit = self.wait_quiet(match, timeout, phase, what, on_line, partial, quiet=None)
        assert hit is not None
        return hit

    def wait_quiet(self, match: Callable[[ConsoleLine], T | None], timeout: float, phase: str,
                   what: str = "", on_line: Callable[[ConsoleLine], None] | None = None,
                   partial: Callable[[str], T | None] | None = None,
                   quiet: float | None = None) -> T | None:
        """As wait_for, but return None once the console has been silent for `quiet` s."""
        deadline = time.monotonic() + timeout
        last_heard = time.monotonic()
        while True:
            while self._seen < len(self.lines):
                line = self.lines[self._seen]
                self._seen += 1     # one at a time: lines after a hit stay for the next wait
                if on_line:
                    on_line(line)
                hit = match(line)
                if hit is not None:
                    return hit
            if partial is not None and self.partial:
                hit = partial(self.partial)
                if hit is not None:
                    return hit
            if quiet is not None and time.monotonic() - last_heard >= quiet:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise BootFailure(f"timed out after {timeout:.0f} s waiting for {what or phase}",
                                  kind="product" if self.lines else "infrastructure",
                                  phase=phase, last_lines=self.tail())
            if self.poll(min(left, 0.5, quiet or 0.5)):
                last_heard = time.monotonic()

    def send(self, text: str) -> None:
        self.console.write(text.encode())

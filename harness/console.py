"""Timestamped console capture.

Every line is stamped with the host's monotonic clock when its last byte
arrives, so phases can be timed on any target, and the whole transcript is
written to a log as it comes (a hung boot still leaves its log behind).
A stamp is only as fine as the reads: lines that arrive in one read share a
stamp (a loaded host or a network serial port batches them), so each line also
carries when the read before it drained the console, the earliest its last byte
can have arrived.
"""

from __future__ import annotations

import codecs
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Protocol, TypeVar

import pexpect

from .errors import BootFailure

T = TypeVar("T")
CLOSED = "the target's console closed: "  # how a lost console's failure begins
READ_SIZE = 4096


@dataclass(frozen=True)
class ConsoleLine:
    """One line of console text (CR and LF stripped), `t_ns` host monotonic ns.

    Its last byte arrived in (`after_ns`, `t_ns`]; `after_ns` is None where that is
    not known (a log read back from a file)."""

    t_ns: int
    text: str
    after_ns: int | None = None


class Readable(Protocol):
    """The part of labgrid's ConsoleProtocol the recorder uses."""

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes: ...

    def write(self, data: bytes) -> Any: ...


def save_log(lines: list[ConsoleLine], path: Path, t0_ns: int) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(format_line(line, t0_ns))


def format_line(line: ConsoleLine, t0_ns: int) -> str:
    return f"[{(line.t_ns - t0_ns) / 1e9:12.6f}] {line.text}\n"


def load_log(path: Path) -> list[ConsoleLine]:
    """Read a log written by save_log/ConsoleRecorder (times relative to its t0)."""
    lines = []
    # split on LF only: splitlines() would also split a line at the \f, \v, \x1c-\x1e, \x85
    # or \u2028 a console may print, making up lines (and phases) the target never printed
    for raw in path.read_text(encoding="utf-8", errors="replace").split("\n"):
        stamp, sep, text = raw[1:].partition("] ")
        if raw.startswith("[") and sep:
            try:
                t_ns = int(float(stamp) * 1e9)
            except (ValueError, OverflowError):
                continue
            lines.append(ConsoleLine(t_ns, text))
    return lines


def split_lines(buffer: str, data: str) -> tuple[list[str], str]:
    """Add `data` to a partial line; return complete lines (CRLF tolerant) and the rest.

    NULs go with the CRs: a UART that glitches at reset prints one before U-Boot's
    banner, and `\0U-Boot 2024.01` would not be recognised."""
    if "\n" not in data:  # a long line arriving in pieces: no re-split of all of it
        return [], buffer + data
    *complete, rest = (buffer + data).split("\n")
    return [_clean(c) for c in complete], rest


def _clean(text: str) -> str:
    return text.replace("\r", "").replace("\0", "")


class ConsoleRecorder:
    """Reads a labgrid console, keeps every line with its arrival time, logs it."""

    def __init__(
        self, console: Readable, log_path: Path | None = None, is_alive: Callable[[], bool] | None = None
    ) -> None:
        self.console = console
        self.lines: list[ConsoleLine] = []
        self.partial = ""
        self.t0_ns = time.monotonic_ns()
        self._log: IO[str] | None = open(log_path, "w", encoding="utf-8") if log_path else None
        # one decoder for the whole stream: a UTF-8 character split across two reads
        # must not turn into two replacement characters
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._is_alive = is_alive
        self._seen = 0
        self._drained_ns = self.t0_ns  # the last read that left nothing behind ended here
        self.log_error: str | None = None  # why console.log stopped being written

    def close(self) -> None:
        self.partial += self._decoder.decode(b"", final=True)
        if self.partial:
            self._add(_clean(self.partial), time.monotonic_ns(), self._drained_ns)
            self.partial = ""
        self._drop_log()

    def _drop_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            try:
                log.close()
            except OSError as exc:  # the last buffered bytes did not fit
                self.log_error = self.log_error or f"console.log: {exc.strerror or exc}"

    def _add(self, text: str, t_ns: int, after_ns: int | None = None) -> None:
        line = ConsoleLine(t_ns, text, after_ns)
        self.lines.append(line)
        if self._log:
            try:
                self._log.write(format_line(line, self.t0_ns))
                self._log.flush()
            except OSError as exc:
                # a full or vanished results folder: the lines stay in memory, the boot
                # goes on, and the result says from when on the log is missing
                self.log_error = f"console.log: {exc.strerror or exc} (from {(t_ns - self.t0_ns) / 1e9:.3f} s on)"
                self._drop_log()

    def poll(self, timeout: float) -> bool:
        """Read what is there (waiting up to `timeout`); False if nothing came."""
        try:
            data = self.console.read(size=READ_SIZE, timeout=timeout)
        except pexpect.TIMEOUT:
            self._drained_ns = time.monotonic_ns()
            return False
        except (BlockingIOError, InterruptedError):
            return False
        except (OSError, ValueError, EOFError) as exc:  # the console's socket itself is gone
            raise self._closed(f"{exc.__class__.__name__}: {exc}") from None
        now = time.monotonic_ns()
        if not data:
            if self._is_alive is not None and not self._is_alive():
                raise self._closed("end of stream")
            self._drained_ns = now
            return False
        after = self._drained_ns
        if len(data) < READ_SIZE:  # a full read may have left bytes that came earlier
            self._drained_ns = now
        complete, self.partial = split_lines(self.partial, self._decoder.decode(data))
        for text in complete:
            self._add(text, now, after)
        return True

    def _closed(self, detail: str) -> BootFailure:
        """The console ended: say whether the target went with it (a dying QEMU closes
        its socket a moment before it can be reaped, so wait up to 1 s to tell)."""
        end = time.monotonic() + 1.0
        while self._is_alive is not None and self._is_alive() and time.monotonic() < end:
            time.sleep(0.02)
        gone = self._is_alive is not None and not self._is_alive()
        what = CLOSED + ("the target exited" if gone else f"the connection ended, the target still runs ({detail})")
        return BootFailure(what, kind="infrastructure", phase="console", last_lines=self.tail())

    def tail(self, n: int = 15) -> list[str]:
        out = [line.text for line in self.lines[-n:]]
        return out + ([self.partial] if self.partial else [])

    def new_lines(self) -> list[ConsoleLine]:
        """Lines not yet handed out by `new_lines` (for incremental parsing)."""
        fresh = self.lines[self._seen :]
        self._seen = len(self.lines)
        return fresh

    def wait_for(
        self,
        match: Callable[[ConsoleLine], T | None],
        timeout: float,
        phase: str,
        what: str = "",
        on_line: Callable[[ConsoleLine], None] | None = None,
        partial: Callable[[str], T | None] | None = None,
    ) -> T:
        """Read until `match` returns something for a line (or `partial` for the
        unfinished line, e.g. a prompt without newline), else fail at `timeout`."""
        hit = self.wait_quiet(match, timeout, phase, what, on_line, partial, quiet=None)
        assert hit is not None
        return hit

    def wait_quiet(
        self,
        match: Callable[[ConsoleLine], T | None],
        timeout: float,
        phase: str,
        what: str = "",
        on_line: Callable[[ConsoleLine], None] | None = None,
        partial: Callable[[str], T | None] | None = None,
        quiet: float | None = None,
    ) -> T | None:
        """As wait_for, but return None once the console has been silent for `quiet` s."""
        deadline = time.monotonic() + timeout
        last_heard = time.monotonic()
        while True:
            while self._seen < len(self.lines):
                line = self.lines[self._seen]
                self._seen += 1  # one at a time: lines after a hit stay for the next wait
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
                raise BootFailure(
                    f"timed out after {timeout:.0f} s waiting for {what or phase}",
                    kind="product" if self.lines else "infrastructure",
                    phase=phase,
                    last_lines=self.tail(),
                )
            if self.poll(min(left, 0.5, quiet or 0.5)):
                last_heard = time.monotonic()

    def send(self, text: str) -> None:
        self.console.write(text.encode())

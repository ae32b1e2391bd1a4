"""`--interactive`: the target's console on this terminal while the harness records and checks.

The harness keeps reading the console through its recorder (every line stamped,
logged, fed to the timeline and the checks); this only mirrors what it reads to
the terminal and forwards what a person types. Keys are forwarded from the
reading thread (labgrid's console steps are not thread-safe). Ctrl-] (as in
telnet) detaches: the boot ends there and the target is powered off. After the
boot's own end the console stays attached until the person detaches.
"""

from __future__ import annotations

import os
import select
import sys
import termios
from types import TracebackType
from typing import IO, Any

from .console import ConsoleRecorder
from .errors import BootFailure

DETACH = b"\x1d"  # Ctrl-]
DETACH_NAME = "Ctrl-]"


class Detached(BootFailure):
    """The person detached: the boot ends here, the target is powered off."""

    def __init__(self) -> None:
        super().__init__(f"detached by the user ({DETACH_NAME})", kind="infrastructure", phase="console")


class Terminal:
    """This terminal as the target's console (a context manager: the terminal's mode
    is restored on exit, also after an error)."""

    def __init__(
        self, stdin: IO[Any] | None = None, stdout: IO[bytes] | None = None, say: IO[str] | None = None
    ) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout.buffer
        self.say = say or sys.stderr
        self._fd = self.stdin.fileno()
        self._saved: list[Any] | None = None
        self._eof = False

    def __enter__(self) -> "Terminal":
        if os.isatty(self._fd):
            self._saved = termios.tcgetattr(self._fd)
            mode = termios.tcgetattr(self._fd)
            mode[0] &= ~(termios.IXON | termios.ICRNL)  # Ctrl-S/Q, CR as typed
            mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)  # keys go to the target
            mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
            termios.tcsetattr(self._fd, termios.TCSANOW, mode)
        self.tell(f"console attached: what you type goes to the target; {DETACH_NAME} detaches and powers off")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSANOW, self._saved)
            self._saved = None

    def tell(self, text: str) -> None:
        self.say.write(f"\r\nharness: {text}\r\n")
        self.say.flush()

    def wrap(self, console: Any) -> "TerminalConsole":
        return TerminalConsole(console, self)

    def keys(self) -> bytes:
        """What was typed since the last call (never blocks); Detached on Ctrl-]."""
        if self._eof or not select.select([self._fd], [], [], 0)[0]:
            return b""
        data = os.read(self._fd, 1024)
        if not data:
            self._eof = True  # stdin closed: nothing more will be typed
        if DETACH in data:
            raise Detached()
        return data

    def linger(self, rec: ConsoleRecorder) -> None:
        """After the boot's end: keep the console attached (and recorded) until detached."""
        self.tell(
            f"the boot has run its course; the console stays attached: {DETACH_NAME} "
            "detaches, powers off and prints the checks"
        )
        try:
            while True:
                rec.poll(0.2)
        except BootFailure:  # detached, or the target went away
            return


class TerminalConsole:
    """A console that mirrors what is read to the terminal and sends what is typed."""

    def __init__(self, console: Any, terminal: Terminal) -> None:
        self._console = console
        self._terminal = terminal

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes:
        keys = self._terminal.keys()
        if keys:
            self._console.write(keys)
        data = bytes(self._console.read(size=size, timeout=min(timeout, 0.1), max_size=max_size))
        if data:
            self._terminal.stdout.write(data)
            self._terminal.stdout.flush()
        return data

    def write(self, data: bytes) -> Any:
        return self._console.write(data)

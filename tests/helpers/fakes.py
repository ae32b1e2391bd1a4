"""The one scripted console and the one fake strategy the host tests boot through.

The real boot logic (`ConsoleRecorder`, `run_boot`, the U-Boot strategy) reads a
console the way labgrid's drivers offer it; these stand in for QEMU or a board so
that logic runs on the host, line for line, in milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

import pexpect

from harness.console import ConsoleRecorder
from harness.errors import HarnessError
from harness.payload import Payload
from harness.phases import Timeline
from harness.strategy_contract import BootStrategy
from harness.targets import Target

#: What a read of a silent console does: return b"" soon ("empty", a spinning CPU seen
#: through a socket) or wait out its timeout and raise pexpect.TIMEOUT (labgrid's serial
#: driver, as the U-Boot strategy expects).
Silence = Literal["empty", "timeout"]


class ScriptedConsole:
    """A console that hands out its script one piece per read, then what was `emit`ted
    (in reply to writes), then stays silent.

    `lines` are sent as CRLF-terminated lines, one read each (all in one read with
    `one_chunk`, as a fast UART burst arrives); `chunks` are raw reads, as given.
    Everything written is kept in `written`; `gone = True` makes the next read fail as
    a reset connection does.
    """

    def __init__(
        self,
        lines: Iterable[str] = (),
        *,
        chunks: Iterable[bytes] = (),
        one_chunk: bool = False,
        silence: Silence = "empty",
    ) -> None:
        pieces = [(text + "\r\n").encode() for text in lines] + list(chunks)
        if one_chunk and pieces:
            pieces = [b"".join(pieces)]
        self.pending: deque[bytes] = deque(pieces)
        self.out = bytearray()  # emitted replies, read in as large pieces as asked
        self.lock = threading.Lock()
        self.silence = silence
        self.written = bytearray()
        self.gone = False

    def emit(self, text: str | bytes) -> None:
        """Queue output the target sends now (a reply, a banner)."""
        with self.lock:
            self.out += text.encode() if isinstance(text, str) else text

    def clear(self) -> None:
        """Drop what was not read yet (a power cycle)."""
        with self.lock:
            self.pending.clear()
            self.out.clear()

    def _take(self, n: int) -> bytes:
        with self.lock:
            if self.pending:
                return self.pending.popleft()
            data = bytes(self.out[:n])
            del self.out[:n]
            return data

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes:
        if self.gone:
            raise OSError("connection reset by peer")
        wait = timeout if self.silence == "timeout" else min(timeout, 0.05)
        end = time.monotonic() + wait
        while True:
            data = self._take(max_size or 4096)
            if data:
                return data
            if time.monotonic() >= end:
                if self.silence == "timeout":
                    raise pexpect.TIMEOUT("nothing")
                return b""
            time.sleep(0.002)

    def write(self, data: bytes) -> int:
        self.written += data
        return len(data)


class FakeStrategy:
    """The strategy contract with power, a console, no QEMU and no boot loader. Every
    power-on gets a fresh console that plays `lines` from the start."""

    def __init__(self, lines: list[str], one_chunk: bool = False) -> None:
        self.lines = lines
        self.one_chunk = one_chunk
        self.power_on_ns: int | None = None
        self.power_on_timeout = 1.0
        self.state = "off"
        self.at_start: Callable[[], None] | None = None

    @property
    def console(self) -> ScriptedConsole:
        return ScriptedConsole(self.lines, one_chunk=self.one_chunk)

    @property
    def stages_image(self) -> bool:
        return False

    def configure(self, target: Target) -> None:
        pass

    def prepare(self, image: Path, extra_args: list[str]) -> None:
        pass

    def transition(self, status: str) -> None:
        self.state = status
        if status == "running":
            self.power_on_ns = time.monotonic_ns()
            hook, self.at_start = self.at_start, None
            if hook is not None:
                hook()

    def is_alive(self) -> bool:
        return True

    def bootstrap(self, rec: ConsoleRecorder, tl: Timeline, target: Target, payload: Payload) -> None:
        pass

    def command_line(self) -> list[str]:
        return []

    def dry_run(self, label: str) -> str:
        return f"# {label}: a scripted console, nothing to run"

    def at_loader_start(self, hook: Callable[[], None], hold: bool = False) -> None:
        self.at_start = hook

    def monitor(self, command: str, arguments: dict[str, Any]) -> Any:
        raise HarnessError("QMP needs QEMU: this is a scripted console")

    def qemu_exit(self, wait: float) -> int | None:
        return None


#: mypy checks the fake against the contract the real strategies implement.
_CONTRACT: type[BootStrategy] = FakeStrategy

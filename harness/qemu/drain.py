"""QEMU's console socket, read so the guest never blocks on it.

QEMU writes each UART byte as its own socket message; a console nobody reads fills
the socket and stalls the vCPU (power.start_qemu says where that hurts). A drain
reads it in a thread during start-up, and the console the boot reads serves those
bytes first.
"""

from __future__ import annotations

import select
import socket
import threading
from typing import Any


class ConsoleDrain:
    """Reads a console socket in a thread so the guest never blocks on it."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, sock: socket.socket | None) -> None:
        if sock is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
        self._thread.start()

    def _run(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([sock], [], [], 0.01)
            if ready:
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                self._data += chunk

    def stop(self) -> bytes:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return bytes(self._data)


class PrefixedConsole:
    """A labgrid console whose first reads return bytes read earlier by a drain."""

    def __init__(self, console: Any, early: bytes) -> None:
        self._console = console
        self._early = early

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes:
        if self._early:
            data, self._early = self._early, b""
            return data
        data = bytes(self._console.read(size=size, timeout=timeout, max_size=max_size))
        if not data:  # QEMUDriver reads only when the socket is readable: this is its end
            raise EOFError("the console socket closed")
        return data

    def write(self, data: bytes) -> Any:
        return self._console.write(data)

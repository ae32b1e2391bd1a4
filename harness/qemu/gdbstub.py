"""A minimal GDB remote-serial-protocol client: breakpoints, continue, wait for a stop.

Enough to stop a guest at its kernel entry without its cooperation. QEMU's
gdbstub listens on a 127.0.0.1 port we choose (never `-s`, which binds all
interfaces).
"""

from __future__ import annotations

import re
import shlex
import socket
import time
from pathlib import Path

from ..errors import BootFailure


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GdbStub:
    """One RSP connection (acknowledged mode)."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BootFailure(
                        f"no gdbstub on 127.0.0.1:{port}", kind="infrastructure", phase="power-on"
                    ) from None
                time.sleep(0.05)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _send(self, data: str) -> None:
        body = data.encode()
        self.sock.sendall(b"$" + body + b"#%02x" % (sum(body) & 0xFF))

    def _packet(self, timeout: float) -> str:
        """The next packet's payload (acknowledging it); skips acks and noise."""
        deadline = time.monotonic() + timeout
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start)
            if start >= 0 and end >= 0 and len(self.buf) >= end + 3:
                payload = self.buf[start + 1 : end].decode(errors="replace")
                self.buf = self.buf[end + 3 :]
                self.sock.sendall(b"+")
                return payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("gdbstub did not answer")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                raise TimeoutError("gdbstub did not answer") from None
            if not chunk:
                raise ConnectionError("gdbstub closed the connection")
            self.buf += chunk

    def command(self, data: str, timeout: float = 5.0) -> str:
        self._send(data)
        return self._packet(timeout)

    def breakpoint(self, addr: int) -> None:
        """A hardware breakpoint: it matches the PC, whatever the MMU state."""
        reply = self.command(f"Z1,{addr:x},4")
        if reply != "OK":
            reply = self.command(f"Z0,{addr:x},4")
        if reply != "OK":
            raise BootFailure(
                f"gdbstub refused a breakpoint at {addr:#x}: {reply!r}", kind="infrastructure", phase="power-on"
            )

    def resume(self) -> None:
        self._send("c")

    def wait_stop(self, timeout: float) -> str:
        """Wait for the stop reply of a `c` (e.g. 'T05thread:01;')."""
        return self._packet(timeout)

    def run_to(self, addr: int, timeout: float, what: str) -> None:
        """Resume until the breakpoint at `addr` (`what` names it for the message), then take
        it out again; a guest that never gets there is the product's failure."""
        self.breakpoint(addr)
        self.resume()
        try:
            self.wait_stop(timeout)
        except (TimeoutError, ConnectionError) as exc:
            raise BootFailure(
                f"the guest never reached {what} ({addr:#x}) within {timeout:g} s: {exc}",
                kind="product",
                phase="loader",
            ) from None
        self.command(f"z1,{addr:x},4")

    def pc(self) -> int:
        """The PC of the stopped CPU (register 32 on aarch64)."""
        raw = self.command("p20")
        return int.from_bytes(bytes.fromhex(raw), "little")

    def register(self, num: int) -> int:
        """Register `num` (gdb's numbering, from the target description) of the stopped CPU."""
        return int.from_bytes(bytes.fromhex(self.command(f"p{num:x}")), "little")

    def features(self, name: str) -> str:
        """One target-description document (`target.xml` and the files it includes)."""
        out, off = "", 0
        while True:
            reply = self.command(f"qXfer:features:read:{name}:{off:x},fff")
            if not reply or reply[0] not in "lm":
                raise ValueError(f"gdbstub: no {name}")
            out += reply[1:]
            off += len(reply) - 1
            if reply[0] == "l":
                return out

    def register_numbers(self) -> dict[str, int]:
        """Register name -> number over the whole target description (QEMU lists the system
        registers it exposes in system-registers.xml: `SCTLR` is SCTLR_EL1, `TCR_EL2` ...)."""
        regs: dict[str, int] = {}
        for inc in re.findall(r'href="([^"]+)"', self.features("target.xml")):
            for m in re.finditer(r'<reg name="([^"]+)"[^>]*regnum="(\d+)"', self.features(inc)):
                regs[m.group(1)] = int(m.group(2))
        return regs

    def detach(self) -> None:
        try:
            self.command("D", timeout=2)
        except (TimeoutError, ConnectionError):
            pass


def hold_at(port: int, addr: int, timeout: float = 30.0) -> None:
    """Run the guest (started with -S) to `addr` and leave it stopped there for a
    person's gdb: our connection closes without a detach, which QEMU takes as
    'stay stopped' (a detach would resume the guest)."""
    stub = GdbStub(port)
    try:
        stub.run_to(addr, timeout, "the loader entry")
    finally:
        stub.close()


def gdb_command(port: int, loader: Path, kernel: Path | None) -> str:
    """The gdb-multiarch command that attaches to our stub with both symbol files:
    the loader's (its own addresses) and the kernel's (where it is linked)."""
    argv = ["gdb-multiarch", "-q", "-ex", "set confirm off", "-ex", "set architecture aarch64", str(loader)]
    if kernel is not None:
        argv[-1:-1] = ["-ex", f"add-symbol-file {shlex.quote(str(kernel))}"]
    argv[-1:-1] = ["-ex", f"target remote 127.0.0.1:{port}"]
    return shlex.join(argv)

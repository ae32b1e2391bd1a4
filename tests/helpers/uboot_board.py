"""A U-Boot board without a board: labgrid drivers that answer as U-Boot does.

The real U-Boot strategy (harness/uboot/) drives them over labgrid's bindings, so its
autoboot interrupt, echo checks, TFTP and bootm handling run on the host against
console text shaped like Debian's U-Boot 2023.01. Faults are asked for through the
console's `b` dict (see FakeUBootConsole).
"""

from __future__ import annotations

import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attr
from labgrid.factory import target_factory
from labgrid.protocol import ConsoleProtocol, PowerProtocol

from harness.console import ConsoleRecorder
from harness.phases import Timeline
from harness.console_lines import Patterns
from harness.targets import Target
from harness.uboot import UBootBootStrategy

from .fakes import ScriptedConsole

if TYPE_CHECKING:

    @attr.s(eq=False)
    class Driver:
        """labgrid's Driver as the type checker sees it (labgrid ships no types): its
        attrs fields, so a driver is made as labgrid makes it, (target, name)."""

        target: Any = attr.ib()
        name: str | None = attr.ib()

        def __attrs_post_init__(self) -> None: ...
else:
    from labgrid.driver import Driver


def image_file(tmp: Path, text_offset: int = 0x40000000, size: int = 8192) -> Path:
    """A small arm64 Image (valid header, patterned body) to package and stage."""
    head = bytearray(64)
    struct.pack_into("<IIQQQ", head, 0, 0x14000010, 0, text_offset, size, 2)
    head[0x38:0x3C] = b"ARM\x64"
    body = bytes((i * 7) & 0xFF for i in range(size - 64))
    path = tmp / "loader.Image"
    path.write_bytes(bytes(head) + body)
    return path


@target_factory.reg_driver
@attr.s(eq=False)
class FakeUBootConsole(Driver, ConsoleProtocol):  # type: ignore[misc]  # labgrid: untyped protocol
    """A U-Boot that echoes, interprets a few commands and misbehaves on request.

    Its output goes through a ScriptedConsole (silent reads time out, as labgrid's
    serial driver's do). Faults, set in `b` before the boot: `silent` (no output at
    power-on), `late` (N: the first N power-ons miss the autoboot window),
    `ignore_keys` (N keys lost), `garble` (N times a character of `tftpboot` lost),
    `tftp_error`, `bytes` (the transfer size U-Boot reports), `tftp_s` (seconds the transfer
    takes: its end comes that much after its start), `bad_image`,
    `bootm_text` (bootm's answer, e.g. recorded in tests/data/uboot), `lost` (the
    connection resets)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.wire = ScriptedConsole(silence="timeout")
        self.mode = "off"
        self.line = ""
        self.commands: list[str] = []
        self.b: dict[str, Any] = {}
        self.power_ons = 0

    def emit(self, text: str) -> None:
        self.wire.emit(text)

    def power_on(self) -> None:
        self.power_ons += 1
        self.wire.clear()
        if self.b.get("silent"):
            self.mode = "off"
            return
        self.emit("\r\n\r\nU-Boot 2023.01 (fake)\r\n\r\nDRAM:  2 GiB\r\n")
        if self.b.get("late", 0) >= self.power_ons:
            self.emit("Hit any key to stop autoboot:  0 \r\n## Booting kernel from Legacy Image at 40400000 ...\r\n")
            self.mode = "autobooting"
        else:
            self.emit("Hit any key to stop autoboot:  2 ")
            self.mode = "autoboot"

    def power_off(self) -> None:
        self.mode = "off"

    def read(self, size: int = 1, timeout: float = 0.0, max_size: int | None = None) -> bytes:
        self.wire.gone = bool(self.b.get("lost"))
        return self.wire.read(size, timeout, max_size)

    def write(self, data: bytes) -> int:
        self.wire.write(data)
        for ch in data.decode():
            self._key(ch)
        return len(data)

    def _key(self, ch: str) -> None:
        if self.mode == "autoboot":
            if self.b.get("ignore_keys", 0) > 0:
                self.b["ignore_keys"] -= 1
                return
            self.emit("\b\b\b 0 \r\n=> ")
            self.mode = "prompt"
        elif self.mode == "autobooting":
            if ch == "\x03":
                self.emit("<INTERRUPT>\r\n=> ")
                self.mode = "prompt"
        elif self.mode == "prompt":
            if ch == "\x03":
                self.emit("<INTERRUPT>\r\n=> ")
                self.line = ""
            elif ch in "\r\n":
                self.emit("\r\n")
                cmd, self.line = self.line, ""
                self._run(cmd)
            elif self.b.get("garble", 0) > 0 and self.line == "tft" and ch == "p":
                self.b["garble"] -= 1  # a character lost on the wire
            else:
                self.line += ch
                self.emit(ch)

    def _run(self, cmd: str) -> None:
        self.commands.append(cmd)
        if cmd.startswith("echo "):
            self.emit(cmd[5:] + "\r\n=> ")
        elif cmd.startswith("tftpboot"):
            self.emit(
                "Using virtio-net#31 device\r\nTFTP from server 10.0.2.2; our IP address is "
                "10.0.2.15\r\nFilename 'x'.\r\nLoad address: 0x48000000\r\nLoading: *"
            )
            if self.b.get("tftp_error"):
                self.emit("\r\nTFTP error: 'File not found' (1)\r\nNot retrying...\r\n=> ")
            else:
                n = self.b.get("bytes", 0)
                done = f"##\r\n\t 21.9 MiB/s\r\ndone\r\nBytes transferred = {n} ({n:x} hex)\r\n=> "
                if self.b.get("tftp_s"):  # a transfer that takes time: the rest comes later
                    threading.Timer(self.b["tftp_s"], self.emit, [done]).start()
                else:
                    self.emit(done)
        elif cmd.startswith("bootm"):
            self._bootm()
        elif cmd:
            if cmd.split()[0] not in ("setenv", "dhcp"):
                self.emit(f"Unknown command '{cmd.split()[0]}' - try 'help'\r\n")
            self.emit("=> ")
        else:
            self.emit("=> ")

    def _bootm(self) -> None:
        text = self.b.get("bootm_text")
        if self.b.get("bad_image"):
            self.emit("Wrong Image Format for bootm command\r\nERROR: can't get kernel image!\r\n=> ")
        elif text is not None and "Starting kernel" not in text:
            self.emit(text + "=> ")
        else:
            self.emit(
                text
                or "## Booting kernel from Legacy Image at 7fffffc0 ...\r\n   Verifying "
                "Checksum ... OK\r\n   XIP Kernel Image\r\n\r\nStarting kernel ...\r\n\r\n"
            )
            self.mode = "kernel"
            self.emit("ELF-loader started on CPU: fake\r\nJumping to kernel-image entry point...\r\n")


@target_factory.reg_driver
@attr.s(eq=False)
class FakeBoardPower(Driver, PowerProtocol):  # type: ignore[misc]  # labgrid: untyped protocol
    """The board's power switch: powers the fake U-Boot on and off."""

    bindings = {"console": "FakeUBootConsole"}

    def on(self) -> None:
        self.console.power_on()

    def off(self) -> None:
        self.console.power_off()

    def cycle(self) -> None:
        self.off()
        self.on()


def drive(strategy: UBootBootStrategy, target: Target) -> tuple[ConsoleRecorder, Timeline]:
    """Power on and run the strategy up to the loader, as run_boot does."""
    strategy.transition("running")
    rec = ConsoleRecorder(strategy.console, None, strategy.is_alive)
    tl = Timeline(strategy.power_on_ns or 0, Patterns.for_target(target.phases))
    strategy.bootstrap(rec, tl, target, None)
    return rec, tl

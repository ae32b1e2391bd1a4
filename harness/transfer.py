"""The image load at the U-Boot prompt, as U-Boot reports it and as the host timed it.

On a board the load is most of the boot once the unpack is fast (a 596 MB image takes
minutes by lock-step TFTP), so a boot's record says what moved, how long it took and by
whose clock: the load command from its Enter to the prompt coming back (host stamps),
`TFTP from server` to `Bytes transferred` (host stamps), and U-Boot's own timer —
exact for `load`/`fatload` (`N bytes read in M ms`), and for TFTP read back from the
rate line it prints (bytes per millisecond times 1000, to one decimal of a binary unit,
so to about 5 %). The TFTP settings a boot sent (`setenv tftpblocksize/tftpwindowsize`)
come from the commands noted on the timeline.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from .phases import Event

__all__ = ["Transfer", "read_transfer", "rate_bytes_per_s", "UNITS"]

# U-Boot's print_size: "999 Bytes", "512 KiB", "21.9 MiB", "1 GiB".
UNITS = {"Bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}
_RATE = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,3})?) (Bytes|[KMGT]iB)/s\s*$")
_SETENV = re.compile(r"^setenv (tftpblocksize|tftpwindowsize)(?: (\S+))?$")


def rate_bytes_per_s(text: str) -> float | None:
    """`21.9 MiB/s` -> bytes per second; None for anything else."""
    m = _RATE.match(text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else None


@dataclass(frozen=True)
class Transfer:
    """One image load at the prompt: bytes, seconds by each clock, and U-Boot's rate."""

    bytes: int
    command: str | None = None  # what was typed (`tftpboot 0x... name`)
    command_s: float | None = None  # Enter to the prompt back (host stamps): the load phase
    tftp_s: float | None = None  # `TFTP from server` to `Bytes transferred` (host stamps)
    uboot_s: float | None = None  # U-Boot's own timer (see `uboot_clock`)
    uboot_clock: str | None = None  # "read" (`bytes read in N ms`) | "rate line" (bytes / rate)
    rate: str | None = None  # U-Boot's rate as printed
    server: str | None = None
    block_size: int | None = None  # `setenv tftpblocksize` sent before the load (None: U-Boot's)
    window: int | None = None  # `setenv tftpwindowsize` sent before the load

    @property
    def seconds(self) -> float | None:
        """The load's duration: the command's, else U-Boot's own, else the TFTP span."""
        for s in (self.command_s, self.uboot_s, self.tftp_s):
            if s is not None:
                return s
        return None

    @property
    def bytes_per_s(self) -> float | None:
        s = self.seconds
        return self.bytes / s if s else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """`6000000 bytes (5.7 MiB) by 'tftpboot ...' in 0.262 s (2.2 MiB/s); TFTP 0.25 s;
        U-Boot's rate line 21.9 MiB/s (0.26 s)`."""
        parts = [f"{self.bytes} bytes ({self.bytes / (1 << 20):.1f} MiB)"]
        if self.command:
            parts.append(f"by '{self.command}'")
        s, rate = self.seconds, self.bytes_per_s
        if s is not None:
            parts.append(f"in {s:.3f} s" + (f" ({rate / (1 << 20):.2f} MiB/s)" if rate else ""))
        extra = []
        if self.tftp_s is not None and self.command_s is not None:
            extra.append(f"TFTP {self.tftp_s:.3f} s")
        if self.uboot_clock == "rate line" and self.rate and self.uboot_s is not None:
            extra.append(f"U-Boot's rate line {self.rate} ({self.uboot_s:.3g} s)")
        elif self.uboot_clock == "read" and self.uboot_s is not None:
            extra.append(f"U-Boot's timer {self.uboot_s:.3f} s")
        settings = []
        if self.block_size is not None:
            settings.append(f"tftpblocksize {self.block_size}")
        if self.window is not None:
            settings.append(f"tftpwindowsize {self.window}")
        if settings:
            extra.append(", ".join(settings))
        return " ".join(parts) + ("; " + "; ".join(extra) if extra else "")


def _setting(events: Sequence["Event"], before_ns: int | None) -> tuple[int | None, int | None]:
    """The TFTP settings the commands sent before the load (an empty setenv clears one)."""
    found: dict[str, int | None] = {}
    for ev in events:
        if ev.name != "uboot.command" or (before_ns is not None and ev.t_ns > before_ns):
            continue
        m = _SETENV.match(ev.fields.get("command", ""))
        if m:
            value = m.group(2)
            found[m.group(1)] = int(value) if value and value.isdigit() else None
    return found.get("tftpblocksize"), found.get("tftpwindowsize")


def read_transfer(events: Sequence["Event"]) -> Transfer | None:
    """The load the events describe (None without one): U-Boot's `Bytes transferred` (TFTP)
    or `N bytes read in M ms` (`load`, `fatload`, `ext4load`), the harness's noted
    command and prompt, and the TFTP lines around them."""

    def first(name: str, **match: str) -> "Event | None":
        return next((e for e in events if e.name == name and all(e.fields.get(k) == v for k, v in match.items())), None)

    done, read = first("uboot.loaded"), first("uboot.read")
    if done is None and read is None:
        return None
    issued, back = first("uboot.command", step="load"), first("uboot.returned", step="load")
    command_s = (back.t_ns - issued.t_ns) / 1e9 if issued and back and back.t_ns >= issued.t_ns else None
    block, window = _setting(events, issued.t_ns if issued else None)
    common: dict[str, Any] = {"command": issued.fields.get("command") if issued else None, "command_s": command_s}
    if read is not None and done is None:
        nbytes, ms = int(read.fields["bytes"]), int(read.fields["ms"])
        return Transfer(nbytes, **common, uboot_s=ms / 1e3, uboot_clock="read", rate=read.fields.get("rate"))
    assert done is not None
    nbytes = int(done.fields["bytes"])
    start = next((e for e in reversed(events) if e.name == "uboot.tftp" and e.t_ns <= done.t_ns), None)
    rate_ev = next(
        (
            e
            for e in events
            if e.name == "uboot.rate" and (start is None or e.t_ns >= start.t_ns) and e.t_ns <= done.t_ns
        ),
        None,
    )
    rate = rate_ev.fields["rate"] if rate_ev else None
    per_s = rate_bytes_per_s(rate) if rate else None
    return Transfer(
        nbytes,
        **common,
        tftp_s=(done.t_ns - start.t_ns) / 1e9 if start else None,
        uboot_s=nbytes / per_s if per_s else None,
        uboot_clock="rate line" if per_s else None,
        rate=rate,
        server=start.fields.get("server") if start else None,
        block_size=block,
        window=window,
    )

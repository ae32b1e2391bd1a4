"""The lab's windowed TFTP server: Debian's atftpd, started and stopped by the lab.

QEMU's own TFTP server (slirp) answers an RFC 7440 `windowsize` request with no window,
so a board behind it always transfers lock-step. atftpd (0.8) grants windows; the lab
runs it in the foreground on a free 127.0.0.1 UDP port with its log on stdout (the lab's
log file), and stops it by pid with the other lab processes. Its log says what each
transfer was granted (`windowsize option -> N`), which is how a test knows the window
was real and not only asked for.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import socket
from pathlib import Path

from .client import LabError

#: A binary to use instead of the installed one (an unpacked package, say).
BINARY_ENV = "HARNESS_ATFTPD"
GRANTED = re.compile(r"windowsize option -> (\d+)")
GRANTED_BLOCK = re.compile(r"blksize option -> (\d+)")


def binary() -> str:
    """atftpd as installed by scripts/setup.sh (Debian's `atftpd`), or $HARNESS_ATFTPD."""
    found = os.environ.get(BINARY_ENV) or shutil.which("atftpd") or "/usr/sbin/atftpd"
    if not Path(found).is_file():
        raise LabError(
            f"atftpd not found ({found})",
            field=BINARY_ENV,
            fix="apt-get install atftpd (scripts/setup.sh), or export HARNESS_ATFTPD=/path/to/atftpd",
        )
    return found


def free_udp_port() -> int:
    """A free UDP port on 127.0.0.1 (bound and released: atftpd binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`/udp (atftpd is up once it does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def command(port: int, root: Path) -> list[str]:
    """atftpd serving `root` on 127.0.0.1:`port`, in the foreground (--no-fork, so its pid is
    ours to stop), logging each transfer's options to stdout, as the user running the lab
    (its default, nobody, may not read a build directory)."""
    return [
        binary(),
        "--daemon",
        "--no-fork",
        "--port",
        str(port),
        "--bind-address",
        "127.0.0.1",
        "--logfile",
        "-",
        "--verbose=6",
        "--user",
        pwd.getpwuid(os.getuid()).pw_name,
        "--group",
        grp.getgrgid(os.getgid()).gr_name,
        str(root),
    ]


def granted_windows(log: str) -> list[int]:
    """The window atftpd granted each transfer, in order, from its log."""
    return [int(m.group(1)) for m in GRANTED.finditer(log)]


def granted_blocks(log: str) -> list[int]:
    """The block size atftpd granted each transfer that asked for one, in order."""
    return [int(m.group(1)) for m in GRANTED_BLOCK.finditer(log)]


def window_problem(log: str, asked: int, transfer: int = -1) -> str | None:
    """What is wrong with the window of one transfer (`transfer`: its index, the last by
    default) against the `asked` tftpwindowsize, or None when atftpd granted exactly it.
    A request without the option, or a server that ignores it, leaves no grant line:
    the transfer was lock-step whatever the client asked."""
    granted = granted_windows(log)
    if not granted:
        return (
            f"atftpd granted no window (its log has no 'windowsize option' line): the transfer "
            f"was lock-step, not the {asked}-block window asked for"
        )
    try:
        window = granted[transfer]
    except IndexError:
        return f"atftpd's log has {len(granted)} windowed transfers, not transfer {transfer}"
    if window != asked:
        return f"atftpd granted a window of {window} blocks, not the {asked} asked for"
    return None

"""The lab's i.MX8M Plus place and its windowed TFTP server (atftpd).

Host tests start atftpd alone and fetch a file with a small RFC 7440 client: the window
is granted, the bytes arrive, and the server is gone after its stop by pid; the same
server with `--no-windowsize` is the negative control of the window check. The boot test
(`--target=lab-virtual-board-imx8mp`) boots through the place and reads atftpd's log for
the window U-Boot was granted.
"""

from __future__ import annotations

import socket
import struct
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness import processes
from harness.lab import atftpd
from harness.lab.client import LabError
from harness.lab.host import spawn, wait_until
from harness.session import BootSession, Outcome
from harness.targets import Target
from harness.testing import missing_input

GRANT_LOG = """\
Dec 05 02:50:26 vm atftpd[21036.1]: Serving f.bin to 127.0.0.1:34399
Dec 05 02:50:26 vm atftpd[21036.1]: windowsize option -> 16
Dec 05 02:50:26 vm atftpd[21036.1]: blksize option -> 1468
"""


def test_the_granted_window_is_read_from_atftpds_log() -> None:
    assert atftpd.granted_windows(GRANT_LOG) == [16]
    assert atftpd.granted_blocks(GRANT_LOG) == [1468]
    assert atftpd.window_problem(GRANT_LOG, 16) is None


def test_no_grant_line_is_a_lock_step_transfer() -> None:
    """Negative control: one defect, the grant line missing (the option was never sent)."""
    log = GRANT_LOG.replace("windowsize option -> 16\n", "")
    problem = atftpd.window_problem(log, 16)
    assert problem is not None and "granted no window" in problem and "lock-step" in problem


def test_a_smaller_grant_than_asked_is_named() -> None:
    """Negative control: one defect, the server granted 8 of the 16 blocks asked."""
    problem = atftpd.window_problem(GRANT_LOG.replace("-> 16", "-> 8"), 16)
    assert problem == "atftpd granted a window of 8 blocks, not the 16 asked for"


def fetch(port: int, name: str, window: int, block: int = 512) -> tuple[bytes, dict[str, str]]:
    """Read `name` with an RFC 7440 client: the OACK's options and the file's bytes,
    acknowledging every `window`-th block and the last one."""
    request = b"\0\1" + name.encode() + b"\0octet\0"
    request += b"windowsize\0%d\0blksize\0%d\0" % (window, block)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(request, ("127.0.0.1", port))
        reply, server = s.recvfrom(65536)
        options: dict[str, str] = {}
        if struct.unpack("!H", reply[:2])[0] == 6:  # OACK: name/value pairs
            fields = reply[2:].split(b"\0")[:-1]
            options = {fields[i].decode(): fields[i + 1].decode() for i in range(0, len(fields), 2)}
            s.sendto(struct.pack("!HH", 4, 0), server)
            reply, _ = s.recvfrom(65536)
        granted = int(options.get("windowsize", "1"))
        size = int(options.get("blksize", "512"))
        data = b""
        while True:
            opcode, number = struct.unpack("!HH", reply[:4])
            assert opcode == 3, f"expected DATA, got opcode {opcode}"
            data += reply[4:]
            last = len(reply) - 4 < size
            if last or number % granted == 0:
                s.sendto(struct.pack("!HH", 4, number), server)
            if last:
                return data, options
            reply, _ = s.recvfrom(65536)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Callable[..., tuple[int, Path, "subprocess.Popen[bytes]"]]]:
    """Start atftpd on a free port over tmp_path/root (extra options appended); every
    server started is stopped by pid at the end, also on failure."""
    try:
        atftpd.binary()
    except LabError as exc:
        missing_input("atftpd", "the lab's windowed TFTP server is what is tested", str(exc))
    started: list[subprocess.Popen[bytes]] = []

    def start(*extra: str) -> tuple[int, Path, "subprocess.Popen[bytes]"]:
        root = tmp_path / "root"
        root.mkdir(exist_ok=True)
        port = atftpd.free_udp_port()
        cmd = atftpd.command(port, root)
        log = tmp_path / f"atftpd-{len(started)}.log"
        proc = spawn(cmd[:-1] + list(extra) + cmd[-1:], "atftpd", log)
        started.append(proc)
        wait_until(lambda: atftpd.udp_port_taken(port), 20, "atftpd", proc, log)
        return port, log, proc

    yield start
    for proc in started:
        processes.stop(proc, grace=2.0)


def test_atftpd_grants_the_window_and_is_gone_after_its_stop(
    server: Callable[..., tuple[int, Path, "subprocess.Popen[bytes]"]], tmp_path: Path
) -> None:
    port, log, proc = server()
    payload = bytes(range(256)) * 40 + b"tail"  # 20 blocks of 512 and a short one
    (tmp_path / "root" / "image.bin").write_bytes(payload)
    data, options = fetch(port, "image.bin", window=4)
    assert data == payload
    assert options.get("windowsize") == "4", options
    processes.stop(proc, grace=2.0)
    assert not processes.alive(proc.pid), f"atftpd (pid {proc.pid}) survived its stop"
    assert atftpd.window_problem(log.read_text(), 4) is None


def test_atftpd_without_windows_fails_the_window_check(
    server: Callable[..., tuple[int, Path, "subprocess.Popen[bytes]"]], tmp_path: Path
) -> None:
    """Negative control with the real server: `--no-windowsize` (one defect) answers lock-step."""
    port, log, proc = server("--no-windowsize")
    (tmp_path / "root" / "image.bin").write_bytes(b"x" * 3000)
    data, options = fetch(port, "image.bin", window=4)
    assert len(data) == 3000 and "windowsize" not in options, options
    processes.stop(proc, grace=2.0)
    problem = atftpd.window_problem(log.read_text(), 4)
    assert problem is not None and "granted no window" in problem


@pytest.mark.boot
@pytest.mark.reference
def test_uboot_is_granted_its_window_on_the_imx8mp_place(
    harness_target: Target, harness_lab: object, boot_session: BootSession, boot: Callable[..., Outcome]
) -> None:
    """U-Boot asks atftpd for `tftpwindowsize` blocks per acknowledgement and gets them."""
    lab = getattr(harness_lab, "lab", None)
    if lab is None or lab.board.tftp_server != "atftpd":
        pytest.skip("runs with --target=lab-virtual-board-imx8mp (a virtual lab with atftpd)")
    outcome = boot(boot_session.payload(boot_session.variant(mode="mmu-off")))
    assert outcome.result.ok, str(outcome.result.failure)
    transfer = outcome.result.timeline.transfer()
    assert harness_target.uboot is not None and transfer is not None
    assert transfer.window == harness_target.uboot.tftp_window
    log = (lab.log_dir / "atftpd.log").read_text()
    assert atftpd.window_problem(log, harness_target.uboot.tftp_window or 1) is None, log[-2000:]


def test_the_virtual_lab_provides_the_tftp_port_unless_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    """A virtual lab sets HARNESS_VB_TFTP_PORT when it starts; a run that attaches to a running
    lab (HARNESS_LAB_COORDINATOR) must be given it."""
    from harness.lab import missing_environment
    from harness.lab.imx8mp_board import TFTP_PORT_ENV
    from harness.lab.lease import ATTACH_ENV
    from harness.targets import load

    monkeypatch.delenv(TFTP_PORT_ENV, raising=False)
    monkeypatch.delenv(ATTACH_ENV, raising=False)
    target = load("lab-virtual-board-imx8mp")
    assert missing_environment(target) == []
    monkeypatch.setenv(ATTACH_ENV, "127.0.0.1:1")
    assert missing_environment(target) == [TFTP_PORT_ENV]


def test_a_place_the_virtual_lab_lacks_is_named() -> None:
    from harness.lab.virtual import board_for

    with pytest.raises(LabError) as err:
        board_for("virtual-board-imx93")
    assert "no place 'virtual-board-imx93'" in str(err.value) and "virtual-board-imx8mp" in str(err.value)


def test_the_serial_port_is_seen_listening_without_connecting() -> None:
    """The lab waits for the board's serial server without becoming its client (a client
    that left can cost the board's first lines); a bound socket that does not listen yet
    is the negative control."""
    from harness.lab.host import port_listening

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
        assert not port_listening(port)
        s.listen()
        assert port_listening(port)

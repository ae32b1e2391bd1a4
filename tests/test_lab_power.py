"""The virtual board's power switch against a real QEMU.

`python -m harness.lab pdu` is the lab's side of power: labgrid's NetworkPowerDriver
asks it over HTTP, it asks the board's QEMU over QMP. Off must freeze the board (QMP
`stop`) and on must boot it from reset: a switch that only believes it switched leaves
the board running between runs, burning a core at U-Boot's prompt, and never resets it
for the next boot. QEMU's own state is read afterwards over QMP by the test, not from
the switch's answer.
"""

from __future__ import annotations

import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness import processes
from harness.lab.host import free_port, port_open, spawn, wait_until
from harness.paths import ROOT
from harness.qemu.command import ONE_TCG_THREAD

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.requires_tool("qemu-system-aarch64", why="the power switch drives a real QEMU board"),
]


def board_command(qmp: Path) -> list[str]:
    """A board with no firmware at all: powered on, its CPU runs (faults at address 0, over
    and over), which is all the switch sees of a board."""
    return [
        str(shutil.which("qemu-system-aarch64")),
        "-machine",
        "virt",
        "-cpu",
        "cortex-a53",
        "-m",
        "64M",
        *ONE_TCG_THREAD,
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        "none",
        "-nic",
        "none",
        "-qmp",
        f"unix:{qmp},server=on,wait=off",
        "-S",
    ]


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The board's QEMU (paused, as a lab starts it) and its power switch; both stopped
    by pid at the end, also when the test fails."""
    qmp = tmp_path / "qmp.sock"
    port = free_port()
    board = spawn(board_command(qmp), "power-switch board", tmp_path / "qemu.log")
    pdu = None
    try:
        wait_until(qmp.exists, 20, "the board's QEMU", board, tmp_path / "qemu.log")
        pdu = spawn(
            [sys.executable, "-m", "harness.lab", "pdu", "--listen", f"127.0.0.1:{port}", "--qmp", str(qmp)],
            "power switch",
            tmp_path / "pdu.log",
            cwd=ROOT,
        )
        wait_until(lambda: port_open(port), 20, "the power switch", pdu, tmp_path / "pdu.log")
        yield {"url": f"http://127.0.0.1:{port}/power/0", "qmp": qmp, "board": board, "pdu": pdu}
    finally:
        if pdu is not None:
            processes.stop(pdu)
        processes.stop(board)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return str(reply.read().decode())


def qemu_status(qmp: Path) -> str:
    """QEMU's run state, asked by us (the switch stopped first: QMP takes one client)."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    monitor = QEMUMonitorProtocol(str(qmp))
    monitor.connect()
    try:
        reply: dict[str, Any] = monitor.cmd_obj({"execute": "query-status"})
    finally:
        monitor.close()
    return str(reply["return"]["status"])


def test_off_freezes_the_board_and_on_boots_it_again(switch: dict[str, Any]) -> None:
    url = switch["url"]
    assert get(url) == "0", "a board the lab has not powered on is off"
    assert get(url + "/1") == "1"
    assert get(url + "/0") == "0"
    assert get(url + "/1") == "1", "a second power-on"
    assert get(url + "/0") == "0"
    assert get(url) == "0"
    processes.stop(switch["pdu"])
    status = qemu_status(switch["qmp"])
    assert status == "paused", f"the switch said off, but QEMU's state is '{status}': the board still runs"


def test_a_board_gone_is_an_error_not_off(switch: dict[str, Any]) -> None:
    """QEMU died under the switch: the driver gets an HTTP error naming it, never '0'."""
    assert get(switch["url"] + "/1") == "1"
    processes.stop(switch["board"])
    with pytest.raises(urllib.error.HTTPError) as exc:
        get(switch["url"] + "/0")
    assert exc.value.code == 500
    assert "the board's QEMU" in str(exc.value.reason), exc.value.reason

"""The virtual lab: the board path without hardware, on 127.0.0.1.

`VirtualBoard` is QEMU virt + Debian U-Boot with its serial on a TCP port, QEMU's
user-mode TFTP server and DRAM that holds garbage at every power-on, as a real
board's does. `VirtualLab` starts it with the HTTP power switch (`power.py`) and
a real `labgrid-coordinator` and `labgrid-exporter`, which publish it as the
place `virtual-board` — so a run reaches it exactly as it reaches a lab board —
stops every process by pid, and can restart one of them (as a lab's service
manager would) for the fault tests. The place `virtual-board-imx8mp` is the same
machinery around QEMU imx8mp-evk and our U-Boot, its TFTP served by atftpd
(`imx8mp_board.py`); a lab runs the one board its target's place names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import processes
from ..qemu.command import ONE_TCG_THREAD
from . import atftpd
from ..images.build import build_root
from ..targets import TARGETS_DIR
from .client import LabClient, LabError, tool
from .host import free_port, garbage_file, port_listening, port_open, spawn, wait_until
from .imx8mp_board import TFTP_PORT_ENV, VirtualImx8mpBoard

EXPORTER_CONFIG = TARGETS_DIR / "lab" / "virtual-board.yaml"
STATE_ENV = "HARNESS_LAB_STATE"  # where a virtual lab writes its ports and pids (JSON)
VIRTUAL_PLACE = "virtual-board"
VIRTUAL_EXPORTER = "harness-virtual-lab"
VIRTUAL_IMX8MP_PLACE = "virtual-board-imx8mp"


@dataclass(frozen=True)
class VirtualBoard:
    """QEMU virt + Debian U-Boot, published like a lab board."""

    qemu: str = "/usr/bin/qemu-system-aarch64"
    machine: str = "virt"
    cpu: str = "cortex-a53"
    memory: str = "2G"
    bios: Path = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
    # DRAM that holds garbage at every power-on, as a real board's does: QEMU re-applies
    # `-device loader` blobs at each system_reset. It covers the probe kernel's bss so a
    # loader that skips zeroing fails on this board too; clear of the DTB QEMU puts at
    # 0x40000000 and of the transfer buffer and loader above.
    garbage: tuple[int, int] = (0x40200000, 16 << 20)
    pattern: int = 0xA5
    # Which TFTP server the lab starts for this board: "" = QEMU's own (slirp, no windows).
    tftp_server: str = ""

    def garbage_file(self) -> Path:
        return garbage_file(self.pattern, self.garbage[1])

    def command(self, serial_port: int, tftp: Path, qmp: Path) -> list[str]:
        return [
            self.qemu,
            "-machine",
            self.machine,
            "-cpu",
            self.cpu,
            "-m",
            self.memory,
            "-bios",
            str(self.bios),
            *ONE_TCG_THREAD,
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            f"tcp:127.0.0.1:{serial_port},server=on,wait=off,nodelay=on",
            "-netdev",
            f"user,id=net0,tftp={tftp},restrict=on",
            "-device",
            "virtio-net-device,netdev=net0",
            "-device",
            f"loader,file={self.garbage_file()},addr={self.garbage[0]:#x},force-raw=on",
            "-qmp",
            f"unix:{qmp},server=on,wait=off",
            "-S",
        ]  # powered off until the power switch says on


#: The board behind each place a virtual lab can publish.
BOARDS: dict[str, VirtualBoard | VirtualImx8mpBoard] = {
    VIRTUAL_PLACE: VirtualBoard(),
    VIRTUAL_IMX8MP_PLACE: VirtualImx8mpBoard(),
}


def board_for(place: str) -> VirtualBoard | VirtualImx8mpBoard:
    """The board a virtual lab runs for `place`, or an error naming the places it has."""
    board = BOARDS.get(place)
    if board is None:
        raise LabError(
            f"the virtual lab has no place {place!r}",
            field="targets.main.resources.RemotePlace.name",
            fix=f"use one of: {', '.join(BOARDS)}",
        )
    return board


class VirtualLab:
    """coordinator + exporter + virtual board + power switch (+ its TFTP server), all on
    127.0.0.1."""

    def __init__(
        self,
        log_dir: Path | None = None,
        board: VirtualBoard | VirtualImx8mpBoard | None = None,
        place: str = VIRTUAL_PLACE,
        exporter: str = VIRTUAL_EXPORTER,
    ) -> None:
        self.board = board or board_for(place)
        self.place = place
        self.exporter = exporter
        self.dir = build_root() / "lab" / f"run-{os.getpid()}-{int(time.time() * 1000)}"
        self.log_dir = log_dir or self.dir / "logs"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._how: dict[str, tuple[list[str], dict[str, Any]]] = {}
        self.ports: dict[str, int] = {}
        self.address = ""

    def __enter__(self) -> "VirtualLab":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def clean_stale() -> None:
        """Remove run directories of labs whose process is gone (a killed run's)."""
        for d in (build_root() / "lab").glob("run-*"):
            try:
                pid = int(d.name.split("-")[1])
            except (IndexError, ValueError):
                continue
            if not processes.alive(pid):
                shutil.rmtree(d, ignore_errors=True)

    def _state(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "place": self.place,
            "dir": str(self.dir),
            "ports": self.ports,
            "pids": {k: p.pid for k, p in self.procs.items()},
            "owner": os.getpid(),
        }

    def _write_state(self) -> None:
        path = os.environ.get(STATE_ENV)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(path + ".tmp")
            tmp.write_text(json.dumps(self._state(), indent=2))
            tmp.replace(path)

    def _spawn(self, what: str, cmd: list[str], **kw: Any) -> "subprocess.Popen[bytes]":
        proc = spawn(cmd, what, self.log_dir / f"{what}.log", **kw)
        self.procs[what] = proc
        self._how[what] = (cmd, kw)
        self._write_state()
        return proc

    def restart(self, what: str) -> None:
        """Start one lab process again as it was started (a lab's service manager would),
        after it died or was killed; the exporter is waited for until its resources are
        back on the coordinator, the coordinator until it listens and has the place."""
        old = self.procs.get(what)
        if old is not None:
            processes.stop(old, grace=1.0)
        cmd, kw = self._how[what]
        proc = self._spawn(what, cmd, **kw)
        log = self.log_dir / f"{what}.log"
        client = LabClient(self.address)
        if what == "labgrid-coordinator":
            wait_until(lambda: port_open(self.ports["coordinator"]), 30, what, proc, log)
            if client.place(self.place) is None:  # its places.yaml may not have been saved
                client.run("create", place=self.place)
                client.run("add-match", f"{self.exporter}/{self.place}/*", place=self.place)
        elif what == "labgrid-exporter":
            wanted = f"{self.exporter}/{self.place}/NetworkSerialPort"
            wait_until(lambda: wanted in client.run("resources", check=False).stdout, 60, what, proc, log)

    def start(self) -> None:
        self.clean_stale()
        self.dir.mkdir(parents=True)
        tftp, qmp = self.dir / "tftp", self.dir / "qmp.sock"
        tftp.mkdir()
        (self.dir / "coordinator").mkdir()
        self.ports = {"serial": free_port(), "power": free_port(), "coordinator": free_port()}
        self.address = f"127.0.0.1:{self.ports['coordinator']}"
        if self.board.tftp_server == "atftpd":
            self._start_atftpd(tftp)

        qemu = self._spawn("virtual-board-qemu", self.board.command(self.ports["serial"], tftp, qmp))
        wait_until(
            lambda: qmp.exists() and port_listening(self.ports["serial"]),  # never a client of it
            20,
            "the virtual board (QEMU)",
            qemu,
            self.log_dir / "virtual-board-qemu.log",
        )
        pdu = self._spawn(
            "virtual-board-power",
            [
                sys.executable,
                "-m",
                "harness.lab",
                "pdu",
                "--listen",
                f"127.0.0.1:{self.ports['power']}",
                "--qmp",
                str(qmp),
            ],
            cwd=Path(__file__).resolve().parents[2],
        )
        wait_until(
            lambda: port_open(self.ports["power"]),
            20,
            "the power switch",
            pdu,
            self.log_dir / "virtual-board-power.log",
        )
        coord = self._spawn(
            "labgrid-coordinator", [tool("labgrid-coordinator"), "--listen", self.address], cwd=self.dir / "coordinator"
        )
        wait_until(
            lambda: port_open(self.ports["coordinator"]),
            30,
            "labgrid-coordinator",
            coord,
            self.log_dir / "labgrid-coordinator.log",
        )
        env = dict(
            os.environ,
            HARNESS_VB_DIR=str(self.dir),
            HARNESS_VB_PLACE=self.place,
            HARNESS_VB_SERIAL_PORT=str(self.ports["serial"]),
            HARNESS_VB_POWER_PORT=str(self.ports["power"]),
            HARNESS_VB_TFTP_DIR=str(tftp),
            PYTHONUNBUFFERED="1",
        )
        exporter = self._spawn(
            "labgrid-exporter",
            [
                tool("labgrid-exporter"),
                "--coordinator",
                self.address,
                "--name",
                self.exporter,
                "--hostname",
                "127.0.0.1",
                str(EXPORTER_CONFIG),
            ],
            env=env,
        )
        client = LabClient(self.address)
        wanted = f"{self.exporter}/{self.place}/NetworkSerialPort"
        wait_until(
            lambda: wanted in client.run("resources", check=False).stdout,
            60,
            "the exporter's resources",
            exporter,
            self.log_dir / "labgrid-exporter.log",
        )
        if client.place(self.place) is None:
            client.run("create", place=self.place)
            client.run("add-match", f"{self.exporter}/{self.place}/*", place=self.place)
        os.environ["LG_COORDINATOR"] = self.address
        self._write_state()

    def _start_atftpd(self, root: Path) -> None:
        """atftpd on a free UDP port, serving the board's TFTP root; U-Boot's setup reads
        the port from the environment (`setenv tftpdstp {{HARNESS_VB_TFTP_PORT}}`)."""
        self.ports["tftp"] = atftpd.free_udp_port()
        proc = self._spawn("atftpd", atftpd.command(self.ports["tftp"], root))
        wait_until(lambda: atftpd.udp_port_taken(self.ports["tftp"]), 20, "atftpd", proc, self.log_dir / "atftpd.log")
        os.environ[TFTP_PORT_ENV] = str(self.ports["tftp"])

    def stop(self) -> None:
        """Stop every process of this lab by pid, newest first; keep the logs."""
        for what in reversed(list(self.procs)):
            proc = self.procs[what]
            try:
                # The coordinator would wait for connected clients (our own RemotePlace
                # session) to go away; its state is disposable: a short grace, then KILL.
                processes.stop(proc, grace=1.0 if what == "labgrid-coordinator" else 5.0)
            except OSError:
                pass
        left = {what: p.pid for what, p in self.procs.items() if processes.alive(p.pid)}
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
        if left:
            raise LabError(
                f"lab processes survived their stop: {left}",
                field="lab",
                fix="report this: harness/lab/virtual.py stops them by pid",
            )

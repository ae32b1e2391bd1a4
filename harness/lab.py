"""The lab: a place on a labgrid coordinator, held for a run; and a virtual lab to test it.

A lab board is reached through labgrid's coordinator: an exporter next to the
board publishes its console, power switch and TFTP root; a *place* groups them;
a test run *acquires* the place (nobody else can use the board meanwhile) and
*releases* it at the end. `PlaceLock` does that for a harness run, and makes the
release happen however the run ends:

* normal end, failed test, Ctrl-C: the context manager's `finally`;
* SIGTERM / SIGHUP (CI cancelling a job): turned into KeyboardInterrupt while
  the lab is in use, so the same `finally` runs;
* interpreter exit on any other path: `atexit`;
* SIGKILL (nothing runs): the lock carries the run's identity — a place tag
  `harness_lock=<host>_<pid>_<start>` and a lock record on disk written before
  the acquire — and the next start on this host sees that the run is gone and
  releases the place before acquiring it. A place held by a live run, or by
  someone else, is never taken: the run waits (`HARNESS_LAB_WAIT` seconds) or
  fails as an infrastructure problem naming the holder.

`VirtualLab` is the board path without hardware: QEMU + U-Boot with its serial
on a 127.0.0.1 TCP port, an HTTP power switch driving QEMU over QMP, QEMU's
user-mode TFTP server; a real `labgrid-coordinator` and `labgrid-exporter` on
127.0.0.1 publish it as the place `virtual-board`. Every process is started
under `setpriv --pdeathsig KILL` in its own session and registered in
`harness.processes`, so it dies with the run even when the run is SIGKILLed,
and is stopped by pid otherwise.

`python -m harness.lab up` runs a virtual lab in the foreground (for trying
labgrid-client against it); `python -m harness.lab pdu ...` is the power switch.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

from . import processes
from .errors import HarnessError
from .images.build import build_root
from .targets import TARGETS_DIR, Target

EXPORTER_CONFIG = TARGETS_DIR / "lab" / "virtual-board.yaml"
ATTACH_ENV = "HARNESS_LAB_COORDINATOR"  # use this running coordinator instead of starting a lab
STATE_ENV = "HARNESS_LAB_STATE"         # where a virtual lab writes its ports and pids (JSON)
WAIT_ENV = "HARNESS_LAB_WAIT"           # seconds to wait for a place someone else holds
TAG = "harness_lock"
VIRTUAL_PLACE = "virtual-board"
VIRTUAL_EXPORTER = "harness-virtual-lab"


class LabError(HarnessError):
    """The lab is not usable: coordinator unreachable, place missing or held."""


# -- processes -------------------------------------------------------------------

def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bound and released: the caller binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tool(name: str) -> str:
    """A labgrid tool from this interpreter's environment (the .venv), else PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise LabError(f"'{name}' not found", field="lab", fix="pip install labgrid==26.0.1")
    return found


def spawn(cmd: list[str], what: str, log: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> "subprocess.Popen[bytes]":
    """Start a lab process that dies with us: PDEATHSIG=KILL (via setpriv, so no
    preexec_fn in a threaded process), its own session (a terminal's Ctrl-C reaches
    us, not it: we stop it in order), registered by pid."""
    full = (["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []) + cmd
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, start_new_session=True)
    processes.register(proc.pid, what, session=True)
    return proc


def wait_until(check: Any, timeout: float, what: str, proc: "subprocess.Popen[bytes] | None" = None,
               log: Path | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").strip().splitlines()[-8:])
    state = f" (it exited with {proc.returncode})" if proc is not None and proc.poll() is not None else ""
    raise LabError(f"{what} did not come up within {timeout:g} s{state}{tail}", field="lab",
                   fix=f"see {log}" if log else "see the lab logs")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else fields[19]
    except (FileNotFoundError, IndexError):
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"


# -- labgrid-client ------------------------------------------------------------------

@dataclass
class PlaceInfo:
    name: str
    acquired: str | None
    tags: dict[str, str] = field(default_factory=dict)


class LabClient:
    """labgrid-client against one coordinator (the CLI: a stable interface)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.exe = tool("labgrid-client")

    def run(self, *args: str, place: str | None = None, check: bool = True,
            timeout: float = 60.0) -> "subprocess.CompletedProcess[str]":
        cmd = [self.exe, "-x", self.address] + (["-p", place] if place else []) + list(args)
        if shutil.which("setpriv"):     # a killed run takes its client calls with it
            cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
        env = {k: v for k, v in os.environ.items() if k not in ("LG_ENV", "LG_PLACE", "LG_TOKEN")}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise LabError(f"'labgrid-client {' '.join(args)}' did not answer in {timeout:g} s",
                           field="lab", fix=f"is the coordinator at {self.address} up?") from None
        if check and proc.returncode != 0:
            why = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no answer"]
            raise LabError(f"'labgrid-client {' '.join(args)}' failed: {why[0]}", field="lab",
                           fix=f"check the coordinator at {self.address}")
        return proc

    def place(self, name: str) -> PlaceInfo | None:
        proc = self.run("show", place=name, check=False)
        if proc.returncode != 0:
            if "matches nothing" in proc.stderr or "matches nothing" in proc.stdout:
                return None
            why = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no answer"]
            raise LabError(f"cannot read place '{name}' at {self.address}: {why[0]}", field="lab",
                           fix=f"is the coordinator at {self.address} up?")
        acquired: str | None = None
        tags: dict[str, str] = {}
        for line in proc.stdout.splitlines():
            line = line.strip()
            if line.startswith("acquired:"):
                value = line.split(":", 1)[1].strip()
                acquired = None if value in ("", "None") else value
            elif line.startswith("tags:"):
                for pair in line.split(":", 1)[1].split(","):
                    k, _, v = pair.strip().partition("=")
                    if k:
                        tags[k] = v
        return PlaceInfo(name, acquired, tags)


def identity() -> str:
    """`host/user` as labgrid records an acquired place."""
    import getpass
    return f"{os.environ.get('LG_HOSTNAME', socket.gethostname())}/" \
           f"{os.environ.get('LG_USERNAME', getpass.getuser())}"


# -- the place lock ---------------------------------------------------------------------

class PlaceLock:
    """Hold a place for this run; release it however the run ends (see the module doc)."""

    def __init__(self, client: LabClient, place: str, wait: float = 0.0,
                 log: Any = None) -> None:
        self.client = client
        self.place = place
        self.wait = wait
        self.held = False
        self.log = log or (lambda msg: print(f"harness lab [{time.strftime('%H:%M:%S')}] {msg}",
                                             file=sys.stderr, flush=True))
        self.host = identity().split("/")[0]
        self.token = f"{_slug(self.host)}_{os.getpid()}_{_start_time(os.getpid())}"
        self.record = build_root() / "lab" / "locks" / \
            f"{_slug(client.address)}-{_slug(place)}.json"
        self._prune()

    def _prune(self) -> None:
        """Forget lock records of dead runs against virtual labs that are gone (their
        coordinator, and every lock it held, died with them)."""
        for path in self.record.parent.glob("*.json"):
            try:
                data = json.loads(path.read_text())
                host, _, port = str(data["coordinator"]).rpartition(":")
                gone = _start_time(int(data["pid"])) != str(data["start"])
            except (OSError, ValueError, KeyError):
                continue
            if gone and host in ("127.0.0.1", "localhost") and not port_open(int(port)):
                path.unlink(missing_ok=True)

    def __enter__(self) -> "PlaceLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _stale(self, info: PlaceInfo) -> str | None:
        """Why the holder is a harness run on this host that no longer exists (else None)."""
        if info.acquired is None or info.acquired.split("/")[0] != self.host:
            return None                     # another host: its pids mean nothing here
        tag = info.tags.get(TAG, "")
        owner: tuple[int, str] | None = None
        if tag:
            parts = tag.rsplit("_", 2)      # <host slug>_<pid>_<start time>
            if len(parts) == 3 and parts[0] == _slug(self.host) and parts[1].isdigit():
                owner = (int(parts[1]), parts[2])
        elif self.record.exists() and info.acquired == identity():
            try:
                data = json.loads(self.record.read_text())
                owner = (int(data["pid"]), str(data["start"]))
            except (ValueError, KeyError):
                owner = None
        if owner is None:
            return None
        pid, start = owner
        if _start_time(pid) == start:
            return None                     # that run is alive
        return f"left by harness run pid {pid}, which no longer runs"

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        while True:
            info = self.client.place(self.place)
            if info is None:
                raise LabError(f"no place '{self.place}' on the coordinator {self.client.address}",
                               field="RemotePlace.name",
                               fix=f"labgrid-client -p {self.place} create; add-match ... "
                                   "(docs/lab.md)")
            if not info.acquired:
                break
            why = self._stale(info)
            if why is not None:
                self.log(f"place '{self.place}' was still acquired by {info.acquired}: {why}; "
                         "releasing it")
                self.client.run("release", "--kick", place=self.place)
                self.client.run("set-tags", f"{TAG}=", place=self.place, check=False)
                self.record.unlink(missing_ok=True)
                continue
            if time.monotonic() >= deadline:
                holder = info.acquired + (f" (harness run {info.tags[TAG]})" if TAG in info.tags else "")
                raise LabError(f"place '{self.place}' is acquired by {holder}", field="lab",
                               fix=f"wait for it, set {WAIT_ENV}=SECONDS to wait, or ask its holder")
            time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))
        # The record first: a run killed right after the acquire is still recognisable.
        self.record.parent.mkdir(parents=True, exist_ok=True)
        self.record.write_text(json.dumps({"pid": os.getpid(), "start": _start_time(os.getpid()),
                                           "place": self.place, "coordinator": self.client.address}))
        proc = self.client.run("acquire", place=self.place, check=False)
        if proc.returncode != 0:
            self.record.unlink(missing_ok=True)
            said = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no answer"]
            raise LabError(f"acquiring '{self.place}' failed: {said[0]}", field="lab",
                           fix="see labgrid-client's message")
        self.held = True
        atexit.register(self.release)
        self.client.run("set-tags", f"{TAG}={self.token}", place=self.place, check=False)
        self.log(f"acquired place '{self.place}' on {self.client.address}")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            self.client.run("set-tags", f"{TAG}=", place=self.place, check=False, timeout=20)
            proc = self.client.run("release", place=self.place, check=False, timeout=20)
            if proc.returncode == 0:
                self.log(f"released place '{self.place}'")
                return
            said = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no answer"]
            self.log(self._not_released(said[0]))
        except LabError as exc:         # labgrid-client itself hung: say so, never raise here
            self.log(f"could not release place '{self.place}': {exc.what}")
        finally:
            self.record.unlink(missing_ok=True)

    def _not_released(self, said: str) -> str:
        """Why a release failed, and whether the place is held at all."""
        if "connect to coordinator" in said.lower():
            # A coordinator keeps no acquisition across a restart: the lock died with it.
            return (f"place '{self.place}': the coordinator {self.client.address} is gone "
                    f"({said}); the acquisition ended with it (a coordinator keeps none "
                    "across a restart)")
        try:
            info = self.client.place(self.place)
        except LabError:
            info = None
        if info is not None and info.acquired is None:
            return (f"place '{self.place}' was no longer acquired (the coordinator restarted "
                    "during the run?): nothing left to release")
        return (f"could not release place '{self.place}': {said} (the next run releases it: "
                "its lock names this run)")


# -- the virtual board --------------------------------------------------------------------

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

    def garbage_file(self) -> Path:
        path = build_root() / "lab" / f"garbage-{self.pattern:02x}-{self.garbage[1]}.bin"
        if not path.exists() or path.stat().st_size != self.garbage[1]:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(bytes([self.pattern]) * self.garbage[1])
            tmp.rename(path)
        return path

    def command(self, serial_port: int, tftp: Path, qmp: Path) -> list[str]:
        return [self.qemu, "-machine", self.machine, "-cpu", self.cpu, "-m", self.memory,
                "-bios", str(self.bios), "-display", "none", "-monitor", "none",
                "-serial", f"tcp:127.0.0.1:{serial_port},server=on,wait=off,nodelay=on",
                "-netdev", f"user,id=net0,tftp={tftp},restrict=on",
                "-device", "virtio-net-device,netdev=net0",
                "-device", f"loader,file={self.garbage_file()},addr={self.garbage[0]:#x},force-raw=on",
                "-qmp", f"unix:{qmp},server=on,wait=off",
                "-S"]   # powered off until the power switch says on


class VirtualLab:
    """coordinator + exporter + virtual board + power switch, all on 127.0.0.1."""

    def __init__(self, log_dir: Path | None = None, board: VirtualBoard = VirtualBoard(),
                 place: str = VIRTUAL_PLACE, exporter: str = VIRTUAL_EXPORTER) -> None:
        self.board = board
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
        return {"address": self.address, "place": self.place, "dir": str(self.dir),
                "ports": self.ports, "pids": {k: p.pid for k, p in self.procs.items()},
                "owner": os.getpid()}

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
            if client.place(self.place) is None:    # its places.yaml may not have been saved
                client.run("create", place=self.place)
                client.run("add-match", f"{self.exporter}/virtual-board/*", place=self.place)
        elif what == "labgrid-exporter":
            wanted = f"{self.exporter}/virtual-board/NetworkSerialPort"
            wait_until(lambda: wanted in client.run("resources", check=False).stdout, 60,
                       what, proc, log)

    def start(self) -> None:
        self.clean_stale()
        self.dir.mkdir(parents=True)
        tftp, qmp = self.dir / "tftp", self.dir / "qmp.sock"
        tftp.mkdir()
        (self.dir / "coordinator").mkdir()
        self.ports = {"serial": free_port(), "power": free_port(), "coordinator": free_port()}
        self.address = f"127.0.0.1:{self.ports['coordinator']}"

        qemu = self._spawn("virtual-board-qemu", self.board.command(self.ports["serial"], tftp, qmp))
        wait_until(lambda: qmp.exists() and port_open(self.ports["serial"]), 20,
                   "the virtual board (QEMU)", qemu, self.log_dir / "virtual-board-qemu.log")
        pdu = self._spawn("virtual-board-power", [
            sys.executable, "-m", "harness.lab", "pdu",
            "--listen", f"127.0.0.1:{self.ports['power']}", "--qmp", str(qmp)],
            cwd=Path(__file__).resolve().parents[1])
        wait_until(lambda: port_open(self.ports["power"]), 20, "the power switch", pdu,
                   self.log_dir / "virtual-board-power.log")
        coord = self._spawn("labgrid-coordinator", [
            tool("labgrid-coordinator"), "--listen", self.address], cwd=self.dir / "coordinator")
        wait_until(lambda: port_open(self.ports["coordinator"]), 30, "labgrid-coordinator", coord,
                   self.log_dir / "labgrid-coordinator.log")
        env = dict(os.environ, HARNESS_VB_DIR=str(self.dir),
                   HARNESS_VB_SERIAL_PORT=str(self.ports["serial"]),
                   HARNESS_VB_POWER_PORT=str(self.ports["power"]), HARNESS_VB_TFTP_DIR=str(tftp),
                   PYTHONUNBUFFERED="1")
        exporter = self._spawn("labgrid-exporter", [
            tool("labgrid-exporter"), "--coordinator", self.address, "--name", self.exporter,
            "--hostname", "127.0.0.1", str(EXPORTER_CONFIG)], env=env)
        client = LabClient(self.address)
        wanted = f"{self.exporter}/virtual-board/NetworkSerialPort"
        wait_until(lambda: wanted in client.run("resources", check=False).stdout, 60,
                   "the exporter's resources", exporter, self.log_dir / "labgrid-exporter.log")
        if client.place(self.place) is None:
            client.run("create", place=self.place)
            client.run("add-match", f"{self.exporter}/virtual-board/*", place=self.place)
        os.environ["LG_COORDINATOR"] = self.address
        self._write_state()

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
            raise LabError(f"lab processes survived their stop: {left}", field="lab",
                           fix="report this: harness/lab.py stops them by pid")


def resources_gone(lg_target: Any) -> list[str]:
    """The place's resources its exporter no longer offers (an exporter that died or
    went offline): labgrid keeps their entries, emptied, and fails on them later with
    a bare KeyError. [] for a target without a RemotePlace."""
    gone = []
    for res in getattr(lg_target, "resources", []):
        entry = getattr(res, "_remote_entry", None)
        if entry is None:
            continue
        try:
            offered = bool(entry.avail) and "params" in entry.data
        except (AttributeError, KeyError, TypeError):
            offered = False
        if not offered:
            gone.append(type(res).__name__)
    return gone


# -- what a run needs from a lab --------------------------------------------------------

def place_name(target: Target) -> str:
    """The RemotePlace name in the target's labgrid section, `!template` expanded."""
    main = (target.env.get("targets") or {}).get("main") or {}
    resources = main.get("resources") or {}
    items = resources.items() if isinstance(resources, dict) else \
        [kv for r in resources if isinstance(r, dict) for kv in r.items()]
    for cls, args in items:
        if cls == "RemotePlace":
            name = str((args or {}).get("name", ""))
            try:
                return string.Template(name).substitute(os.environ)
            except KeyError as exc:
                raise LabError(f"the place name needs ${exc.args[0]}", file=target.path,
                               field="targets.main.resources.RemotePlace.name",
                               fix=f"export {exc.args[0]}=<place>") from None
    raise LabError("no RemotePlace", file=target.path, field="targets.main.resources",
                   fix="add 'RemotePlace: {name: ...}' (see docs/lab.md)")


def missing_environment(target: Target) -> list[str]:
    """LG_* variables the target's labgrid templates use and U-Boot `{{NAME}}`s that are unset."""
    from .uboot import template_names
    text = target.path.read_text() if target.path.exists() else ""
    names = set(re.findall(r"!template\s+[\"']?[^\n]*?\$\{?(LG_[A-Z0-9_]+)", text))
    names |= {m for line in text.splitlines() if "!template" in line
              for m in re.findall(r"\$\{?(LG_[A-Z0-9_]+)", line)}
    names |= set(template_names(target))
    return sorted(n for n in names if n not in os.environ)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """While the lab is in use, SIGTERM/SIGHUP raise KeyboardInterrupt (so cleanup runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
    old = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@dataclass
class LabRun:
    address: str
    place: str
    lab: VirtualLab | None
    lock: PlaceLock


@contextmanager
def lab_session(target: Target, log_dir: Path | None = None,
                say: Callable[[str], None] | None = None) -> Iterator[LabRun]:
    """Bring up what `target` needs from a lab (a virtual lab for `lab: virtual`, unless
    HARNESS_LAB_COORDINATOR names a running one) and hold its place until the end.
    What happens to the place is told through `say` and appended to `log_dir`/lab.log."""
    def log(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            with open(log_dir / "lab.log", "a") as f:
                f.write(line + "\n")
        (say or (lambda m: print(f"harness lab {m}", file=sys.stderr, flush=True)))(line)

    with ExitStack() as stack:
        stack.enter_context(signals_interrupt())
        lab: VirtualLab | None = None
        attach = os.environ.get(ATTACH_ENV)
        if target.lab == "virtual" and not attach:
            lab = stack.enter_context(VirtualLab(log_dir))
            address = lab.address
        else:
            address = attach or os.environ.get("LG_COORDINATOR", "")
            if not address:
                raise LabError("no coordinator address", file=target.path, field="LG_COORDINATOR",
                               fix="export LG_COORDINATOR=host:port (the lab's coordinator)")
            os.environ["LG_COORDINATOR"] = address
        place = place_name(target)
        wait = float(os.environ.get(WAIT_ENV, "0") or 0)
        lock = stack.enter_context(PlaceLock(LabClient(address), place, wait, log))
        yield LabRun(address, place, lab, lock)


# -- the virtual power switch (a separate process: the lab's side, not the test's) ------

def serve_power_switch(listen: str, qmp_path: str) -> None:
    """HTTP power switch in labgrid's `simplerest` dialect:
    GET /power/<index>/1 -> QMP system_reset + cont (the board boots from reset);
    GET /power/<index>/0 -> QMP stop (the board freezes: no output, as unpowered);
    GET /power/<index>   -> "1" while running, else "0"."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    qmp = QEMUMonitorProtocol(qmp_path)
    qmp.connect()
    lock = threading.Lock()

    def running() -> bool:
        status: Any = qmp.cmd("query-status")
        return bool(status.get("return", {}).get("running"))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = self.path.strip("/").split("/")
            if not parts or parts[0] != "power" or len(parts) not in (2, 3):
                self.send_error(404)
                return
            with lock:
                if len(parts) == 3 and parts[2] in ("0", "1"):
                    if parts[2] == "1" and not running():
                        qmp.cmd("system_reset")
                        qmp.cmd("cont")
                    elif parts[2] == "0" and running():
                        qmp.cmd("stop")
                body = b"1" if running() else b"0"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: Any) -> None:
            print(f"power switch: {fmt % args}", file=sys.stderr, flush=True)

    host, port = listen.rsplit(":", 1)
    server = HTTPServer((host, int(port)), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    finally:
        qmp.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harness.lab", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pdu = sub.add_parser("pdu", help="the virtual board's power switch (started by the lab)")
    pdu.add_argument("--listen", required=True)
    pdu.add_argument("--qmp", required=True)
    sub.add_parser("up", help="run a virtual lab in the foreground until Ctrl-C")
    args = p.parse_args(argv)
    if args.cmd == "pdu":
        serve_power_switch(args.listen, args.qmp)
        return 0
    with signals_interrupt(), VirtualLab() as lab:
        print(f"virtual lab up: export LG_COORDINATOR={lab.address}; place '{lab.place}'; "
              f"logs in {lab.log_dir}. Ctrl-C stops it.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

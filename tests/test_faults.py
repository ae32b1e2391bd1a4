"""Faults injected during a boot: each must end the boot within its phase timeout, in
the right class (infrastructure vs product), with the last console lines, a result
folder that is written, and no process left behind. docs/faults.md has the table.

Faults are injected at a known point of the boot by hooking the console recorder
(`when_console_says`): the action runs in the reading thread the moment the line
arrives, so "mid-unpack" is mid-unpack, not "some time later".

Each test skips, saying why, on targets where its fault does not apply; the heavier
ones run only on direct-QEMU targets (their detection does not depend on U-Boot).
Run with `pytest -m faults --target=NAME tests` (or tests/test_faults.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import harness.boot
from harness import processes
from harness.console import ConsoleRecorder
from harness.errors import HarnessError
from harness.session import BootSession, Outcome
from harness.targets import Target
from harness.testing import missing_input
from harness.uboot import UBootBootStrategy
from helpers.targets import short_timeouts

pytestmark = [pytest.mark.boot, pytest.mark.reference, pytest.mark.faults]

# Bounds for "ended within its phase timeout": the short timeouts the tests boot with,
# generous for a loaded 2-core machine, never waited on in silence.
TIMEOUTS = dict(power_on=30, uboot=30, load=30, loader=20, unpack=30, kernel=20)
# Per-test changes to TIMEOUTS:
# - a QMP that never answers is waited on up to the kernel timeout: keep that one short;
# - the kill mid-unpack needs a 16 MiB image behind U-Boot, and its TFTP through QEMU's user
#   network is one round trip per block: on a loaded 2-core host (four suites at once) it
#   took over 30 s. The test is about the kill, not the load: the target's own load bound.
TIMEOUT_CHANGES: dict[str, dict[str, float]] = {
    "test_qmp_not_answering_during_verify": {"kernel": 5},
    "test_qemu_killed_mid_unpack": {"load": 120},
}
MIB = 1 << 20


# -- helpers ---------------------------------------------------------------------------


def when_console_says(
    monkeypatch: pytest.MonkeyPatch, text: str, action: Callable[[], None], ends_stream: bool = False
) -> list[float]:
    """Run `action` once, in the recorder's thread, when a console line holds `text`;
    the returned list gets the monotonic time it ran.

    `ends_stream`: the action ends the console there, so the lines that came in the
    same read after that line are lost with it. A batching transport (the lab's serial
    over TCP, a loaded host) can deliver the rest of a short boot in the read that holds
    the trigger; without the cut the fault would land after the boot it is meant to
    interrupt (the boot then passed, or failed in a later phase)."""
    fired: list[float] = []

    class Hooked(ConsoleRecorder):
        def _add(self, line: str, t_ns: int, after_ns: int | None = None) -> None:
            if fired and ends_stream:
                return
            super()._add(line, t_ns, after_ns)
            if not fired and text in line:
                fired.append(time.monotonic())
                action()
                if ends_stream:
                    self.partial = ""  # the read's unfinished last line went too

    monkeypatch.setattr(harness.boot, "ConsoleRecorder", Hooked)
    return fired


@pytest.fixture
def fault_session(harness_target: Target, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BootSession]:
    """A session of its own on the run's target, with short phase timeouts (shorter
    still or longer for the tests named in TIMEOUT_CHANGES)."""
    timeouts = {**TIMEOUTS, **TIMEOUT_CHANGES.get(request.node.originalname, {})}
    session = BootSession(short_timeouts(harness_target, tmp_path, **timeouts), tmp_path / "results")
    try:
        yield session
    finally:
        session.close()
    assert processes.survivors() == {}, "a process this boot started is still running"


def boot_timed(session: BootSession, payload: Any, name: str, **kw: Any) -> tuple[Outcome, float]:
    start = time.monotonic()
    outcome = session.boot(payload, name=name, reuse=False, **kw)
    return outcome, time.monotonic() - start


def assert_recorded(outcome: Outcome, session: BootSession, name: str) -> None:
    """The result folder of a failed boot has the console log and the record."""
    folder = session.results / name
    assert (folder / "console.log").stat().st_size > 0, list(folder.iterdir())
    assert (folder / "result.json").stat().st_size > 0, list(folder.iterdir())
    assert outcome.result.failure is not None
    assert outcome.result.failure.message in (folder / "summary.txt").read_text()


def assert_tail_from_fault(outcome: Outcome, text: str) -> None:
    """The failure's last lines are the console's end (the last lines recorded before
    the connection ended, taken when it ended), and the line the fault was injected
    at is in the record.

    Not "that line is among the last 15": the fault fires while the recorder adds the
    lines of one read, and the rest of that read (a lab's serial read collects up to
    4 KiB within 10 ms; a busy host lets more queue) and whatever the target had sent
    before the close still arrive -- real console output, and the report keeps it."""
    f = outcome.result.failure
    assert f is not None and f.last_lines, f
    recorded = [line.text for line in outcome.result.lines]
    tail = [t.replace("\r", "").replace("\0", "") for t in f.last_lines]
    assert recorded[-len(tail) :] == tail, (tail, recorded[-len(tail) :])
    assert any(text in t for t in recorded), f"'{text}' was not recorded: {recorded[-20:]}"


def qemu_pid(session: BootSession) -> int:
    qemu = getattr(session.strategy, "qemu", None)
    assert qemu is not None and qemu._child is not None, "no QEMU running"
    return int(qemu._child.pid)


def console_socket(session: BootSession) -> socket.socket:
    """The harness's end of the console connection: QEMUDriver's unix socket, or the
    SerialDriver's TCP socket to the lab's serial server."""
    qemu = getattr(session.strategy, "qemu", None)
    if qemu is not None:
        return qemu._clientsocket  # type: ignore[no-any-return]  # labgrid: untyped
    strategy = session.strategy  # no QEMU: a board, reached through the U-Boot strategy
    assert isinstance(strategy, UBootBootStrategy)
    return strategy.serial.serial._socket  # type: ignore[no-any-return]  # labgrid: untyped


def end_console(session: BootSession) -> None:
    """End the harness's console connection at this point of the stream: shut it down
    and drop what the target had sent that the harness had not read yet.

    shutdown() alone does not end the stream where it is called: bytes already in the
    socket's receive queue stay readable, so the console "closed" only once the reader
    had drained them -- under load, lines past the fault point, or the whole rest of
    a short boot (which then passed). After shutdown nothing new is queued (a unix
    peer gets EPIPE, a TCP peer a reset), so dropping the queue makes the next read
    see the end. Runs in the recorder's own thread: no read is in progress."""
    sock = console_socket(session)
    sock.shutdown(socket.SHUT_RDWR)
    blocking = sock.getblocking()
    sock.setblocking(False)
    try:
        while sock.recv(1 << 16):
            pass
    except OSError:  # a reset, or nothing left: the end either way
        pass
    finally:
        sock.setblocking(blocking)


def needs(condition: bool, why: str) -> None:
    if not condition:
        pytest.skip(why)


# -- QEMU dies, the console goes -------------------------------------------------------


def test_qemu_killed_mid_unpack(
    harness_target: Target, fault_session: BootSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL to QEMU while the loader unpacks a 64 MiB image (16 MiB behind U-Boot): infrastructure, phase
    'unpack', the signal named, the lines up to the kill kept."""
    needs(
        harness_target.is_qemu,
        "the board's QEMU belongs to the lab (a dead board is test_console_closed_mid_boot's case)",
    )
    session = fault_session
    blob = 64 * MIB if harness_target.uboot is None else 16 * MIB  # TFTP is slower
    payload = session.payload(session.variant(mode="mmu-off", blob_bytes=blob))
    fired = when_console_says(
        monkeypatch, "@h mark name=unpack.begin", lambda: os.kill(qemu_pid(session), signal.SIGKILL)
    )
    outcome, took = boot_timed(session, payload, "qemu-killed")
    f = outcome.result.failure
    assert fired, "the unpack never began"
    assert f is not None and (f.kind, f.phase) == ("infrastructure", "unpack"), str(f)
    assert "QEMU exited (killed by signal 9, SIGKILL) during the unpack" in f.message, f.message
    assert_tail_from_fault(outcome, "@h mark name=unpack.begin")
    assert time.monotonic() - fired[0] < 15, "the end of the boot took long after the kill"
    bounds = {**TIMEOUTS, **TIMEOUT_CHANGES["test_qemu_killed_mid_unpack"]}
    assert took < bounds["unpack"] + bounds["uboot"] + bounds["load"]
    assert_recorded(outcome, session, "qemu-killed")


def test_console_closed_mid_boot(
    harness_target: Target, fault_session: BootSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The console connection ends under a running target (QEMU's console socket or the
    lab's serial TCP connection shut down at the loader banner): infrastructure, said
    as a closed console, at once -- not the unpack timeout, not a product failure."""
    session = fault_session
    payload = session.payload(session.variant())
    fired = when_console_says(monkeypatch, "ELF-loader started", lambda: end_console(session), ends_stream=True)
    outcome, took = boot_timed(session, payload, "console-closed")
    f = outcome.result.failure
    assert fired, "the loader banner never came"
    assert f is not None and (f.kind, f.phase) == ("infrastructure", "unpack"), str(f)
    assert "console closed during the unpack" in f.message, f.message
    assert "the target still runs" in f.message or "lost the console" in f.message, f.message
    assert_tail_from_fault(outcome, "ELF-loader started")
    lines = outcome.result.lines
    banner = next(line for line in lines if "ELF-loader started" in line.text)
    # nothing was read after the banner's own read (the recorder stamps a read's lines
    # alike; the last line may be its unfinished one, stamped when the recorder closed)
    after = [line.text for line in lines[:-1] if line.t_ns > banner.t_ns]
    assert not after, f"read after the console ended: {after}"
    assert time.monotonic() - fired[0] < 15, "the closed console was not seen at once"
    assert_recorded(outcome, session, "console-closed")


# -- the results folder -------------------------------------------------------------------


def test_results_folder_unwritable(harness_target: Target, tmp_path: Path) -> None:
    """A results folder that cannot be created (its parent is a file; as root, chmod
    would not stop us): one HarnessError naming the folder, before anything is powered."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    session = BootSession(short_timeouts(harness_target, tmp_path, **TIMEOUTS), blocker / "results")
    started = dict(processes._started)
    try:
        payload = session.payload(session.variant())
        with pytest.raises(HarnessError) as exc:
            session.boot(payload, name="unwritable")
        powered = session.strategy.power_on_ns
    finally:
        session.close()
    text = str(exc.value)
    assert str(blocker / "results" / "unwritable") in text and "cannot be written" in text, text
    assert "Not a directory" in text, text
    assert powered is None, "the target was powered on"
    assert processes._started == started, "a process was started"


@pytest.fixture
def full_folder(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs with one page left: the boot's first file takes it."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True, text=True, timeout=30
    )
    if done.returncode != 0:
        missing_input(
            "a tmpfs mount",
            f"the full-folder fault needs one ({done.stderr.strip()})",
            "run as root, or where mount -t tmpfs is permitted (docs/faults.md)",
        )
    try:
        st = os.statvfs(mnt)
        (mnt / "filler").write_bytes(bytes(st.f_bavail * st.f_frsize - 4096))
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def test_results_folder_full(harness_target: Target, tmp_path: Path, full_folder: Path) -> None:
    """The folder fills up during the boot: the boot's verdict stands, and what could
    not be written is said in one message naming the folder and each file."""
    needs(
        harness_target.is_qemu and harness_target.uboot is None,
        "the folder's handling is the same on every target: it runs on direct-QEMU targets",
    )
    session = BootSession(short_timeouts(harness_target, tmp_path, **TIMEOUTS), full_folder / "results")
    try:
        payload = session.payload(session.variant())
        outcome, took = boot_timed(session, payload, "full")
    finally:
        session.close()
    assert outcome.result.ok, str(outcome.result.failure)  # the verdict is kept
    why = outcome.result.extras.get("write_error", "")
    assert str(full_folder / "results" / "full") in why, why
    assert "No space left on device" in why and "result.json" in why, why
    assert took < TIMEOUTS["loader"] + TIMEOUTS["unpack"]
    assert processes.survivors() == {}


# -- TFTP ------------------------------------------------------------------------------------


def _tftp_target(target: Target) -> None:
    needs(
        target.uboot is not None and target.uboot.transport == "tftp",
        "TFTP faults apply to U-Boot targets that load by TFTP",
    )


def _after_staging(session: BootSession, monkeypatch: pytest.MonkeyPatch, spoil: Callable[[Path, Any], None]) -> None:
    """Stage as usual, then `spoil(staged file, package)` before U-Boot asks for it."""
    strategy = session.strategy
    assert isinstance(strategy, UBootBootStrategy)
    stage = strategy._stage

    def staged() -> str:
        name = str(stage())
        spoil(strategy._tftp_root() / strategy.package.name, strategy.package)
        return name

    monkeypatch.setattr(strategy, "_stage", staged)


def test_tftp_file_missing(harness_target: Target, fault_session: BootSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file is gone from the TFTP root: U-Boot's own error, as infrastructure, in 'load'."""
    _tftp_target(harness_target)
    session = fault_session
    _after_staging(session, monkeypatch, lambda path, pkg: path.unlink())
    outcome, took = boot_timed(session, session.payload(session.variant()), "tftp-missing")
    f = outcome.result.failure
    assert f is not None and (f.kind, f.phase) == ("infrastructure", "load"), str(f)
    assert "U-Boot: TFTP error: 'File not found'" in f.message, f.message
    assert any("File not found" in line for line in f.last_lines), f.last_lines
    assert took < TIMEOUTS["power_on"] + TIMEOUTS["uboot"] + TIMEOUTS["load"]
    assert_recorded(outcome, session, "tftp-missing")


def test_tftp_file_truncated(
    harness_target: Target, fault_session: BootSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server has half the file: caught at U-Boot's byte count, before bootm runs
    anything, as infrastructure (the package itself is fine)."""
    _tftp_target(harness_target)
    session = fault_session

    def truncate(path: Path, pkg: Any) -> None:
        data = pkg.path.read_bytes()[: pkg.size // 2]
        path.unlink()  # the link, never the package it points to
        path.write_bytes(data)

    _after_staging(session, monkeypatch, truncate)
    outcome, took = boot_timed(session, session.payload(session.variant()), "tftp-truncated")
    f = outcome.result.failure
    assert f is not None and (f.kind, f.phase) == ("infrastructure", "load"), str(f)
    strategy = session.strategy
    assert isinstance(strategy, UBootBootStrategy)
    pkg = strategy.package
    assert (
        f"TFTP failure: {pkg.size // 2} bytes transferred, {pkg.name} has {pkg.size} "
        "(the file the server sent is truncated)" in f.message
    ), f.message
    assert any("Bytes transferred" in line for line in f.last_lines), f.last_lines
    assert not any(line.startswith("## Booting") for line in f.last_lines), "bootm ran"
    assert took < TIMEOUTS["power_on"] + TIMEOUTS["uboot"] + TIMEOUTS["load"]
    assert_recorded(outcome, session, "tftp-truncated")


# -- --verify: the gdbstub or QMP stops answering ----------------------------------------------


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts and reads, and never answers (a hung stub)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_gdbstub_not_answering_during_verify(
    harness_target: Target, fault_session: BootSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--verify with a gdbstub that accepts the connection and never answers: an
    infrastructure failure naming the gdbstub, within its 5 s command timeout."""
    needs(harness_target.is_qemu, "--verify needs QEMU's gdbstub and QMP")
    import harness.qemu.gdbstub
    import harness.qemu.verify

    session = fault_session
    hole = BlackHole()
    real = harness.qemu.gdbstub.GdbStub
    monkeypatch.setattr(harness.qemu.verify, "GdbStub", lambda port, *a, **k: real(hole.port, *a, **k))
    try:
        outcome, took = boot_timed(session, session.payload(session.variant()), "gdbstub-silent", verify=True)
    finally:
        hole.close()
    f = outcome.result.failure
    assert f is not None and f.kind == "infrastructure", str(f)
    assert "the gdbstub on 127.0.0.1:" in f.message and "did not answer" in f.message, f.message
    assert f.phase == ("power-on" if harness_target.uboot is None else "bootm"), str(f)
    assert took < 30 + (TIMEOUTS["uboot"] + TIMEOUTS["load"] if harness_target.uboot else 0)
    folder = session.results / "gdbstub-silent-verify"
    assert (folder / "result.json").exists() and (folder / "console.log").exists()
    if harness_target.uboot is not None:  # U-Boot had talked: its lines are kept
        assert f.last_lines or (folder / "console.log").stat().st_size > 0


def test_qmp_not_answering_during_verify(
    harness_target: Target, fault_session: BootSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QEMU stops answering (SIGSTOP at the hand-off line: neither QMP nor the gdbstub
    answer): the out-of-band dump fails as infrastructure within the kernel timeout,
    and QEMU is still stopped and reaped afterwards."""
    needs(
        harness_target.is_qemu and harness_target.uboot is None,
        "the QMP bound is the same behind U-Boot: it runs on direct-QEMU targets",
    )
    session = fault_session
    fired = when_console_says(
        monkeypatch, "Jumping to kernel-image entry point", lambda: os.kill(qemu_pid(session), signal.SIGSTOP)
    )
    outcome, took = boot_timed(session, session.payload(session.variant()), "qmp-silent", verify=True)
    f = outcome.result.failure
    assert fired, "the hand-off line never came"
    assert f is not None and (f.kind, f.phase) == ("infrastructure", "kernel"), str(f)
    assert "QEMU's QMP monitor ('query-status') did not answer within" in f.message, f.message
    assert_tail_from_fault(outcome, "Jumping to kernel-image entry point")
    assert time.monotonic() - fired[0] < 5 + 15  # the kernel timeout, QEMU's stop
    assert_recorded(outcome, session, "qmp-silent-verify")


# -- the lab: coordinator or exporter killed mid-run --------------------------------------------

INNER = Path(__file__).parent / "helpers" / "lab_fault_run.py"


@pytest.fixture(scope="module")
def private_lab(harness_target: Target, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A virtual lab of its own, so killing its coordinator or exporter leaves the run's
    own lab alone; runs that use it are separate processes (labgrid keeps one
    coordinator session per process)."""
    if harness_target.lab != "virtual":
        pytest.skip("coordinator and exporter faults run with a `lab: virtual` target")
    from harness.lab import VirtualLab, place_name
    from harness.lab.imx8mp_board import TFTP_PORT_ENV

    # VirtualLab points this process's labgrid (and U-Boot's tftpdstp) at itself
    saved = {name: os.environ.get(name) for name in ("LG_COORDINATOR", TFTP_PORT_ENV)}
    try:
        logs = tmp_path_factory.mktemp("fault-lab") / "logs"
        with VirtualLab(logs, place=place_name(harness_target)) as lab:
            # the session's boots keep the session lab's TFTP port; runs against this lab
            # are given its own (lab_run_killing)
            _restore({TFTP_PORT_ENV: saved[TFTP_PORT_ENV]})
            yield lab
            pids = {what: p.pid for what, p in lab.procs.items()}
    finally:
        _restore(saved)
    assert not [pid for pid in pids.values() if processes.alive(pid)]


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def lab_run_killing(lab: Any, what: str, target: Target, tmp: Path) -> tuple[dict[str, Any], str]:
    """Run tests/helpers/lab_fault_run.py against `lab`; kill the lab's `what` once U-Boot
    talks on the first boot's console. Returns the run's record and its output."""
    import json
    import sys

    env = {
        k: v for k, v in os.environ.items() if k not in ("LG_COORDINATOR", "LG_ENV", "PYTEST_ADDOPTS", "HARNESS_TARGET")
    }
    env["HARNESS_LAB_COORDINATOR"] = lab.address
    if "tftp" in lab.ports:  # a place whose TFTP server the lab runs (atftpd)
        from harness.lab.imx8mp_board import TFTP_PORT_ENV

        env[TFTP_PORT_ENV] = str(lab.ports["tftp"])
    short = short_timeouts(target, tmp, **TIMEOUTS)
    out, log = tmp / "run.json", tmp / "run.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, str(INNER), str(short.path), str(tmp / "results"), str(out)],
            cwd=INNER.parents[2],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    processes.register(proc.pid, "lab fault run")
    try:
        console = tmp / "results" / "boot-0" / "console.log"
        deadline = time.monotonic() + 120
        while not (console.exists() and "U-Boot" in console.read_text(errors="replace")):
            assert proc.poll() is None and time.monotonic() < deadline, (
                "U-Boot never talked:\n" + log.read_text(errors="replace")[-3000:]
            )
            time.sleep(0.05)
        victim = lab.procs[what]
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(10)
        proc.wait(2 * sum(TIMEOUTS.values()))  # both boots, each bounded by its phases
    finally:
        processes.stop(proc)
    return json.loads(out.read_text()), log.read_text(errors="replace")


def assert_lab_boot(entry: dict[str, Any]) -> None:
    """A boot of a run whose lab lost a process: it passed (the dead process was not in
    its path) or failed as infrastructure -- never blamed on the product."""
    assert entry["ok"] or entry.get("kind") == "infrastructure", entry
    assert entry["seconds"] < sum(TIMEOUTS.values()), entry


def test_exporter_killed_mid_run(harness_target: Target, private_lab: Any, tmp_path: Path) -> None:
    """The exporter dies while U-Boot runs: the boot in flight keeps its direct console,
    power and TFTP paths; the next power-on says the exporter no longer offers the place's
    resources (infrastructure); the place is released at the end."""
    from harness.lab import TAG, LabClient

    record, out = lab_run_killing(private_lab, "labgrid-exporter", harness_target, tmp_path)
    try:
        assert record.get("ended") and len(record["boots"]) == 2, (record, out[-3000:])
        assert_lab_boot(record["boots"][0])
        second = record["boots"][1]
        assert (second.get("kind"), second.get("phase")) == ("infrastructure", "power-on"), second
        assert "the lab's exporter no longer offers" in second["message"], second
        assert f"released place '{private_lab.place}'" in out, out[-3000:]
        info = LabClient(private_lab.address).place(private_lab.place)
        assert info is not None and not info.acquired and not info.tags.get(TAG), info
        assert (tmp_path / "results" / "boot-1" / "result.json").exists()
    finally:
        private_lab.restart("labgrid-exporter")
    assert processes.survivors() == {}


def test_coordinator_killed_mid_run(harness_target: Target, private_lab: Any, tmp_path: Path) -> None:
    """The coordinator dies while U-Boot runs: no boot needs it (console, power and TFTP
    are direct), so the run goes on; the release at the end says the acquisition died
    with the coordinator, and a restarted coordinator has the place free."""
    from harness.lab import LabClient

    record, out = lab_run_killing(private_lab, "labgrid-coordinator", harness_target, tmp_path)
    private_lab.restart("labgrid-coordinator")
    if not processes.alive(private_lab.procs["labgrid-exporter"].pid):
        private_lab.restart("labgrid-exporter")
    assert record.get("ended") and len(record["boots"]) == 2, (record, out[-3000:])
    for entry in record["boots"]:
        assert_lab_boot(entry)
    assert "the acquisition ended with it" in out, out[-3000:]
    info = LabClient(private_lab.address).place(private_lab.place)
    assert info is not None and not info.acquired, info
    assert processes.survivors() == {}

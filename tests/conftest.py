"""Fixtures shared by the test files, and the run's last check.

Plain helpers (fakes, ELF writer, short timeouts) are in tests/helpers/; fixtures
are here, so no test file imports another. Markers are registered in pyproject.toml.

The last check: when the session ends -- every test and fixture torn down -- no
process this pytest started may still run. A leftover QEMU, coordinator, exporter or
server fails the run, named by pid and command line, and is then stopped.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Iterator

import pytest
from labgrid import Target as LgTarget
from labgrid.driver import TFTPProviderDriver
from labgrid.resource import TFTPProvider

from harness.targets import Target, load
from harness.testing import require_tool
from harness.uboot import UBootBootStrategy
from helpers.process_tree import left_running, stop_pids
from helpers.uboot_board import FakeBoardPower, FakeUBootConsole, image_file


@pytest.fixture
def board(tmp_path: Path) -> Iterator[tuple[UBootBootStrategy, FakeUBootConsole, Target]]:
    """The U-Boot strategy wired to a fake U-Boot board (tests/helpers/uboot_board.py),
    a real uImage staged in a TFTP root under tmp_path, short phase timeouts."""
    require_tool("mkimage", "the fake board boots a real uImage", "apt-get install u-boot-tools")
    lg = LgTarget("fake-board", env=None)
    console = FakeUBootConsole(lg, None)
    FakeBoardPower(lg, None)
    TFTPProvider(lg, None, internal=str(tmp_path / "tftp") + "/", external="")
    TFTPProviderDriver(lg, None)
    strategy = UBootBootStrategy(lg, None)
    base = load("qemu-virt-uboot")
    target = dataclasses.replace(
        base, timeouts=dataclasses.replace(base.timeouts, power_on=0.5, uboot=3.0, load=3.0, loader=3.0)
    )
    strategy.configure(target)
    strategy.prepare(image_file(tmp_path), [])
    console.b["bytes"] = strategy.package.size
    yield strategy, console, target
    strategy.transition("off")
    lg.cleanup()


@pytest.hookimpl(trylast=True)  # after pytest's own teardown of what is still set up
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a process it started outlived it (only this process's
    descendants: a concurrent pytest's processes are not ours to judge or stop)."""
    left = left_running()
    if not left:
        return
    lines = [f"pid {pid}: {what}" for pid, what in sorted(left.items())]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    title = f"processes this run started are still running ({len(left)}): stopped now"
    if reporter is not None:
        reporter.write_line("")  # end the progress line
        reporter.write_sep("=", title, red=True)
        for line in lines:
            reporter.write_line(line)
    else:
        sys.stderr.write("\n".join([title, *lines]) + "\n")
    stop_pids(sorted(left))
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

"""`harness boot --interactive` and `--gdb`, driven as a person would, with pexpect.

--interactive: the console shows on the terminal while the harness records and
checks; after the boot's end it stays attached until Ctrl-], which powers off and
prints the checks. --gdb: the guest waits at the loader entry behind a gdbstub on
127.0.0.1; the printed gdb-multiarch command names the port and both symbol files.
The test attaches with the harness's own RSP client (gdb-multiarch may not be
installed), checks the PC, and lets the guest go.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pexpect
import pytest

from harness.qemu.gdbstub import GdbStub
from harness.images.elf import read_elf
from harness.targets import Target
from helpers.process_tree import stop_tree

pytestmark = [pytest.mark.boot, pytest.mark.reference]


def spawn(harness_target: Target, tmp_path: Path, *args: str) -> pexpect.spawn:
    if harness_target.remote or not harness_target.is_qemu or harness_target.uboot is not None:
        pytest.skip("needs a QEMU target that starts the loader directly")
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "harness.cli",
            "boot",
            "--target",
            str(harness_target.path),
            "--results",
            str(tmp_path),
            "--history",
            "off",
            *args,
        ],
        timeout=120,
        encoding="utf-8",
    )
    child.logfile_read = (tmp_path / "terminal.txt").open("w")
    return child


def test_interactive_console_detaches_and_powers_off(harness_target: Target, tmp_path: Path) -> None:
    child = spawn(harness_target, tmp_path, "--interactive")
    try:
        child.expect_exact("Ctrl-] detaches and powers off")
        child.expect_exact("ELF-loader started")  # the console, live
        child.expect(r"@h probe verdict ok")
        child.expect_exact("the console stays attached")
        child.send("\x1d")
        child.expect_exact("Startup finished in")
        child.expect_exact("[pass] segments")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.before
        log = next(tmp_path.glob("*/*/console.log")).read_text()
        assert "ELF-loader started" in log  # recorded all the same
    finally:
        stop_tree(child)


def test_gdb_holds_the_loader_entry_for_a_debugger(harness_target: Target, tmp_path: Path) -> None:
    child = spawn(harness_target, tmp_path, "--gdb")
    stub = None
    try:
        child.expect(r"stopped at the loader entry (0x[0-9a-f]+), gdbstub on 127\.0\.0\.1:(\d+)")
        entry, port = int(child.match.group(1), 16), int(child.match.group(2))
        child.expect(r"(gdb-multiarch [^\r\n]+)")
        argv = shlex.split(child.match.group(1))
        loader = Path(argv[-1])
        assert read_elf(loader, "elfloader").entry == entry
        kernel = next(a.split(" ", 1)[1] for a in argv if a.startswith("add-symbol-file "))
        assert read_elf(Path(kernel), "kernel").entry  # the probe's symbols, as a file
        assert f"target remote 127.0.0.1:{port}" in argv
        assert not re.search(r"ELF-loader started", child.before or "")
        stub = GdbStub(port)
        assert stub.pc() == entry  # held there, not running
        stub.detach()  # as gdb's `detach`: run on
        child.expect_exact("Startup finished in")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, child.before
    finally:
        if stub is not None:
            stub.close()
        stop_tree(child)

"""`harness boot --dry-run` prints a command a person can paste: run it, see the loader boot.

The printed text is run as it is (bash -c, in a pseudo-terminal, as a shell would);
for U-Boot targets the commands it says to type are typed at the prompt. Whatever
happens, every process the test started is stopped by its id.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from harness.targets import Target
from helpers.process_tree import stop_tree

pytestmark = [pytest.mark.boot, pytest.mark.reference]


def test_the_dry_run_boots_when_pasted(harness_target: Target, tmp_path: Path) -> None:
    if harness_target.remote or not harness_target.is_qemu:
        pytest.skip("a lab or board target: its dry run is the commands to type on the board")
    text = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "boot",
            "--target",
            str(harness_target.path),
            "--dry-run",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert "-qmp" not in text and "serialsocket" not in text
    child = pexpect.spawn(
        "bash", ["-c", text], timeout=60, encoding="utf-8", echo=False, cwd="/"
    )  # the command depends on no working directory
    child.logfile_read = (tmp_path / "console.txt").open("w")
    try:
        if harness_target.uboot is not None:
            u = harness_target.uboot
            child.expect_exact(u.autoboot)
            child.send("\r")
            for cmd in (ln[4:] for ln in text.splitlines() if ln.startswith("#   ")):
                child.expect_exact(u.prompt)
                child.sendline(cmd)
        child.expect_exact("ELF-loader started")
        child.expect(r"@h probe verdict (\w+)[\r\n]")  # to the line's end: a pty may deliver 'o', then 'k'
        assert child.match.group(1) == "ok", child.before
        child.send("\x01x")  # what the dry run says quits QEMU
        child.expect(pexpect.EOF, timeout=10)
    finally:
        stop_tree(child)

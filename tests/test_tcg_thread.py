"""Every QEMU the harness starts runs TCG on one thread, unless its target chose otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.lab.virtual import BOARDS, VIRTUAL_PLACE
from harness.qemu.command import ONE_TCG_THREAD, one_tcg_thread


def test_a_target_without_an_accelerator_gets_one_tcg_thread() -> None:
    assert one_tcg_thread("virt -nic none") == ["-accel", "tcg,thread=single"]


@pytest.mark.parametrize(
    "chosen",
    ["virt -accel kvm", "virt -accel tcg,thread=multi", "virt,accel=kvm -nic none", "virt -smp 4"],
    ids=["accel-kvm", "accel-multi", "machine-accel", "smp"],
)
def test_a_target_that_chose_an_accelerator_keeps_it(chosen: str) -> None:
    """QEMU tries repeated -accel options in turn and refuses -accel beside machine accel=:
    adding ours would override the target's choice or stop QEMU from starting. A target
    with several vCPUs keeps a thread each: one thread would run them in turn."""
    assert one_tcg_thread(chosen) == []


def test_the_virtual_lab_boards_run_one_tcg_thread(tmp_path: Path) -> None:
    board = BOARDS[VIRTUAL_PLACE]
    argv = board.command(5555, tmp_path, tmp_path / "qmp.sock")
    at = argv.index("-accel")
    assert argv[at : at + 2] == ONE_TCG_THREAD

"""A boot that runs seL4 to its verdict gets its guest RAM populated up front; no other does.

sel4test touches all of the guest's RAM, so populating it in one pass saves the host a page
fault per page (harness/qemu/command.py says what it measured); a boot that stops at the
hand-off, or a reference boot that touches a few MiB, would only pay for the pass.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.payload import Payload
from harness.qemu.command import POPULATED_RAM
from harness.session import BootSession
from harness.targets import load

pytestmark = pytest.mark.host


def args_for(tmp: Path, target_name: str, contract: str, until: str) -> list[str]:
    target = dataclasses.replace(load(target_name), poison=False)  # poison reads the ELF: not the point
    session = BootSession(target, tmp / "results")
    try:
        payload = Payload(elf=tmp / "x.elf", boot_file=tmp / "x.elf", contract_override=contract)
        return session.extra_args(payload, until=until)
    finally:
        session.close()


def populated(args: list[str]) -> bool:
    return POPULATED_RAM[0] in args


@pytest.mark.parametrize("target_name", ["qemu-virt", "qemu-imx8mp-uboot"])
def test_a_sel4_run_to_its_verdict_populates_the_guest_ram(tmp_path: Path, target_name: str) -> None:
    assert populated(args_for(tmp_path, target_name, "sel4", "verdict"))


def test_a_sel4_boot_that_stops_at_the_hand_off_does_not(tmp_path: Path) -> None:
    assert not populated(args_for(tmp_path, "qemu-virt", "sel4", "handoff"))


def test_the_reference_loader_does_not(tmp_path: Path) -> None:
    assert not populated(args_for(tmp_path, "qemu-virt", "mmu-off", "verdict"))

"""The `destinations` check, before any boot: a loader that would unpack over the
firmware's carve-out (OP-TEE at 0x56000000 on the i.MX8M Plus targets) fails naming both;
the same loader with a small rootserver passes; a target without carve-outs has no check."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import destinations_check
from harness.payload import Payload
from harness.targets import load
from helpers.sel4_like import sel4_like_elfloader

pytestmark = pytest.mark.host


def payload(tmp: Path, root_memsz: int) -> Payload:
    elf = sel4_like_elfloader(tmp, dtb=True, root_memsz=root_memsz)
    return Payload(elf, elf)


def test_small_image_keeps_clear_of_optee(tmp_path: Path) -> None:
    check = destinations_check(payload(tmp_path, 0x10000), load("qemu-imx8mp"))
    assert check is not None and check.status == "pass", check
    assert "keep clear of carve-out 'optee' [0x56000000..0x58000000)" in check.message


def test_rootserver_across_optee_is_caught(tmp_path: Path) -> None:
    """The seed's shape: a ~350 MB rootserver behind a kernel at 0x40000000 runs through
    0x56000000, where the board's OP-TEE lives."""
    check = destinations_check(payload(tmp_path, 0x16000000), load("qemu-imx8mp"))
    assert check is not None and check.failed, check
    assert "user image 'rootserver' [0x4022c000.." in check.message
    assert "overlaps carve-out 'optee' [0x56000000..0x58000000)" in check.message


def test_no_carve_out_no_check(tmp_path: Path) -> None:
    assert destinations_check(payload(tmp_path, 0x16000000), load("qemu-virt")) is None

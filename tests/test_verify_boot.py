"""Out-of-band verification: memory at the kernel entry, dumped over QMP, equals the ELFs.

It needs no help from the loader (see tests/test_user_image.py for an image
that prints none of our lines); here it must pass in every mode and catch the
corrupted-segment control with the segment and the address.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from harness.session import BootSession, Outcome
from harness.targets import Target

pytestmark = [pytest.mark.boot, pytest.mark.reference]

MODES: dict[str, dict[str, Any]] = {
    "mmu-off": {"mode": "mmu-off"},
    "early-mmu": {"mode": "early-mmu"},
    "fallback": {"mode": "early-mmu", "pt_pages": 1},
}


@pytest.fixture(autouse=True)
def _qemu_only(harness_target: Target) -> None:
    if not harness_target.is_qemu:
        pytest.skip("out-of-band verification needs QEMU's gdbstub and QMP")


@pytest.mark.parametrize("mode", list(MODES))
def test_memory_equals_the_elf_images(mode: str, boot_session: BootSession, boot: Callable[..., Outcome]) -> None:
    payload = boot_session.payload(boot_session.variant(**MODES[mode]))
    outcome = boot(payload, verify=True)
    assert outcome.result.ok, str(outcome.result.failure)
    check = outcome.check("out-of-band")
    assert check.status == "pass", check.message
    expected = sum(s.memsz for img in payload.images for s in img.segments)
    assert f"{expected} bytes" in check.message
    assert outcome.result.timeline.verdict is not None  # the kernel ran on afterwards


def test_corrupted_segment_is_caught_out_of_band(boot_session: BootSession, boot: Callable[..., Outcome]) -> None:
    payload = boot_session.payload(boot_session.variant(mode="mmu-off", bug="corrupt-segment"))
    outcome = boot(payload, verify=True)
    assert outcome.failed == ["segments", "out-of-band"], outcome.failed
    seg = payload.images[0].segments[-1]
    flipped = seg.paddr + seg.filesz // 2
    assert (
        f"{seg.describe()} at {seg.paddr:#x}: file bytes differ from the ELF from {flipped:#x}"
        in outcome.check("out-of-band").message
    )

"""`early-map` on a real boot: the loader stopped where its MMU turns on, its page tables
walked out of guest memory and held to the target's carve-outs.

Runs on the QEMU targets that start the loader directly (the gdbstub stops it before its
first instruction): qemu-imx8mp (seL4's hypervisor build after the firmware stand-in, with
OP-TEE's carve-out), qemu-imx8mp-el3 (the reference loader) and the virt targets (no
carve-out: only "nothing outside DRAM but the UART page" is judged). Behind U-Boot the
loader starts after `bootm`, past the stop: `--early-map` refuses those targets.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from harness.images.build import ROOT
from harness.payload import Payload
from harness.sel4.build import build
from harness.sel4.config import PLATFORMS, Sel4Config, for_target
from harness.session import BootSession, Outcome
from harness.targets import Target

pytestmark = [pytest.mark.boot]

OPTEE = "carve-out 'optee' [0x56000000..0x58000000)"


@pytest.fixture(autouse=True)
def _direct_qemu(harness_target: Target, boot_session: BootSession) -> None:
    if not harness_target.is_qemu or boot_session.strategy.stages_image:
        pytest.skip("the early-map stop needs a QEMU target that starts the loader directly")


def sel4_image(target: Target, **kw: Any) -> Payload:
    cfg = for_target(target.machine, target.expect_el)
    if isinstance(cfg, str):
        pytest.skip(cfg)
    return build(Sel4Config(**{**cfg.__dict__, **kw})).payload()


def early_map(outcome: Outcome) -> tuple[str, str]:
    assert outcome.result.ok, str(outcome.result.failure)
    check = outcome.check("early-map")
    return check.status, check.message


@pytest.mark.sel4
def test_patched_sel4_maps_no_carve_out(
    harness_target: Target, user_payload: Payload | None, boot: Callable[..., Outcome]
) -> None:
    payload = user_payload or sel4_image(harness_target, early_mmu=True)
    status, message = early_map(boot(payload, name="sel4-early-map", until="handoff", early_map=True))
    assert status == "pass", message
    assert "early_mmu_begin returned to" in message
    for c in harness_target.carve_outs:
        assert f"{c.name} [{c.base:#x}..{c.end:#x})" in message, message


@pytest.mark.sel4
def test_unreserved_control_maps_the_carve_out(
    harness_target: Target, user_payload: Payload | None, boot: Callable[..., Outcome]
) -> None:
    """NEGATIVE CONTROL: the same build without the overlay's reserved-memory node: seL4's
    memory info covers OP-TEE's DRAM, the patch maps it Normal, the check names it."""
    if user_payload is not None:
        pytest.skip("--image given: the control is an image the suite builds")
    if not harness_target.carve_outs or not any(
        "unreserved" in p and p.get("machine") == harness_target.machine for p in PLATFORMS.values()
    ):
        pytest.skip(f"{harness_target.name} declares no carve-out a seL4 build reserves")
    payload = sel4_image(harness_target, early_mmu=True, unreserved=True)
    outcome = boot(payload, name="sel4-unreserved-early-map", until="handoff", early_map=True)
    status, message = early_map(outcome)
    assert status == "fail" and outcome.failed == ["early-map"], (outcome.failed, message)
    assert (
        f"{OPTEE}: VA [0x56000000..0x58000000) -> PA [0x56000000..0x58000000) mapped "
        "Normal write-back (AttrIndx 1, MAIR byte 0xff)"
    ) in message, message


@pytest.mark.sel4
def test_stock_sel4_skips_with_the_reason(harness_target: Target, boot: Callable[..., Outcome]) -> None:
    status, message = early_map(
        boot(sel4_image(harness_target), name="sel4-stock-early-map", until="handoff", early_map=True)
    )
    assert status == "skip" and "stock loader" in message, message


@pytest.mark.sel4
def test_a_patched_loader_whose_mmu_never_turns_on_says_so(
    harness_target: Target, boot: Callable[..., Outcome]
) -> None:
    """The route whose map is never built (the patch's fallback): the stop still comes,
    SCTLR.M is 0 there, and the check says the MMU never turned on instead of judging."""
    route = ROOT / "patches" / "seL4_tools" / "routes" / "mmu-off-wide.patch"
    payload = sel4_image(harness_target, early_mmu=True, extra_patches=(route,))
    status, message = early_map(boot(payload, name="sel4-mmu-off-wide-early-map", until="handoff", early_map=True))
    assert status == "skip", message
    assert "the MMU never turned on: early_mmu_begin returned to" in message, message
    assert f"SCTLR_EL{2 if harness_target.expect_el == 2 else 1}.M = 0" in message, message


@pytest.mark.reference
def test_reference_loader_maps_its_whole_dram(
    harness_target: Target, boot_session: BootSession, boot: Callable[..., Outcome]
) -> None:
    """The reference loader maps its machine's DRAM whole: where the target declares a
    carve-out that is the reference-loader control (the check names it); without one, the
    check passes (its UART block is Device)."""
    payload = boot_session.payload(boot_session.variant(mode="early-mmu"))
    status, message = early_map(boot(payload, until="handoff", early_map=True))
    if harness_target.carve_outs:
        assert status == "fail" and OPTEE in message and "mmu_enable returned to" in message, message
    else:
        assert status == "pass", message


@pytest.mark.reference
def test_mmu_off_reference_skips_with_the_reason(boot_session: BootSession, boot: Callable[..., Outcome]) -> None:
    payload = boot_session.payload(boot_session.variant(mode="mmu-off"))
    status, message = early_map(boot(payload, until="handoff", early_map=True))
    assert status == "skip" and "built 'mmu-off' turns no MMU on" in message, message

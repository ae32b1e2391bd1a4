"""Cache coherence and modeled board time, under the cache-model plugin.

QEMU has no caches: these boots run under the TCG cache model, which sees
what a board would suffer from. Every mode must be hazard-free (including the
ones that never turn caches on: no false alarms), every cache defect must be
caught by exactly its check, and the counted unpack must model the collapse.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from harness.checks import COHERENCE_CHECKS
from harness.board_time import Modeled
from harness.session import BootSession, Outcome

pytestmark = [pytest.mark.boot, pytest.mark.reference]


@pytest.fixture(autouse=True)
def _in_qemu(harness_target: Any) -> None:
    if not harness_target.is_qemu:
        pytest.skip("the cache model is a QEMU TCG plugin: QEMU targets only")


MODES: dict[str, dict[str, Any]] = {
    "mmu-off": {"mode": "mmu-off"},
    "early-mmu": {"mode": "early-mmu"},
    "fallback": {"mode": "early-mmu", "pt_pages": 1},
}


def coherent_boot(session: BootSession, boot: Callable[..., Outcome], **kw: Any) -> Outcome:
    outcome = boot(session.payload(session.variant(**kw)), coherence=True)
    assert outcome.result.ok, str(outcome.result.failure)
    return outcome


@pytest.mark.parametrize("mode", list(MODES))
def test_modes_have_no_cache_hazard(mode: str, boot_session: BootSession, boot: Callable[..., Outcome]) -> None:
    outcome = coherent_boot(boot_session, boot, **MODES[mode])
    assert outcome.failed == [], [(c.name, c.message) for c in outcome.checks if c.failed]
    names = {c.name for c in outcome.checks if c.status == "pass"}
    assert set(COHERENCE_CHECKS) <= names
    report = outcome.result.extras["coherence"]
    assert report.handoff_seen and report.begin_seen


def _first_segment(outcome: Outcome) -> tuple[int, int]:
    seg = outcome.result.payload.images[0].segments[0]
    return seg.paddr, seg.paddr + seg.filesz


NEGATIVE = {
    # bug: (the one check that must fail, the hazard kind it must name)
    "no-clean": ("cache-clean", "dirty-at-disable"),
    "clean-short": ("cache-clean", "partial-clean"),
    "no-icache-inv": ("icache", "stale-icache"),
    "store-after-clean": ("cache-store-order", "store-after-clean"),
    "device-normal": ("device-mapping", "device-normal"),
}


@pytest.mark.parametrize("bug", list(NEGATIVE))
def test_cache_negative_control_fails_exactly_its_check(
    bug: str, boot_session: BootSession, boot: Callable[..., Outcome]
) -> None:
    check, kind = NEGATIVE[bug]
    outcome = coherent_boot(boot_session, boot, mode="early-mmu", bug=bug)
    assert outcome.failed == [check], [(c.name, c.message) for c in outcome.checks if c.failed]
    message = outcome.check(check).message
    assert message.startswith(kind + ":"), message
    assert "pc=0x" in message
    seg_start, seg_end = _first_segment(outcome)
    seg0 = outcome.result.payload.images[0].segments[0].describe()
    if bug == "clean-short":
        # exactly the last line of the kernel's first segment was left dirty
        last = (seg_end + 63) // 64 * 64 - 64
        assert f"1 line(s) [{last:#x}..{last + 64:#x}) in {seg0}" in message, message
    elif bug in ("no-clean", "no-icache-inv", "store-after-clean"):
        assert f"[{seg_start:#x}.." in message and seg0 in message, message


def _modeled(session: BootSession, boot: Callable[..., Outcome], mode: str) -> Modeled:
    outcome = coherent_boot(session, boot, mode=mode)
    modeled = outcome.result.extras.get("model")
    assert isinstance(modeled, Modeled), "the target has no timing profile"
    return modeled


def test_early_mmu_models_at_least_50x_faster(boot_session: BootSession, boot: Callable[..., Outcome]) -> None:
    """Counts are deterministic, so the modeled ratio is too: assert it."""
    off = _modeled(boot_session, boot, "mmu-off")
    on = _modeled(boot_session, boot, "early-mmu")
    assert off.total_s / on.total_s >= 50, f"{off.describe()} vs {on.describe()}"
    assert off.parts["uncached data"] > 0 and on.parts["cached data"] > 0


def test_mmu_off_model_is_below_the_stock_seL4_seeds(boot_session: BootSession, boot: Callable[..., Outcome]) -> None:
    """The profile is fitted on the stock seL4 loader (bench/sel4_model.py: the seeds within
    10%); our reference mmu-off loader zeroes and copies like seL4 but with 8-byte accesses in a
    leaner loop, so at the seed sizes it must model faster than the seeds, in the same order
    (0.25-1x). Counts grow linearly with the image, so two small runs fix the line;
    bench/model.py checks the same at full size."""
    from harness.board_time import SEEDS, predict

    runs = []
    for blob in (1 << 20, 5 << 20):
        outcome = coherent_boot(boot_session, boot, mode="mmu-off", blob_bytes=blob)
        runs.append((outcome.result.payload.unpacked_bytes, outcome.result.extras["model"]))
    for nbytes, seconds in SEEDS:
        modeled = predict(runs[0], runs[1], nbytes)
        assert 0.25 <= modeled / seconds <= 1.0, f"{nbytes / 1e6:.0f} MB: modeled {modeled:.2f} s vs seed {seconds} s"

"""The boot suite: every unpack mode, checked; every negative control caught.

Nothing here names a machine: what differs between targets lives in the target
YAML and the image build, so `pytest --target=X` runs the same suite anywhere.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from harness.payload import Payload
from harness.session import BootSession, Outcome

pytestmark = pytest.mark.boot

MODES: dict[str, dict[str, Any]] = {
    "mmu-off": {"mode": "mmu-off"},
    "early-mmu": {"mode": "early-mmu"},
    "fallback": {"mode": "early-mmu", "pt_pages": 1},
}


def reference(session: BootSession, **kw: Any) -> Payload:
    return session.payload(session.variant(**kw))


@pytest.fixture(params=list(MODES))
def good(request: pytest.FixtureRequest, boot_session: BootSession, boot: Callable[..., Outcome]) -> Outcome:
    return boot(reference(boot_session, **MODES[request.param]))


@pytest.mark.reference
def test_boot_reaches_the_kernel(good: Outcome) -> None:
    assert good.result.ok, str(good.result.failure)
    assert good.failed == [], [c.message for c in good.checks if c.failed]


@pytest.mark.reference
def test_mode_line_says_the_regime(good: Outcome, request: pytest.FixtureRequest) -> None:
    mode = good.result.timeline.mode
    assert mode is not None
    variant = good.result.payload.variant
    assert variant is not None, "a reference boot's payload has its variant"
    expected = variant.label
    assert mode.words[0] == expected
    if expected == "fallback":
        assert mode.get("reason") == "no-pagetable-memory"


@pytest.mark.reference
def test_every_segment_crc_matches_pyelftools(good: Outcome) -> None:
    check = good.check("segments")
    assert check.status == "pass", check.message
    segs = good.result.timeline.of("seg")
    expected = {(i.name, s.index): s.crc32 for i in good.result.payload.images for s in i.segments}
    assert {(r.get("image"), r.int("idx")): r.int("crc32") for r in segs} == expected


@pytest.mark.reference
def test_bss_is_zero_at_kernel_entry(good: Outcome) -> None:
    check = good.check("bss")
    assert check.status == "pass", check.message


@pytest.mark.reference
def test_handoff_with_mmu_and_caches_off(good: Outcome) -> None:
    check = good.check("handoff")
    assert check.status == "pass", check.message


@pytest.mark.reference
def test_unpack_window_has_target_ticks(good: Outcome) -> None:
    check = good.check("timeline")
    assert check.status == "pass", check.message
    w = good.result.timeline.unpack_window()
    assert w is not None and w.ticks is not None and w.ticks > 0
    names = [p.name for p in good.result.timeline.phases(good.result.power_on_ns)]
    uboot = ["u-boot", "setup", "load", "bootm", "start"] if good.result.target.boot == "uboot" else []
    assert names == ["firmware", *uboot, "loader", "unpack", "verify+handoff", "kernel"]
    if uboot:  # the load phase is the load command, whose bytes U-Boot counted
        t = good.result.timeline.transfer()
        load = next(p for p in good.result.timeline.phases(good.result.power_on_ns) if p.name == "load")
        assert t is not None and t.command_s == pytest.approx(load.host_s) and t.bytes > 0
        assert t.uboot_s is not None and t.rate is not None, t


def _bss_segment(payload: Payload) -> str:
    kernel = payload.images[0]
    seg = next(s for s in kernel.segments if 0 < s.filesz < s.memsz)
    return seg.describe()


NEGATIVE: dict[str, tuple[str, str, Callable[[Payload], str]]] = {
    # bug: (mode, the one check that must fail, what its message must name)
    "corrupt-segment": ("mmu-off", "segments", lambda p: p.images[0].segments[-1].describe()),
    "skip-bss": ("mmu-off", "bss", _bss_segment),
    "handoff-mmu-on": ("early-mmu", "handoff", lambda p: "mmu, dcache, icache still on"),
}


@pytest.mark.reference
@pytest.mark.parametrize("bug", list(NEGATIVE))
def test_negative_control_fails_exactly_its_check(
    bug: str, boot_session: BootSession, boot: Callable[..., Outcome]
) -> None:
    mode, check, names = NEGATIVE[bug]
    payload = reference(boot_session, mode=mode, bug=bug)
    outcome = boot(payload)
    assert outcome.result.ok, str(outcome.result.failure)
    assert outcome.failed == [check], [(c.name, c.message) for c in outcome.checks]
    message = outcome.check(check).message
    assert names(payload) in message, message
    assert "0x" in message


# With --image, the checks that lack evidence on a plain boot skip, each saying what is
# missing and how to get it: check -> contract -> what its reason must say.
IMAGE_SKIPS: dict[str, dict[str, str]] = {
    "segments": {"mmu-off": "no '@h seg' lines", "sel4": "no '@h seg' lines"},
    "bss": {"mmu-off": "no '@h probe bss' lines", "sel4": "no '@h probe bss' lines"},
    # seL4's contract is judged from the cache model or the out-of-band stop only
    "handoff": {
        "mmu-off": "no '@h probe entry' line",
        "sel4": "no evidence -- run with --coherence (SCTLR/EL at the hand-off) or --verify",
    },
}


def test_image_boot_checks(
    user_payload: Payload | None, boot_session: BootSession, boot: Callable[..., Outcome]
) -> None:
    """With --image: the user's image (stock or patched loader) boots to its verdict; every
    check that ran passes, and a check without evidence skips saying which option gives it."""
    if user_payload is None:
        pytest.skip("no --image given")
    outcome = boot(user_payload)
    assert outcome.result.ok, str(outcome.result.failure)
    assert outcome.failed == [], [c.message for c in outcome.checks if c.failed]
    contract = user_payload.contract
    for c in outcome.checks:
        if c.status != "skip":
            continue
        why = IMAGE_SKIPS.get(c.name, {}).get(contract)
        assert why is not None, f"check '{c.name}' skipped on a plain --image boot: {c.message}"
        assert why in c.message, (c.name, c.message)
    assert outcome.check("kernel").status == "pass", outcome.check("kernel").message
    w = outcome.result.timeline.unpack_window()
    assert w is not None and w.host_s >= 0

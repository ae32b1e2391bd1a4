"""`harness mutate` on a fixed sample: each sample mutant is killed by its expected check.

A mutant is the loader with exactly one generated defect (harness/mutate/); these are
the mutation tool's own end-to-end tests, and a second set of negative controls of the
cache model's checks that nobody wrote by hand: every check is named by at least one
mutant here. The full set (both subjects, both EL targets) runs nightly
(ci/nightly-mutation.sh); this sample runs on qemu-virt only, to stay within the
budget of `make test`.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from harness.mutate.build import slug
from harness.mutate.generate import Mutant, load_subject, mutants
from harness.mutate.trial import payload_for, verdict_of
from harness.mutate.source import Subject
from harness.sel4.sources import TARBALL, upstream_dir
from harness.session import Outcome
from harness.targets import Target
from harness.testing import missing_input

pytestmark = [pytest.mark.boot, pytest.mark.sel4]

# mutant id -> (the check that must fail it, what its message must name)
SAMPLE: dict[str, tuple[str, str]] = {
    # our early-MMU series on real seL4
    "sel4:delete-maintenance:early_mmu_asm.S:17ec8d76": ("cache-clean", "dirty-at-disable"),
    "sel4:swap-dc:early_mmu_asm.S:4efb23e2": ("cache-clean", "discarded-dirty"),
    "sel4:line-size:early_mmu_asm.S:ee6b949a": ("cache-clean", "partial-clean"),
    "sel4:shorten-range:early_mmu.c:737ee057": ("cache-clean", "partial-clean"),
    "sel4:unrecord-range:common.c:ea638c77": ("cache-clean", "the DTB the loader copied"),
    "sel4:delete-maintenance:early_mmu_asm.S:ef9518dd": ("icache", "stale-icache"),
    "sel4:map-attribute:early_mmu.c:9726428a": ("device-mapping", "device-normal"),
    "sel4:store-after-clean:early_mmu_asm.S:b4579f68": ("cache-store-order", "store-after-clean"),
    "sel4:delete-sysreg-write:early_mmu_asm.S:1102694c": ("handoff", "the MMU must be off there"),
    "sel4:delete-barrier:early_mmu_asm.S:bae2cf7a": ("barriers", "maintenance-incomplete"),
    "sel4:delete-barrier:early_mmu_asm.S:0beee743": ("barriers", "no-isb"),
    "sel4:no-invalidate-before-enable:early_mmu_asm.S:7fe9e08b": ("cache-stale", "stale-clean-line"),
    "sel4:delete-maintenance:early_mmu_asm.S:8fa04042": ("barriers", "tlb-stale"),
    "sel4:shorten-range:early_mmu.c:7ee60406": ("maintenance-coverage", "the loader announced"),
    "sel4:delete-sysreg-write:early_mmu_asm.S:e1893ab0": ("unpack-cached", "the loader announced"),
    "sel4:setway-walk:early_mmu_asm.S:b858a505": ("cache-clean", "dirty-at-disable"),
    # the reference loader's early-MMU path
    "reference:delete-maintenance:cache.S:10829e32": ("cache-clean", "partial-clean"),
    "reference:delete-maintenance:cache.S:24e8acbd": ("icache", "stale-icache"),
    "reference:store-after-clean:cache.S:4bb11d5a": ("cache-store-order", "store-after-clean"),
    "reference:map-attribute:mmu.c:6481b0de": ("device-mapping", "device-normal"),
    "reference:delete-maintenance:cache.S:d70ff97b": ("cache-stale", "stale-clean-line"),
    "reference:ic-before-clean:cache.S:56919c56": ("icache", "stale-icache"),
    # the clean must complete before the I-side invalidate
    "reference:delete-barrier:cache.S:031cbcd0": ("barriers", "the I-side may refill"),
}
# No generated mutant fails `page-walk` alone: without the TTBR or TCR write the loader never
# reaches the hand-off ("killed (boot)"), and no operator makes a single walk fail.
NO_MUTANT_KILLS = {"page-walk"}


@pytest.fixture(scope="module")
def subjects() -> dict[str, Subject]:
    if not (upstream_dir() / TARBALL).is_file():
        missing_input(
            str(upstream_dir() / TARBALL),
            "the sel4 mutants are our series applied to it",
            "put the shared/ folder beside the repository",
        )
    return {"sel4": load_subject("sel4"), "reference": load_subject("reference")}


@pytest.fixture(scope="module")
def by_id(subjects: dict[str, Subject]) -> dict[str, Mutant]:
    return {m.id: m for s in subjects.values() for m in mutants(s)}


@pytest.fixture(autouse=True)
def _qemu_virt_only(harness_target: Target) -> None:
    if harness_target.name != "qemu-virt":
        pytest.skip(
            "the mutation sample runs on qemu-virt only (ci/nightly-mutation.sh runs "
            "every mutant on qemu-virt, qemu-virt-el2 and, for the reference loader, qemu-imx8mp-el3)"
        )


def _boot(payload: Any, boot: Callable[..., Outcome], name: str) -> Outcome:
    return boot(payload, name=slug(name), coherence=True, until="handoff", reuse=False)


def test_unedited_reference_copy_passes_every_check(
    subjects: dict[str, Subject], harness_target: Target, boot: Callable[..., Outcome]
) -> None:
    """The mutants' build path (a copy of images/ under build/mutate/) with no edit: no
    false alarm, so every kill below is the edit's."""
    outcome = _boot(payload_for(None, subjects["reference"], harness_target), boot, "unedited-copy")
    assert verdict_of(harness_target.name, outcome, 0).status == "survived", [
        (c.name, c.message) for c in outcome.checks if c.failed
    ] or str(outcome.result.failure)


def test_sample_spans_every_check() -> None:
    """Every cache-model check and the hand-off check is some sample mutant's killer
    (a check added to the model fails this until a mutant for it is in the sample)."""
    from harness.checks import COHERENCE_CHECKS, PROMISE_CHECKS

    every = set(COHERENCE_CHECKS) | set(PROMISE_CHECKS) | {"handoff"}
    assert {check for check, _ in SAMPLE.values()} == every - NO_MUTANT_KILLS


@pytest.mark.parametrize("ident", list(SAMPLE))
def test_sample_mutant_is_killed_by_its_check(
    ident: str,
    by_id: dict[str, Mutant],
    subjects: dict[str, Subject],
    harness_target: Target,
    boot: Callable[..., Outcome],
) -> None:
    if ident not in by_id:
        pytest.fail(
            f"mutant {ident} is no longer generated: pick another from 'harness mutate --list' for {SAMPLE[ident][0]}",
            pytrace=False,
        )
    check, says = SAMPLE[ident]
    m = by_id[ident]
    outcome = _boot(payload_for(m, subjects[m.subject], harness_target), boot, ident)
    verdict = verdict_of(harness_target.name, outcome, 0)
    assert verdict.status == "killed", f"{ident} ({m.edit.what}): {verdict.status}: {verdict.message}"
    assert check in verdict.checks, (ident, verdict.checks, verdict.message)
    message = outcome.check(check).message
    assert says in message, message

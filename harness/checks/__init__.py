"""Correctness checks over one boot's record, one idea per module.

``check`` (the `Check` every check returns), ``loader`` (segments, bss, timeline,
kernel, out-of-band; `run_checks`), ``handoff`` (the hand-off per the loader's
contract), ``early_map`` (the loader's page tables at its MMU enable against the
target's carve-outs), ``archive`` (the archive's hashes, before the boot), ``destinations`` (where the loader will
unpack against the target's carve-outs, before the boot), ``cache`` (the cache
model's hazard checks) and ``promise`` (what an early-MMU loader promises). The names
below are re-exported here, so ``from harness.checks import ...`` is the interface.
"""

from __future__ import annotations

from .archive import archive_hash_check
from .cache import CHECKS as CACHE_CHECKS
from .cache import COHERENCE_CHECKS
from .check import Check
from .destinations import destinations_check
from .early_map import check_early_map
from .handoff import check_handoff, handoff_state, sel4_entry_state, sel4_expected_el
from .loader import (
    CHECKS,
    check_bss,
    check_kernel,
    check_out_of_band,
    check_segments,
    check_timeline,
    run_checks,
)
from .promise import PROMISE_CHECKS

__all__ = [
    "CACHE_CHECKS",
    "CHECKS",
    "COHERENCE_CHECKS",
    "PROMISE_CHECKS",
    "Check",
    "archive_hash_check",
    "check_bss",
    "check_early_map",
    "check_handoff",
    "check_kernel",
    "check_out_of_band",
    "destinations_check",
    "check_segments",
    "check_timeline",
    "handoff_state",
    "run_checks",
    "sel4_entry_state",
    "sel4_expected_el",
]

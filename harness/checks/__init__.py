"""Correctness checks over one boot's record, one idea per module.

``loader`` (segments, bss, timeline, kernel, out-of-band, the hand-off), ``cache``
(the cache model's hazard checks) and ``promise`` (what an early-MMU loader
promises). The names below are re-exported here, so ``from harness.checks import
...`` is the interface.
"""
from __future__ import annotations

from .cache import CHECKS as CACHE_CHECKS
from .cache import COHERENCE_CHECKS
from .loader import (
    CHECKS,
    Check,
    check_bss,
    check_handoff,
    check_kernel,
    check_out_of_band,
    check_segments,
    check_timeline,
    run_checks,
    sel4_entry_state,
    sel4_expected_el,
)
from .promise import PROMISE_CHECKS

__all__ = [
    "CACHE_CHECKS",
    "CHECKS",
    "COHERENCE_CHECKS",
    "PROMISE_CHECKS",
    "Check",
    "check_bss",
    "check_handoff",
    "check_kernel",
    "check_out_of_band",
    "check_segments",
    "check_timeline",
    "run_checks",
    "sel4_entry_state",
    "sel4_expected_el",
]

"""Cache-coherence model for QEMU runs: build, QEMU arguments and report.

QEMU models no caches, so a boot loader that forgets a clean or an invalidate
works under emulation and fails on a board.  The TCG plugin in ``plugin/``
keeps a line-granular model of the data and instruction caches, reports the
hazards it sees and counts accesses for the timing model.  This package builds
the plugin, forms its ``-plugin`` argument and reads its JSON report, one idea
per module: ``build`` (``plugin_path()``, ``PluginBuildError``), ``args``
(``plugin_args()``, ``CONTRACTS``), ``plugin_report`` (``CoherenceReport`` and its
parts, ``ReportError``); ``window`` (each loader's counting window and hand-off),
``start`` (the caches' start state), ``run`` (one QEMU run).  The checks over
its report are in ``harness.checks``, which this package never imports.  The
names below are re-exported here, so ``from harness.coherence import ...`` is
the interface.

Plugin arguments (``-plugin file=libcachemodel.so,key=value,...``)::

    out=PATH  ram=BASE:SIZE (hex)  begin_pc=0xADDR  begin_hit=N
    end_pc=0xADDR (repeatable)  handoff_pc=0xADDR  pause=0xA:0xB
    expect_handoff=mmu-off|sel4|any  handoff_el=N
    dest=S:E (repeatable)  source=S:E  loader=S:E  stack=S:E   (hex, [S, E))
    line=64  l1=32K:4  l2=512K:16 (l2=0: none)  ranges_only=1 (0 adds
    "line_addrs" per hazard)  warm=S:E (repeatable, hex: valid clean lines at
    the start; none: a cold start, see ``start``)  iwarm=S:E (repeatable:
    valid I-cache lines at the start; ``plugin_args`` passes the warm ranges)

PluginWindow and contract.  Counting runs from the ``begin_hit``-th execution of
``begin_pc`` to the first ``end_pc`` reached (or the hand-off); hazards are
tracked on to the hand-off regardless.  The hand-off contract says what the
kernel must be given: ``mmu-off`` (our reference loader: M, C, I clear at the
physical entry), ``sel4`` (seL4's loader enters the kernel at its virtual entry
with M and C set, at ``handoff_el`` if given; lines dirty at the hand-off are
then coherent, not a hazard, because the caches stay on), ``any`` (no state).
Dirty-at-disable, partial clean and the rest are hazards under every contract.

Report (written at handoff_pc, and at exit if the handoff never came)::

    {"version": 1, "line_size": 64, "complete": bool, "handoff_seen": bool,
     "sctlr_at_handoff": "0x.."|null, "el_at_handoff": N|null, "vcpus": N,
     "ram": [start, end], "start": "cold"|"warm", "warm": [[start, end], ...],
     "iwarm": [[start, end], ...],
     "maintained": {"clean": [[start, end], ...], "invalidate": [[start, end], ...],
                    "setway_clean": bool, "setway_invalidate": bool},
     "hazards": [{"kind": K, "pc": "0x..", "count": N,
                  "ranges": [[start, end_exclusive], ...], "lines": N,
                  ("sctlr": "0x..", "el": N  -- handoff-state only)
                  ("va": "0x.."  -- walk-failed) ("detail": "..."  -- barriers)}],
     "counts": {"insns": N, "ifetch_cacheable": N, "ifetch_uncached": N,
                "loads":  {"cacheable": {"1": N, "2", "4", "8", "16"},
                           "uncached": {...}},
                "stores": {...same...},
                "cmo": {"dc_cvac": N, "dc_civac", "dc_ivac", "dc_cvap",
                        "dc_cvadp", "dc_cvau", "dc_csw", "dc_cisw", "dc_isw",
                        "dc_zva", "ic_iallu", "ic_ialluis", "ic_ivau", "tlbi"},
                "walks_failed": N,
                "by_target": {T: {"loads": {...as above}, "stores": {...},
                                  "loads_by_attr": {A: N}, "stores_by_attr": {A: N},
                                  "ranges": [[start, end_exclusive], ...]}}},
     "expect_handoff": "mmu-off"|"sel4"|"any",
     "window": {"begin_seen": bool, "begin_hit": N, "end_seen": bool,
                "end_pcs": ["0x.."], "begin_pc": "0x.."|null,
                "handoff_pc": "0x.."|null},
     "geometry": {...}, "api": {...}}

Counts cover only the window [begin, end).  Access sizes are QEMU's: an
ldp/stp of two X registers is one 16-byte access.  ``by_target`` splits the
same accesses by where they went, T in ``TARGETS``: ``source`` (the archive),
``stack`` (the loader's stack), ``loader`` (the rest of its own image),
``dest`` (the given dest ranges, or RAM outside the loader when none are
given), ``other`` (MMIO, RAM outside the dest ranges).  Fields added after
version 1 first shipped (``by_target``, ``expect_handoff``, ``begin_hit``,
``end_seen``, ``end_pcs``, ``start``, ``warm``, ``iwarm``, ``walks_failed``, ``va``,
``detail``, ``maintained``, ``*_by_attr``) are optional when reading. A in
``ATTRIBUTES``: wb, wt, nc, device, mmu-off, dcache-off, unknown. ``maintained``
is the loader's own maintenance by VA (cleaned before the window's end,
invalidated before its first enable), for the ``maintenance-coverage`` check.  Hazard kinds, their checks and the
start state: docs/cache-model.md.
"""

from __future__ import annotations

from .args import CONTRACTS, plugin_args
from .build import PluginBuildError, plugin_path
from .plugin_report import (
    HAZARD_KINDS,
    TARGETS,
    AccessCounts,
    CoherenceReport,
    Counts,
    Hazard,
    ReportError,
    TargetCounts,
)

# Module constants that lived here before the split, still reachable as
# harness.coherence.NAME (not part of the interface, hence not in __all__).
from .build import FETCH_SCRIPT, LIBRARY_NAME, PLUGIN_SOURCE_DIR, REPO_ROOT  # noqa: F401
from .plugin_report import ACCESS_SIZES  # noqa: F401

__all__ = [
    "CONTRACTS",
    "HAZARD_KINDS",
    "TARGETS",
    "AccessCounts",
    "CoherenceReport",
    "Counts",
    "Hazard",
    "PluginBuildError",
    "ReportError",
    "TargetCounts",
    "plugin_args",
    "plugin_path",
]

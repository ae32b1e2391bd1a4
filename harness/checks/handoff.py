"""The hand-off check: the kernel was handed what its loader's contract promises.

Two contracts (docs/contracts.md): our reference loader hands off with the MMU and
caches off at the physical entry, read by the probe kernel at its entry; seL4's
loader with them on at the virtual entry, at the EL its build implies, read by the
cache model and the out-of-band stop, each by the one rule of `sel4_entry_state`.
"""

from __future__ import annotations

from ..boot import BootResult
from ..coherence import CoherenceReport
from ..console_lines import Record
from .check import Check, _fail, _pass, _skip


def probe_entry(r: BootResult) -> Record | None:
    """The probe kernel's `@h probe entry` record: what it read at its entry."""
    return next((p for p in r.timeline.of("probe") if p.words[:1] == ("entry",)), None)


def handoff_state(r: BootResult) -> list[str]:
    """The model's view of SCTLR at the kernel entry, for the `handoff` check."""
    report = r.extras.get("coherence")
    if not isinstance(report, CoherenceReport):
        return []
    entry = report.handoff_pc
    return [
        f"cache model: SCTLR={h.sctlr:#x} (EL{h.el}) "
        + (
            "at the kernel entry"
            if entry is None or h.pc == entry
            else f"where the stock boot path starts (pc={h.pc:#x}, the window's end): the MMU must be "
            "off there, as the loader was entered"
        )
        for h in report.hazards_of("handoff-state")
        if h.sctlr is not None
    ]


SCTLR_M, SCTLR_C, SCTLR_I = 1 << 0, 1 << 2, 1 << 12
#: The SCTLR_ELx bits a hand-off contract speaks of: (bit name, mask, what it enables).
SCTLR_BITS = (("M", SCTLR_M, "MMU"), ("C", SCTLR_C, "D-cache"), ("I", SCTLR_I, "I-cache"))


def _sctlr_bits(sctlr: int) -> str:
    """Exactly the bits read, e.g. 'M=1 (MMU on), C=1 (D-cache on), I=0 (I-cache off)'."""
    return ", ".join(f"{b}={int(bool(sctlr & m))} ({what} {'on' if sctlr & m else 'off'})" for b, m, what in SCTLR_BITS)


def sel4_expected_el(r: BootResult) -> tuple[int, str]:
    """The EL seL4's loader enters its kernel at, and why: EL2 for hypervisor builds
    (hand-off line 'Enabling hypervisor MMU ...'), EL1 otherwise (the non-hyp loader
    drops EL2 -> EL1)."""
    line = r.timeline.first("handoff.mmu", "handoff")
    if line is not None and "Enabling" in line.text:
        hyp = "hypervisor" in line.text
        return (2 if hyp else 1), f"hand-off line '{line.text}'"
    entry = r.payload.images[0].entry
    if entry >= 1 << 63:
        return 1, f"kernel entry {entry:#x} in the upper half (EL1 kernel)"
    return 2, f"kernel entry {entry:#x} in the lower half (EL2 kernel)"


def sel4_entry_state(
    source: str, sctlr: int | None, el: int | None, want_el: int, why: str
) -> tuple[list[str], list[str]]:
    """(problems, evidence) of one source's view of the kernel entry under seL4's
    contract: SCTLR_ELx M, C and I all set, at the expected EL. The cache model and
    the gdbstub are judged by this one rule, so neither path passes on less; a
    source that could not read SCTLR or the EL fails, naming what it lacked."""
    problems: list[str] = []
    evidence: list[str] = []
    if el is None:
        problems.append(f"{source}: no EL read at the kernel entry (expected EL{want_el}, {why})")
    elif el != want_el:
        problems.append(f"{source}: kernel entered at EL{el}, expected EL{want_el} ({why})")
    reg = f"SCTLR_EL{el if el is not None else want_el}"
    if sctlr is None:
        problems.append(f"{source}: {reg} not read at the kernel entry: M, C and I unchecked")
        return problems, evidence
    off = [b for b, m, _ in SCTLR_BITS if not sctlr & m]
    if off:
        problems.append(
            f"{source}: {reg}={sctlr:#x} at the kernel entry ({_sctlr_bits(sctlr)}): "
            f"{', '.join(off)} clear; seL4's contract is M, C and I set "
            "(MMU, D-cache and I-cache on)"
        )
    elif el == want_el:
        evidence.append(f"{source}: EL{el}, {reg}={sctlr:#x} ({_sctlr_bits(sctlr)})")
    return problems, evidence


def _handoff_sel4(r: BootResult) -> Check:
    """seL4's contract: MMU and caches on, the kernel's virtual entry, the expected EL."""
    from ..qemu.verify import VerifyReport

    name = "handoff"
    kernel = r.payload.images[0]
    el, why = sel4_expected_el(r)
    problems: list[str] = []
    evidence: list[str] = []
    report = r.extras.get("coherence")
    if isinstance(report, CoherenceReport) and report.handoff_seen:
        p, e = sel4_entry_state("cache model", report.sctlr_at_handoff, report.el_at_handoff, el, why)
        problems += p
        evidence += e
    if isinstance(report, CoherenceReport) and not problems:
        # the plugin's own verdict under expect_handoff=sel4 (a wrong EL or state it flagged)
        problems += handoff_state(r)
    oob = r.extras.get("verify")
    if isinstance(oob, VerifyReport) and oob.stopped_at:
        if oob.stopped_at != kernel.entry:
            problems.append(
                f"out-of-band stop at {oob.stopped_at:#x}, not the kernel's virtual "
                f"entry {kernel.entry:#x} (physical entry: MMU off?)"
            )
        else:
            evidence.append(f"gdbstub: stopped at the virtual entry {kernel.entry:#x}")
        p, e = sel4_entry_state("gdbstub", oob.sctlr, oob.el, el, why)
        problems += p
        evidence += e
    if problems:
        return _fail(name, problems)
    if not evidence:
        return _skip(
            name,
            "seL4 contract (MMU and caches on at the kernel's virtual entry, "
            f"EL{el}): no evidence -- run with --coherence (SCTLR/EL at the hand-off) "
            "or --verify (stop at the entry)",
        )
    return _pass(name, f"seL4 contract, EL{el} expected ({why}): " + "; ".join(evidence))


def check_handoff(r: BootResult) -> Check:
    """The kernel was handed what the loader's contract promises (docs/contracts.md).

    "mmu-off" (the reference loader): MMU and caches off at the physical entry, at
    the target's `expect.el` (unless the target's `expect.handoff` is `any`).
    "sel4" (seL4's loader): MMU and caches on at the virtual entry, EL2 for
    hypervisor builds, EL1 otherwise -- judged from the cache model and the
    out-of-band stop; skipped, saying so, without either.
    """
    name = "handoff"
    if r.payload.contract == "sel4":
        return _handoff_sel4(r)
    entry = probe_entry(r)
    model_view = handoff_state(r) if r.target.expect_handoff == "mmu-off" else []
    if entry is None:
        if model_view:
            return _fail(name, model_view)
        return _skip(name, "no '@h probe entry' line: the kernel is not the reference probe")
    problems = list(model_view)
    if r.target.expect_handoff == "mmu-off":
        on = [k for k in ("mmu", "dcache", "icache") if entry.get(k) != "off"]
        if on:
            problems.append(
                f"{', '.join(on)} still on at kernel entry "
                f"(SCTLR={entry.get('sctlr')}, entry {r.payload.images[0].entry_paddr:#x}"
                f" in {r.payload.images[0].segments[0].describe()})"
            )
    el = entry.get("el")
    if r.target.expect_el is not None and el != str(r.target.expect_el):
        problems.append(f"kernel entered at EL{el}, target expects EL{r.target.expect_el}")
    mode = r.timeline.mode
    if mode is not None and mode.get("el") and mode.get("el") != el:
        problems.append(f"loader ran at EL{mode.get('el')} but the kernel entered at EL{el}")
    if problems:
        return _fail(name, problems)
    if r.target.expect_handoff != "mmu-off":
        return _pass(
            name,
            f"EL{el}, SCTLR={entry.get('sctlr')} (MMU and caches not judged: the "
            f"target's expect.handoff is '{r.target.expect_handoff}')",
        )
    return _pass(name, f"EL{el}, SCTLR={entry.get('sctlr')}: the probe read MMU, D-cache, I-cache off")

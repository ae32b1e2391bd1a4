"""Correctness checks over one boot's record.

Each check compares what the target reported against what pyelftools says the
images must be, and names image, segment and address when it fails. A check
whose evidence the loader does not print (a user's seL4 image has no `@h`
lines) is skipped with a reason naming what is missing, never passed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..boot import BootResult
from ..protocol import Record


@dataclass(frozen=True)
class Check:
    name: str
    status: str     # "pass" | "fail" | "skip"
    message: str

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def _pass(name: str, msg: str) -> Check:
    return Check(name, "pass", msg)


def _fail(name: str, problems: list[str]) -> Check:
    return Check(name, "fail", "; ".join(problems))


def _skip(name: str, why: str) -> Check:
    return Check(name, "skip", why)


def check_segments(r: BootResult) -> Check:
    """Every PT_LOAD landed with the CRC pyelftools computes (loader report + probe self-check)."""
    name = "segments"
    seg_records = r.timeline.of("seg")
    probe_segs = [p for p in r.timeline.of("probe") if p.words[:1] == ("seg",)]
    if not seg_records and not probe_segs:
        return _skip(name, "the loader printed no '@h seg' lines and no probe ran (not the "
                           "reference elfloader): use out-of-band verification for this image")
    problems = []
    checked = 0
    if seg_records:
        by_key = {(s.get("image"), s.int("idx")): s for s in seg_records}
        for img in r.payload.images:
            for seg in img.segments:
                got = by_key.get((img.name, seg.index))
                if got is None:
                    problems.append(f"{seg.describe()}: the loader reported no CRC")
                    continue
                checked += 1
                if got.int("paddr") != seg.paddr or got.int("filesz") != seg.filesz:
                    problems.append(f"{seg.describe()}: loaded at {got.get('paddr')} with "
                                    f"{got.get('filesz')} bytes, ELF says {seg.paddr:#x} with {seg.filesz}")
                elif got.int("crc32") != seg.crc32:
                    problems.append(f"{seg.describe()}: landed bytes have CRC-32 "
                                    f"{got.int('crc32'):#010x}, the ELF's are {seg.crc32:#010x}")
    for p in probe_segs:
        if "BAD" in p.words:
            paddr = p.int("paddr")
            problems.append(f"{r.payload.locate(paddr)}: the kernel's self-check at entry found "
                            f"CRC-32 {p.get('crc32')} at {paddr:#x}, expected {p.get('expected')}")
    if problems:
        return _fail(name, problems)
    return _pass(name, f"{checked} segment CRCs match the ELF; probe self-check: "
                       f"{sum('ok' in p.words for p in probe_segs)} ok")


def check_bss(r: BootResult) -> Check:
    """Memory the ELF leaves uninitialised (memsz > filesz) is zero at kernel entry."""
    name = "bss"
    bss = [p for p in r.timeline.of("probe") if p.words[:1] == ("bss",)]
    if not bss:
        return _skip(name, "no '@h probe bss' lines: the kernel is not the reference probe")
    bad = [p for p in bss if "dirty" in p.fields]
    if bad:
        return _fail(name, [f"{r.payload.locate(p.int('paddr'))}: bss not zero at kernel entry, "
                            f"first non-zero byte at {p.get('dirty')} "
                            f"(range {p.get('paddr')}+{p.get('size')})" for p in bad])
    return _pass(name, f"{len(bss)} bss ranges zero")


def _entry(r: BootResult) -> Record | None:
    return next((p for p in r.timeline.of("probe") if p.words[:1] == ("entry",)), None)


SCTLR_M, SCTLR_C, SCTLR_I = 1 << 0, 1 << 2, 1 << 12
#: The SCTLR_ELx bits a hand-off contract speaks of: (bit name, mask, what it enables).
SCTLR_BITS = (("M", SCTLR_M, "MMU"), ("C", SCTLR_C, "D-cache"), ("I", SCTLR_I, "I-cache"))


def _sctlr_bits(sctlr: int) -> str:
    """Exactly the bits read, e.g. 'M=1 (MMU on), C=1 (D-cache on), I=0 (I-cache off)'."""
    return ", ".join(f"{b}={int(bool(sctlr & m))} ({what} {'on' if sctlr & m else 'off'})"
                     for b, m, what in SCTLR_BITS)


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


def sel4_entry_state(source: str, sctlr: int | None, el: int | None,
                     want_el: int, why: str) -> tuple[list[str], list[str]]:
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
        problems.append(f"{source}: {reg}={sctlr:#x} at the kernel entry ({_sctlr_bits(sctlr)}): "
                        f"{', '.join(off)} clear; seL4's contract is M, C and I set "
                        "(MMU, D-cache and I-cache on)")
    elif el == want_el:
        evidence.append(f"{source}: EL{el}, {reg}={sctlr:#x} ({_sctlr_bits(sctlr)})")
    return problems, evidence


def _handoff_sel4(r: BootResult) -> Check:
    """seL4's contract: MMU and caches on, the kernel's virtual entry, the expected EL."""
    from ..coherence import CoherenceReport
    from ..qemu.verify import VerifyReport
    name = "handoff"
    kernel = r.payload.images[0]
    el, why = sel4_expected_el(r)
    problems: list[str] = []
    evidence: list[str] = []
    report = r.extras.get("coherence")
    if isinstance(report, CoherenceReport) and report.handoff_seen:
        p, e = sel4_entry_state("cache model", report.sctlr_at_handoff, report.el_at_handoff,
                                el, why)
        problems += p
        evidence += e
    if isinstance(report, CoherenceReport) and not problems:
        # the plugin's own verdict under expect_handoff=sel4 (a wrong EL or state it flagged)
        from .cache import handoff_state
        problems += handoff_state(r)
    oob = r.extras.get("verify")
    if isinstance(oob, VerifyReport) and oob.stopped_at:
        if oob.stopped_at != kernel.entry:
            problems.append(f"out-of-band stop at {oob.stopped_at:#x}, not the kernel's virtual "
                            f"entry {kernel.entry:#x} (physical entry: MMU off?)")
        else:
            evidence.append(f"gdbstub: stopped at the virtual entry {kernel.entry:#x}")
        p, e = sel4_entry_state("gdbstub", oob.sctlr, oob.el, el, why)
        problems += p
        evidence += e
    if problems:
        return _fail(name, problems)
    if not evidence:
        return _skip(name, "seL4 contract (MMU and caches on at the kernel's virtual entry, "
                           f"EL{el}): no evidence -- run with --coherence (SCTLR/EL at the hand-off) "
                           "or --verify (stop at the entry)")
    return _pass(name, f"seL4 contract, EL{el} expected ({why}): " + "; ".join(evidence))


def check_handoff(r: BootResult) -> Check:
    """The kernel was handed what the loader's contract promises (docs/contracts.md).

    "mmu-off" (the reference loader): MMU and caches off at the physical entry, at
    the target's `expect.el` (unless the target's `expect.handoff` is `any`).
    "sel4" (seL4's loader): MMU and caches on at the virtual entry, EL2 for
    hypervisor builds, EL1 otherwise -- judged from the cache model and the
    out-of-band stop; skipped, saying so, without either.
    """
    from .cache import handoff_state
    name = "handoff"
    if r.payload.contract == "sel4":
        return _handoff_sel4(r)
    entry = _entry(r)
    model_view = handoff_state(r) if r.target.expect_handoff == "mmu-off" else []
    if entry is None:
        if model_view:
            return _fail(name, model_view)
        return _skip(name, "no '@h probe entry' line: the kernel is not the reference probe")
    problems = list(model_view)
    if r.target.expect_handoff == "mmu-off":
        on = [k for k in ("mmu", "dcache", "icache") if entry.get(k) != "off"]
        if on:
            problems.append(f"{', '.join(on)} still on at kernel entry "
                            f"(SCTLR={entry.get('sctlr')}, entry {r.payload.images[0].entry_paddr:#x}"
                            f" in {r.payload.images[0].segments[0].describe()})")
    el = entry.get("el")
    if r.target.expect_el is not None and el != str(r.target.expect_el):
        problems.append(f"kernel entered at EL{el}, target expects EL{r.target.expect_el}")
    mode = r.timeline.mode
    if mode is not None and mode.get("el") and mode.get("el") != el:
        problems.append(f"loader ran at EL{mode.get('el')} but the kernel entered at EL{el}")
    if problems:
        return _fail(name, problems)
    if r.target.expect_handoff != "mmu-off":
        return _pass(name, f"EL{el}, SCTLR={entry.get('sctlr')} (MMU and caches not judged: the "
                           f"target's expect.handoff is '{r.target.expect_handoff}')")
    return _pass(name, f"EL{el}, SCTLR={entry.get('sctlr')}: the probe read MMU, D-cache, "
                       "I-cache off")


def check_timeline(r: BootResult) -> Check:
    """The unpack window is in the timeline; with target ticks when the loader marks it."""
    name = "timeline"
    w = r.timeline.unpack_window()
    if w is None:
        return _fail(name, ["no unpack window: neither '@h mark unpack.begin/end' nor "
                            "'ELF-loading image' ... hand-off lines were seen"])
    if w.ticks is None:
        if r.payload.reference:
            return _fail(name, ["the reference loader printed no unpack.begin/unpack.end marks"])
        seed = r.timeline.seed_window()
        seed_text = f"; seed window (user image to hand-off) {seed.host_s * 1e3:.1f} ms" if seed else ""
        return _pass(name, f"unpack window {w.host_s * 1e3:.1f} ms (host stamps; the loader "
                           f"prints no target-timer marks): from '{w.begin}' to '{w.end}'{seed_text}")
    if w.ticks < 0 or not w.freq:
        return _fail(name, [f"bad target ticks: {w.ticks} at {w.freq} Hz"])
    marks = {m.image for m in r.timeline.marks if m.name == "unpack.begin"}
    missing = [i.name for i in r.payload.images if i.name not in marks]
    if missing:
        return _fail(name, [f"no unpack.begin mark for image(s) {', '.join(missing)}"])
    return _pass(name, f"unpack window {w.target_s:.6f} s target ({w.ticks} ticks at {w.freq} Hz), "
                       f"{w.host_s:.6f} s host")


def check_kernel(r: BootResult) -> Check:
    """The kernel ran and its verdict decided: the probe's (consistent with its lines)
    or, for a user's kernel, the workload's line / declared silence."""
    from ..boot import KernelVerdict
    name = "kernel"
    verdict = r.timeline.verdict
    if verdict is None and r.extras.get("until") == "handoff":
        return _skip(name, "the boot was stopped at the hand-off on request (until=handoff): "
                           "the kernel's verdict was not awaited")
    if verdict is None:
        if r.payload.reference:
            return _fail(name, ["the probe kernel printed no verdict"])
        decided = r.extras.get("verdict")
        if not isinstance(decided, KernelVerdict):
            return _fail(name, ["no verdict: neither a success/failure line nor declared silence "
                                "decided this boot"])
        if decided.status == "fail":
            return _fail(name, [decided.describe()])
        return _pass(name, decided.describe())
    probe = r.timeline.of("probe")
    seen = {"crc": sum("BAD" in p.words for p in probe if p.words[:1] == ("seg",)),
            "bss": sum("dirty" in p.fields for p in probe if p.words[:1] == ("bss",))}
    entry = _entry(r)
    seen["handoff"] = int(entry is not None and any(entry.get(k) != "off"
                                                    for k in ("mmu", "dcache", "icache")))
    if "table" in verdict.fields:
        return _fail(name, ["the probe found no expected-segment table (unpatched probe?)"])
    said = {k: int(verdict.fields.get(k, "0")) for k in seen}
    ok_word = "ok" in verdict.words
    if said != seen or ok_word != (sum(seen.values()) == 0):
        return _fail(name, [f"probe verdict '{' '.join(verdict.words)} {dict(verdict.fields)}' "
                            f"disagrees with its own lines {seen}"])
    return _pass(name, f"probe verdict: {'ok' if ok_word else 'fail'} (consistent with its lines)")


def check_out_of_band(r: BootResult) -> Check:
    """Memory at the kernel entry equals the ELF images (dumped by QMP, no loader help)."""
    from ..qemu.verify import VerifyReport
    name = "out-of-band"
    report = r.extras.get("verify")
    if not isinstance(report, VerifyReport):
        return _skip(name, "no out-of-band dump (boot without verify)")
    if report.mismatches or report.misplaced:
        return _fail(name, [m.describe() for m in report.mismatches] + list(report.misplaced))
    return _pass(name, f"{report.checked_bytes} bytes at the kernel entry ({report.stopped_at:#x}) "
                       "equal the ELF images")


CHECKS: dict[str, Callable[[BootResult], Check]] = {
    "segments": check_segments, "bss": check_bss, "handoff": check_handoff,
    "timeline": check_timeline, "kernel": check_kernel,
}


def run_checks(r: BootResult) -> list[Check]:
    """The generic checks, plus the cache-coherence ones when the boot ran under the model."""
    from .cache import CHECKS as COHERENCE
    out = [_guarded(name, fn, r) for name, fn in CHECKS.items()]
    if "verify" in r.extras:
        out.append(check_out_of_band(r))
    if "coherence" in r.extras:
        out += [_guarded(name, fn, r) for name, fn in COHERENCE.items()]
    return out


def _guarded(name: str, fn: Callable[[BootResult], Check], r: BootResult) -> Check:
    """A check over the loader's own records: a garbled record (a number that is not
    one, a field missing) fails that check with what was garbled, never a traceback."""
    try:
        return fn(r)
    except (ValueError, KeyError, OverflowError) as exc:
        return _fail(name, [f"the loader's '@h' records are garbled ({type(exc).__name__}: {exc})"])

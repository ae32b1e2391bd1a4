"""Correctness checks over one boot's record.

Each check compares what the target reported against what pyelftools says the
images must be, and names image, segment and address when it fails. A check
whose evidence the loader does not print (a user's seL4 image has no `@h`
lines) is skipped with a reason naming what is missing, never passed.
"""

from __future__ import annotations

from typing import Callable

from ..boot import BootResult
from .check import Check, _fail, _pass, _skip
from .handoff import check_handoff, probe_entry


def check_segments(r: BootResult) -> Check:
    """Every PT_LOAD landed with the CRC pyelftools computes (loader report + probe self-check)."""
    name = "segments"
    seg_records = r.timeline.of("seg")
    probe_segs = [p for p in r.timeline.of("probe") if p.words[:1] == ("seg",)]
    if not seg_records and not probe_segs:
        return _skip(
            name,
            "the loader printed no '@h seg' lines and no probe ran (not the "
            "reference elfloader): use out-of-band verification for this image",
        )
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
                    problems.append(
                        f"{seg.describe()}: loaded at {got.get('paddr')} with "
                        f"{got.get('filesz')} bytes, ELF says {seg.paddr:#x} with {seg.filesz}"
                    )
                elif got.int("crc32") != seg.crc32:
                    problems.append(
                        f"{seg.describe()}: landed bytes have CRC-32 "
                        f"{got.int('crc32'):#010x}, the ELF's are {seg.crc32:#010x}"
                    )
    for p in probe_segs:
        if "BAD" in p.words:
            paddr = p.int("paddr")
            problems.append(
                f"{r.payload.locate(paddr)}: the kernel's self-check at entry found "
                f"CRC-32 {p.get('crc32')} at {paddr:#x}, expected {p.get('expected')}"
            )
    if problems:
        return _fail(name, problems)
    return _pass(
        name, f"{checked} segment CRCs match the ELF; probe self-check: {sum('ok' in p.words for p in probe_segs)} ok"
    )


def check_bss(r: BootResult) -> Check:
    """Memory the ELF leaves uninitialised (memsz > filesz) is zero at kernel entry."""
    name = "bss"
    bss = [p for p in r.timeline.of("probe") if p.words[:1] == ("bss",)]
    if not bss:
        return _skip(name, "no '@h probe bss' lines: the kernel is not the reference probe")
    bad = [p for p in bss if "dirty" in p.fields]
    if bad:
        return _fail(
            name,
            [
                f"{r.payload.locate(p.int('paddr'))}: bss not zero at kernel entry, "
                f"first non-zero byte at {p.get('dirty')} "
                f"(range {p.get('paddr')}+{p.get('size')})"
                for p in bad
            ],
        )
    return _pass(name, f"{len(bss)} bss ranges zero")


def check_timeline(r: BootResult) -> Check:
    """The unpack window is in the timeline; with target ticks when the loader prints them
    (`@h mark`s, the early-MMU loader's `Early MMU:` lines), host stamps otherwise."""
    name = "timeline"
    w = r.timeline.unpack_window()
    if w is None:
        return _fail(
            name,
            [
                "no unpack window: neither '@h mark unpack.begin/end' nor "
                "'ELF-loading image' ... hand-off lines were seen"
            ],
        )
    if w.error:
        return _fail(name, [f"target timer: {w.error} (lines '{w.begin}' .. '{w.end}')"])
    if w.ticks is None:
        if r.payload.reference:
            return _fail(name, ["the reference loader printed no unpack.begin/unpack.end marks"])
        seed = r.timeline.seed_window()
        seed_text = f"; seed window (user image to hand-off) {seed.host_s * 1e3:.1f} ms" if seed else ""
        why = (
            f"the loader's timer could not be used: {w.fallback}" if w.fallback else "the loader prints no target timer"
        )
        return _pass(
            name, f"unpack window {w.host_s * 1e3:.1f} ms by {w.clock}; {why}: from '{w.begin}' to '{w.end}'{seed_text}"
        )
    if w.ticks < 0 or not w.freq:
        return _fail(name, [f"bad target ticks: {w.ticks} at {w.freq} Hz"])
    if w.then == "verify+handoff":  # the reference loader marks every image
        marks = {m.image for m in r.timeline.marks if m.name == "unpack.begin"}
        missing = [i.name for i in r.payload.images if i.name not in marks]
        if missing:
            return _fail(name, [f"no unpack.begin mark for image(s) {', '.join(missing)}"])
    return _pass(
        name,
        f"unpack window {w.target_s:.6f} s by the target timer ({w.ticks} ticks at "
        f"{w.freq} Hz), {w.host_s:.6f} s host: from '{w.begin}' to '{w.end}'",
    )


def check_kernel(r: BootResult) -> Check:
    """The kernel ran and its verdict decided: the probe's (consistent with its lines)
    or, for a user's kernel, the workload's line / declared silence."""
    from ..boot import KernelVerdict

    name = "kernel"
    verdict = r.timeline.verdict
    if verdict is None and r.extras.get("until") == "handoff":
        return _skip(
            name,
            "the boot was stopped at the hand-off on request (until=handoff): the kernel's verdict was not awaited",
        )
    if verdict is None:
        if r.payload.reference:
            return _fail(name, ["the probe kernel printed no verdict"])
        decided = r.extras.get("verdict")
        if not isinstance(decided, KernelVerdict):
            return _fail(name, ["no verdict: neither a success/failure line nor declared silence decided this boot"])
        if decided.status == "fail":
            return _fail(name, [decided.describe()])
        return _pass(name, decided.describe())
    probe = r.timeline.of("probe")
    seen = {
        "crc": sum("BAD" in p.words for p in probe if p.words[:1] == ("seg",)),
        "bss": sum("dirty" in p.fields for p in probe if p.words[:1] == ("bss",)),
    }
    entry = probe_entry(r)
    seen["handoff"] = int(entry is not None and any(entry.get(k) != "off" for k in ("mmu", "dcache", "icache")))
    if "table" in verdict.fields:
        return _fail(name, ["the probe found no expected-segment table (unpatched probe?)"])
    said = {k: int(verdict.fields.get(k, "0")) for k in seen}
    ok_word = "ok" in verdict.words
    if said != seen or ok_word != (sum(seen.values()) == 0):
        return _fail(
            name,
            [f"probe verdict '{' '.join(verdict.words)} {dict(verdict.fields)}' disagrees with its own lines {seen}"],
        )
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
    return _pass(
        name, f"{report.checked_bytes} bytes at the kernel entry ({report.stopped_at:#x}) equal the ELF images"
    )


CHECKS: dict[str, Callable[[BootResult], Check]] = {
    "segments": check_segments,
    "bss": check_bss,
    "handoff": check_handoff,
    "timeline": check_timeline,
    "kernel": check_kernel,
}


def run_checks(r: BootResult) -> list[Check]:
    """The generic checks, plus the cache-coherence ones when the boot ran under the model."""
    from .cache import CHECKS as COHERENCE

    out = [_guarded(name, fn, r) for name, fn in CHECKS.items()]
    if "verify" in r.extras:
        out.append(check_out_of_band(r))
    if "early_map" in r.extras:
        from .early_map import NAME, check_early_map

        out.append(_guarded(NAME, check_early_map, r))
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

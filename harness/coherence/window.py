"""Where the cache model's counting window and hand-off are, per loader.

The two loaders differ in both. Ours marks its window with symbols and hands
off with the MMU off at the kernel's physical entry. seL4's loader has no
markers; the seed measures its unpack from the user image's ``ELF-loading
image`` line to ``Enabling (hypervisor) MMU and paging``, so the window is
found from its own (unstripped) symbols: ``load_elf`` (one call per image,
the kernel's first; ``memset`` when an optimised build inlined it) to
``arm_enable_mmu``/``arm_enable_hyp_mmu``. The early-MMU patch's window opens
at ``early_mmu_begin``: its table build is part of what it costs. seL4 then
enters the kernel at its virtual entry with MMU and caches on: that is its
contract, not a hazard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..payload import Payload

__all__ = ["PluginWindow", "window_for", "loader_writable", "SCOPES"]

#: seL4 windows: "seed" starts at the first user image (the seed's
#: measurement), "unpack" at load_images (adds the kernel's unpack).
SCOPES: tuple[str, ...] = ("seed", "unpack")

SEL4_END_SYMBOLS: tuple[str, ...] = ("arm_enable_mmu", "arm_enable_hyp_mmu")
HIGH_HALF = 1 << 63


@dataclass(frozen=True)
class PluginWindow:
    """What the plugin is told: window, hand-off, contract, target ranges."""

    begin_pc: int | None
    handoff_pc: int
    contract: str
    definition: str  # in words, for reports
    begin_hit: int = 1
    end_pcs: tuple[int, ...] = ()
    handoff_el: int | None = None
    pause: tuple[int, int] | None = None
    targets: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


def _span(syms: dict[str, int], lo: str, hi: str) -> list[tuple[int, int]]:
    return [(syms[lo], syms[hi])] if lo in syms and hi in syms and syms[lo] < syms[hi] else []


def _targets(payload: Payload) -> dict[str, list[tuple[int, int]]]:
    """Archive, stack and the loader's own image; dest is the rest of RAM.

    The user images' destinations are chosen by seL4's loader at run time, so
    they are not passed: "RAM outside the loader" is the destination.
    """
    syms = payload.loader.symbols
    return {
        "source": _span(syms, "_archive_start", "_archive_start_end"),
        "stack": _span(syms, "core_stack_alloc", "core_stack_alloc_end")
        or _span(syms, "__stack_bottom", "__stack_top"),
        "loader": [payload.loader.span],
    }


#: The loader's own writable range (data, bss, stack, page tables) by the symbols
#: each loader's maintenance uses: ours, then seL4's with the early-MMU patch.
WRITABLE_SYMBOLS: tuple[tuple[str, str], ...] = (("_writable_start", "_writable_end"), ("_archive_end", "_end"))


def loader_writable(payload: Payload) -> tuple[str, tuple[int, int]] | None:
    """("START..END", [start, end)) of the loader's writable range, or None."""
    syms = payload.loader.symbols
    for lo, hi in WRITABLE_SYMBOLS:
        span = _span(syms, lo, hi)
        if span:
            return f"{lo}..{hi}", span[0]
    return None


def _reference(payload: Payload, contract: str) -> PluginWindow:
    syms = payload.loader.symbols
    pause = (
        (syms["self_report_begin"], syms["self_report_end"])
        if {"self_report_begin", "self_report_end"} <= syms.keys()
        else None
    )
    return PluginWindow(
        syms.get("unpack_window_begin"),
        payload.images[0].entry_paddr,
        contract,
        "unpack_window_begin -> kernel entry, less the CRC self-report",
        pause=pause,
        targets=_targets(payload),
    )


def _sel4(payload: Payload, contract: str, scope: str) -> PluginWindow:
    syms = payload.loader.symbols
    kernel = payload.images[0]
    end_pcs = tuple(syms[s] for s in SEL4_END_SYMBOLS if s in syms)
    begin: int | None
    if "early_mmu_begin" in syms:
        # The patch's own cost starts before any image: the page tables, the cache and TLB
        # invalidate, the MMU on. The stock window has nothing to leave out, so the patched
        # one opens there (in both scopes) and the ratio compares like with like; it then
        # also counts the kernel's cached unpack (milliseconds modeled), against the patch.
        begin, hit = syms["early_mmu_begin"], 1
        words = "early_mmu_begin (page tables, invalidate, MMU on; the kernel's unpack included)"
    elif scope == "seed" and len(payload.images) > 1 and "load_elf" in syms:
        begin, hit, words = syms["load_elf"], 2, "first user image's 'ELF-loading image'"
    elif scope == "seed" and len(payload.images) > 1 and "memset" in syms:
        # optimised builds inline load_elf; unpack_elf_to_paddr's memset of the
        # destination is then the first call per image (kernel first); checked
        # on a RELEASE=FALSE build: 0.1 % fewer instructions than load_elf #2
        begin, hit, words = syms["memset"], 2, "first user image's memset (load_elf inlined)"
    else:
        begin, hit, words = syms.get("load_images"), 1, "load_images (kernel included)"
    ends = "/".join(s for s in SEL4_END_SYMBOLS if s in syms) or "the kernel entry"
    return PluginWindow(
        begin,
        kernel.entry,
        contract,
        f"{words} -> {ends}",
        begin_hit=hit,
        end_pcs=end_pcs,
        handoff_el=1 if kernel.entry >= HIGH_HALF else 2,
        targets=_targets(payload),
    )


def window_for(payload: Payload, contract: str | None = None, scope: str = "seed") -> PluginWindow:
    """The plugin's window for this payload under its hand-off contract.

    ``contract`` defaults to the payload's own: "mmu-off" for our reference
    loader, "sel4" for seL4 images. ``scope`` picks the seL4 window (SCOPES).
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    contract = contract or ("mmu-off" if payload.reference else "sel4")
    if payload.reference:
        return _reference(payload, contract)
    return _sel4(payload, contract, scope)

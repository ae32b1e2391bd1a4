"""The ``-plugin`` argument that loads the cache model into QEMU.

The plugin takes its whole configuration as ``key=value`` options on one QEMU
command-line word (listed in the package docstring).  Forming that word is
kept apart from building the plugin and reading its report: it validates the
window, contract and target ranges before QEMU starts, and leaves the options
a real loader needs off the reference loader's command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["CONTRACTS", "plugin_args"]

#: Hand-off contracts the plugin checks (see the package docstring).
CONTRACTS: tuple[str, ...] = ("mmu-off", "sel4", "any")


def _qemu_opt_escape(value: str) -> str:
    """QEMU option values double their commas."""
    return value.replace(",", ",,")


def plugin_args(
    plugin: Path,
    out: Path,
    ram: tuple[int, int],
    begin_pc: int | None,
    handoff_pc: int | None,
    *,
    expect_handoff: str = "mmu-off",
    line: int | None = None,
    l1: str | None = None,
    l2: str | None = None,
    pause: tuple[int, int] | None = None,
    begin_hit: int = 1,
    end_pcs: Sequence[int] = (),
    handoff_el: int | None = None,
    targets: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    warm: Sequence[tuple[int, int]] = (),
    iwarm: Sequence[tuple[int, int]] | None = None,
) -> list[str]:
    """The QEMU arguments that load the plugin (``["-plugin", "file=...,k=v"]``).

    ``ram`` is (base, size) of DRAM; everything else is not tracked.
    ``begin_pc``/``handoff_pc`` bound the counting window; at ``handoff_pc``
    the handoff checks run and the report is written, because the harness may
    kill QEMU once the guest idles.  ``l1``/``l2`` are set/way geometries such
    as ``"32K:4"`` (``"0"`` for no L2). ``pause`` is (pause_pc, resume_pc): a
    stretch inside the window left out of the counts (the loader's self-check).
    ``begin_hit``: the window opens at the Nth execution of ``begin_pc``;
    ``end_pcs``: the first of them reached closes it before the hand-off.
    ``expect_handoff`` is a contract in CONTRACTS; ``handoff_el`` the EL the
    sel4 contract wants. ``targets`` maps "dest"/"source"/"loader"/"stack" to
    physical [start, end) ranges for the per-target split of the counts.
    ``warm``: physical [start, end) ranges where the caches start with valid
    clean lines (firmware left them, as the arm64 boot protocol allows: it
    only asks that the image be cleaned to PoC); none is a cold start. ``iwarm``: where
    the I-cache starts with valid lines (the protocol allows it on at entry); default
    the same ranges as ``warm``.
    """
    base, size = ram
    if size <= 0 or base < 0:
        raise ValueError(f"bad RAM range {ram!r}")
    if expect_handoff not in CONTRACTS:
        raise ValueError(f"expect_handoff must be one of {', '.join(CONTRACTS)}, not {expect_handoff!r}")
    if begin_hit < 1:
        raise ValueError(f"begin_hit must be >= 1, not {begin_hit}")
    opts = [
        f"file={_qemu_opt_escape(str(Path(plugin).resolve()))}",
        f"out={_qemu_opt_escape(str(Path(out).resolve()))}",
        f"ram={base:#x}:{size:#x}",
        f"expect_handoff={expect_handoff}",
    ]
    if begin_pc is not None:
        opts.append(f"begin_pc={begin_pc:#x}")
    if handoff_pc is not None:
        opts.append(f"handoff_pc={handoff_pc:#x}")
    if pause is not None:
        opts.append(f"pause={pause[0]:#x}:{pause[1]:#x}")
    if line is not None:
        opts.append(f"line={line}")
    if l1 is not None:
        opts.append(f"l1={l1}")
    if l2 is not None:
        opts.append(f"l2={l2}")
    opts += _window_opts(begin_hit, end_pcs, handoff_el, targets or {})
    opts += _warm_opts(warm, "warm")
    opts += _warm_opts(warm if iwarm is None else iwarm, "iwarm")
    return ["-plugin", ",".join(opts)]


MAX_WARM_RANGES = 16


def _warm_opts(warm: Sequence[tuple[int, int]], key: str) -> list[str]:
    """``warm=S:E`` (or ``iwarm=``) per non-empty range (the plugin keeps at most 16)."""
    spans = [(s, e) for s, e in warm if s < e]
    if len(spans) > MAX_WARM_RANGES:
        raise ValueError(f"at most {MAX_WARM_RANGES} {key} ranges, not {len(spans)}")
    return [f"{key}={s:#x}:{e:#x}" for s, e in spans]


def _window_opts(
    begin_hit: int, end_pcs: Sequence[int], handoff_el: int | None, targets: Mapping[str, Sequence[tuple[int, int]]]
) -> list[str]:
    """The options added for real loaders; none of them when unused, so the
    reference loader's command line stays as it was."""
    opts = [f"begin_hit={begin_hit}"] if begin_hit != 1 else []
    if len(end_pcs) > 4:
        raise ValueError("at most 4 end PCs")
    opts += [f"end_pc={pc:#x}" for pc in end_pcs]
    if handoff_el is not None:
        opts.append(f"handoff_el={handoff_el}")
    for kind, spans in targets.items():
        if kind not in ("dest", "source", "loader", "stack"):
            raise ValueError(f"unknown target class {kind!r}")
        if len(spans) > 16:
            raise ValueError(f"too many {kind} ranges")
        opts += [f"{kind}={s:#x}:{e:#x}" for s, e in spans if s < e]
    return opts

"""bench/sel4_runs.py never prints stale figures: its cached counts are keyed by everything
that changes them (host-only: QEMU is replaced by a stand-in that reports what it was run with).

Before, the key was the image's name, its build key and its size: a rebuilt plugin, a moved
window, another QEMU or an image with the same size but other bytes got the old counts.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from harness.coherence import CoherenceReport
from harness.coherence.window import PluginWindow
from harness.sel4.config import Sel4Config

pytestmark = pytest.mark.host

BENCH = Path(__file__).resolve().parents[1] / "bench"
SIZES = {"1": 0, "2": 0, "4": 0, "8": 0, "16": 0}


def _report(insns: int) -> dict[str, Any]:
    acc = {"cacheable": dict(SIZES), "uncached": dict(SIZES)}
    return {
        "version": 1,
        "line_size": 64,
        "complete": True,
        "handoff_seen": True,
        "sctlr_at_handoff": None,
        "el_at_handoff": None,
        "hazards": [],
        "counts": {
            "insns": insns,
            "ifetch_cacheable": 0,
            "ifetch_uncached": insns,
            "loads": acc,
            "stores": acc,
            "cmo": {},
        },
        "window": {"begin_seen": True},
    }


class Bench(SimpleNamespace):
    """sel4_runs with QEMU, the payload reader and the plugin replaced; `counts` is what the
    stand-in QEMU reports next, `runs` how often it was started."""


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Bench:
    monkeypatch.syspath_prepend(str(BENCH))
    import sel4_runs

    b = Bench(
        mod=sel4_runs,
        counts=100,
        runs=0,
        tmp=tmp_path,
        version="QEMU emulator version 10.0.2",
        window=PluginWindow(0x50001000, 0x40000000, "sel4", "memset #2 -> arm_enable_hyp_mmu", begin_hit=2),
    )
    for name in ("image.elf", "libcachemodel.so", "cachemodel.c", "run.py"):
        (tmp_path / name).write_bytes(name.encode() * 64)
    (tmp_path / "build.json").write_text(json.dumps({"key": "0123456789abcdef0123"}))

    def qemu(image: Path, out: Path, *, el2: bool, scope: str = "seed") -> tuple[CoherenceReport, PluginWindow, float]:
        b.runs += 1
        out.write_text(json.dumps(_report(b.counts)))
        return CoherenceReport.load(out), b.window, 1.0

    patches: dict[str, Any] = {
        "CACHE": tmp_path / "cache",
        "run_to_handoff": qemu,
        "from_user": lambda image: SimpleNamespace(unpacked_bytes=4096),
        "window_for": lambda payload, scope="seed": b.window,
        "plugin_path": lambda directory: tmp_path / "libcachemodel.so",
        "PLUGIN_SOURCES": (tmp_path / "cachemodel.c",),
        "KEY_SOURCES": (tmp_path / "run.py",),
        "qemu_version": lambda: b.version,
    }
    for name, value in patches.items():  # raising=False: the old module lacks some names
        monkeypatch.setattr(sel4_runs, name, value, raising=False)
    b.build = SimpleNamespace(
        config=Sel4Config(hyp=True, release=True),
        directory=tmp_path,
        image=tmp_path / "image.elf",
        elfloader=tmp_path / "image.elf",
    )
    return b


def _append(path: Path) -> Callable[[Bench], None]:
    def change(_: Bench) -> None:
        tail = b"\nchanged = True\n" if path.suffix == ".py" else b"\n/* changed */\n"  # code, not a comment
        path.write_bytes(path.read_bytes() + tail)

    return change


CHANGES: dict[str, Callable[[Bench], None]] = {
    "plugin source": lambda b: _append(b.tmp / "cachemodel.c")(b),
    "plugin library": lambda b: _append(b.tmp / "libcachemodel.so")(b),
    "harness run code": lambda b: _append(b.tmp / "run.py")(b),
    "window": lambda b: setattr(b, "window", replace(b.window, begin_pc=0x50002000, begin_hit=1)),
    "qemu version": lambda b: setattr(b, "version", "QEMU emulator version 10.1.0"),
    # same name, same size, other bytes: an image rebuilt with another alignment, say
    "image bytes": lambda b: (b.tmp / "image.elf").write_bytes(b"X" * (b.tmp / "image.elf").stat().st_size),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_that_moves_counts_is_never_served_from_the_cache(bench: Bench, change: str) -> None:
    first = bench.mod.run(bench.build)
    again = bench.mod.run(bench.build)
    assert (first.counts.insns, again.counts.insns, bench.runs) == (100, 100, 1), "the cache must work"
    bench.counts = 200  # what the changed plugin/window/QEMU/image really counts
    CHANGES[change](bench)
    after = bench.mod.run(bench.build)
    assert (after.counts.insns, bench.runs) == (200, 2), f"stale counts served after a {change} change"


def test_options_are_part_of_the_key(bench: Bench) -> None:
    el2 = bench.mod.counts_key(bench.build.image, el2=True)
    el1 = bench.mod.counts_key(bench.build.image, el2=False)
    assert el2 != el1 and el2["command"] != el1["command"]
    assert "-icount" in el2["command"], "the instruction clock is part of what QEMU runs"

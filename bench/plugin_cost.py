"""Cost of the cache-model plugin: a 64 MiB ldp/stp copy with and without it.

The guest warms up with one copy (first touch of guest RAM is slow on the host)
and times the next passes itself with the generic timer. Prints a table.
Run: .venv/bin/python bench/plugin_cost.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.coherence import plugin_path
from harness.images.build import build_root
from test_coherence_plugin import _pass_seconds, build_case, run_guest


def main() -> int:
    plugin = plugin_path(build_root() / "coherence")
    print(f"{'regime':15} {'no plugin s':>12} {'plugin s':>10} {'slowdown':>9}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for cached in (False, True):
            elf = build_case("bench_copy", tmp, ("PASSES=2",) + (("CACHED",) if cached else ()), "_c" if cached else "")
            _, base_out, _ = run_guest(None, elf, tmp / "none.json", timeout=120)
            _, plug_out, _ = run_guest(plugin, elf, tmp / "plug.json", timeout=120)
            base, plug = min(_pass_seconds(base_out)), min(_pass_seconds(plug_out))
            print(f"{'MMU+caches on' if cached else 'MMU off':15} {base:12.3f} {plug:10.3f} {plug / base:8.2f}x")
    print("(goal: <= 3x; 64 MiB ldp/stp copy timed by the guest's generic timer, best of 2 passes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

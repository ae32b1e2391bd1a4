"""Benchmarks: unpack windows, per-boot overhead and suite wall time. Prints tables.

Not a test: figures depend on the machine. Run with `make bench` (or
`.venv/bin/python bench/run.py --help`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.images.build import Variant
from harness.session import BootSession
from harness.targets import load


def boot_figures(target_name: str, sizes_mib: list[int], modes: list[str]) -> list[dict[str, object]]:
    target = load(target_name)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        session = BootSession(target, Path(tmp))
        try:
            for mib in sizes_mib:
                for mode in modes:
                    variant = Variant(target.machine, mode, blob_bytes=mib << 20)
                    t_build = time.monotonic()
                    payload = session.payload(variant)
                    built = time.monotonic() - t_build
                    t0 = time.monotonic()
                    outcome = session.boot(payload, reuse=False)
                    wall = time.monotonic() - t0
                    r = outcome.result
                    if r.failure:
                        raise SystemExit(f"boot failed: {r.failure}")
                    w = r.timeline.unpack_window()
                    end = r.timeline.kernel_end()
                    guest = ((end.t_ns if end else r.lines[-1].t_ns) - r.power_on_ns) / 1e9
                    rows.append(
                        {
                            "target": target_name,
                            "mode": mode,
                            "blob": f"{mib} MiB",
                            "unpack target s": w.target_s if w else None,
                            "unpack host s": w.host_s if w else None,
                            "MB/s (target)": (payload.unpacked_bytes / 1e6 / w.target_s) if w and w.target_s else None,
                            "boot wall s": wall,
                            "guest s": guest,
                            "overhead s": wall - guest,
                            "build s": built,
                        }
                    )
        finally:
            session.close()
    return rows


def suite_wall(target: str) -> float:
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "boot", f"--target={target}", "-p", "no:cacheprovider", "tests"],
        check=False,
        capture_output=True,
    )
    return time.monotonic() - t0


def table(rows: list[dict[str, object]]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])

    def cell(v: object) -> str:
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    cells = [[cell(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]

    def line(vals: list[str]) -> str:
        return "  ".join(v.rjust(w) for v, w in zip(vals, widths))

    return "\n".join([line(cols), line(["-" * w for w in widths])] + [line(r) for r in cells])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--target", default="qemu-virt")
    p.add_argument("--sizes", default="16,256", help="probe blob sizes in MiB")
    p.add_argument("--modes", default="mmu-off,early-mmu")
    p.add_argument("--suite", action="store_true", help="also time the boot suite on the target")
    a = p.parse_args()
    rows = boot_figures(a.target, [int(s) for s in a.sizes.split(",")], a.modes.split(","))
    print(
        f"Unpack window and per-boot overhead on {a.target} (QEMU TCG: no caches, so MMU-on "
        "and MMU-off copy at the same speed; see the modeled board time for the real effect)"
    )
    print(table(rows))
    if a.suite:
        print(f"\nboot suite wall time on {a.target}: {suite_wall(a.target):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

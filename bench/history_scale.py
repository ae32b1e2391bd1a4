"""The results history at scale: a synthetic 10,000-boot history, how long `compare`
and `write_report` take on it, and how big the page is.

The history is tests/test_history_report.py's generator: nightly runs of 30 boots (5
targets × 3 loader modes × 2 image sizes), 2 % noise, one series slowed down by 40 % in
the last 3 runs, a failing check and a failed boot; result.json folders for the newest run
only (old result folders are usually pruned, the database keeps everything). Timings are
wall-clock on this machine; nothing is asserted. Wall-clock depends on what else the machine
runs; the CPU column does less.
Run: .venv/bin/python bench/history_scale.py [--boots 10000] [--per-run 30] [--last 30] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, ParamSpec, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.history.compare import compare
from harness.history.db import History
from test_history_report import Plan, build_history

TARGETS = ("qemu-virt", "qemu-virt-el2", "qemu-imx8mp", "qemu-virt-uboot", "armstone-imx8mp")
MODES = ("mmu-off", "early-mmu", "fallback")
P = ParamSpec("P")
T = TypeVar("T")


def plan_for(boots: int, per_run: int, results: Path) -> Plan:
    """A plan of `boots` boots in runs of `per_run` (targets × modes × sizes, trimmed)."""
    sizes = (1, 16, 64, 256)
    per_series = len(TARGETS) * len(MODES)
    n_sizes = max(1, min(len(sizes), round(per_run / per_series)))
    runs = max(1, boots // (per_series * n_sizes))
    return Plan(
        runs=runs,
        targets=TARGETS,
        modes=MODES,
        sizes_mib=sizes[:n_sizes],
        regress=(TARGETS[0], "early-mmu", sizes[min(1, n_sizes - 1)]),
        failing_check=(max(0, runs - 5), TARGETS[3], "mmu-off", 1, "bss"),
        failed_boot=(max(0, runs - 8), TARGETS[1], "fallback", 1),
        results=results,
        results_for_last=1,
    )


def timed(label: str, fn: Callable[P, T], *args: P.args, **kw: P.kwargs) -> T:
    """Run fn, print its wall-clock and CPU time (this process and the children it
    waited for: the report's drawing processes, a CLI run), return its result."""
    start, cpu = time.perf_counter(), os.times()
    out = fn(*args, **kw)
    end = os.times()
    used = sum(getattr(end, f) - getattr(cpu, f) for f in ("user", "system", "children_user", "children_system"))
    print(f"{label:44} {time.perf_counter() - start:8.2f} s  (cpu {used:.2f} s)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boots", type=int, default=10_000)
    ap.add_argument("--per-run", type=int, default=30, help="boots per run (multiple of 15: sizes per series)")
    ap.add_argument("--last", type=int, default=30, help="runs drawn in the trends (harness report --last)")
    ap.add_argument("--keep", type=Path, help="build the history here and keep it")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        where = args.keep or Path(tmp_name)
        where.mkdir(parents=True, exist_ok=True)
        db = where / "history.sqlite"
        db.unlink(missing_ok=True)
        plan = plan_for(args.boots, args.per_run, where / "results")
        n = plan.runs * len(list(plan.series()))
        print(
            f"history: {n} boots in {plan.runs} runs of {n // plan.runs} "
            f"({len(plan.targets)} targets × {len(plan.modes)} modes × {len(plan.sizes_mib)} sizes)"
        )
        timed("build (synchronous=OFF)", lambda: build_history(db, plan, fast=True).close())
        print(f"{'database size':44} {db.stat().st_size / 2**20:8.1f} MiB")
        with History(db, create=False) as h:
            result = timed("compare newest vs previous", compare, h)
            print(f"{'  findings':44} {len(result.findings):8d} ({len(result.regressions)} regressions)")
            timed("compare newest vs last:30", compare, h, None, "last:30")
            from harness.history.html import write_report

            out = timed(f"write_report --last {args.last}", write_report, h, where / "report.html", args.last)
            timed(f"write_report --last {args.last} (again)", write_report, h, where / "report.html", args.last)
            page = out.read_text()
            print(f"{'report size':44} {len(page.encode()) / 2**20:8.2f} MiB, {page.count('<svg')} SVGs")
            timed("write_report --last 200", write_report, h, where / "report-200.html", 200)
            print(f"{'report size (--last 200)':44} {(where / 'report-200.html').stat().st_size / 2**20:8.2f} MiB")
        cli = [
            str(Path(sys.executable).with_name("harness")),
            "report",
            str(db),
            "-o",
            str(where / "report-cli.html"),
            "--last",
            str(args.last),
        ]
        timed(
            f"harness report --last {args.last} (a fresh process)",
            subprocess.run,
            cli,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if args.keep:
            print(f"kept: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

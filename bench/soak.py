"""Soak: many boots in a row across targets and modes, random payload sizes.

What it proves (figures printed, and written to build/soak/soak.json):
- every boot of a good image passes: a failure here is unexplained by definition;
- no process the harness started outlives its boot (harness.processes registry,
  and a scan of our own child processes);
- no file is left in the temp folder (entries created during the soak);
- the harness's memory stays flat: RSS after each boot, and the slope over the
  second half (the first boots warm caches: builds, imports, pyelftools).

Not a test (it takes minutes); `make test` runs the short fault and property
tests. Run: .venv/bin/python bench/soak.py [--boots 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import processes
from harness.images.build import ROOT, Variant
from harness.session import BootSession
from harness.targets import load

TARGETS = ("qemu-virt", "qemu-virt-el2", "qemu-imx8mp", "qemu-virt-uboot")
# (unpack mode, page-table pages: None the Makefile's default, 1 forces the fallback)
MODES: tuple[tuple[str, int | None], ...] = (("mmu-off", None), ("early-mmu", None), ("early-mmu", 1))
SIZES_MIB = (0.25, 1, 4, 16, 48)  # random probe blob sizes (MiB)


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def children() -> set[int]:
    """Our own living descendants (by parent id from /proc; never by name)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[0] not in ("Z", "X"):
                    parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    mine: set[int] = set()
    frontier = {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - mine
        mine |= frontier
    return mine


def soak(boots: int, seed: int, targets: tuple[str, ...]) -> dict[str, Any]:
    rng = random.Random(seed)
    # A temp folder of our own, inherited by QEMU and labgrid: whatever is left in it
    # afterwards was left by this soak, not by another job on the machine.
    tmp = Path(tempfile.mkdtemp(prefix="harness-soak-tmp-"))
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)
    results = Path(tempfile.mkdtemp(prefix="results-"))
    sessions = {name: BootSession(load(name), results / name) for name in targets}
    rows: list[dict[str, Any]] = []
    try:
        for i in range(boots):
            name = rng.choice(targets)
            mode, pt_pages = rng.choice(MODES)
            mib = rng.choice(SIZES_MIB)
            session = sessions[name]
            variant = Variant(
                session.target.machine,
                blob_bytes=int(mib * (1 << 20)),
                uart_base=session.target.console_uart,
                mode=mode,
                pt_pages=pt_pages,
            )
            t0 = time.monotonic()
            outcome = session.boot(session.payload(variant), name=f"{i:04d}-{variant.name}", reuse=False)
            failed = outcome.failed
            row: dict[str, Any] = {
                "i": i,
                "target": name,
                "image": variant.name,
                "ok": outcome.result.ok and not failed,
                "wall_s": time.monotonic() - t0,
                "rss_kib": rss_kib(),
                "leaked": sorted(processes.survivors()),
                "children": len(children()),
                "failure": str(outcome.result.failure or failed or "")[:300],
            }
            rows.append(row)
            print(
                f"{i + 1:4}/{boots} {name:16} {variant.name:28} {'ok ' if row['ok'] else 'FAIL'} "
                f"{row['wall_s']:6.2f} s  rss {row['rss_kib'] / 1024:6.1f} MiB  children {row['children']}"
                + (f"  {row['failure']}" if not row["ok"] else ""),
                flush=True,
            )
    finally:
        for s in sessions.values():
            s.close()
    shutil.rmtree(results, ignore_errors=True)
    leaked_tmp = sorted(os.listdir(tmp))
    shutil.rmtree(tmp, ignore_errors=True)
    half = [r["rss_kib"] for r in rows[len(rows) // 2 :]]
    slope = statistics.linear_regression(range(len(half)), half).slope if len(half) > 2 else 0.0
    return {
        "boots": len(rows),
        "seed": seed,
        "targets": list(targets),
        "failures": [r for r in rows if not r["ok"]],
        "leaked_processes": sorted({p for r in rows for p in r["leaked"]}),
        "children_after": len(children()),
        "leaked_tmp": leaked_tmp,
        "rss_first_mib": rows[0]["rss_kib"] / 1024 if rows else 0,
        "rss_max_mib": max(r["rss_kib"] for r in rows) / 1024 if rows else 0,
        "rss_last_mib": rows[-1]["rss_kib"] / 1024 if rows else 0,
        "rss_slope_kib_per_boot_2nd_half": slope,
        "wall_median_s": statistics.median(r["wall_s"] for r in rows) if rows else 0,
        "rows": rows,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--boots", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--targets", default=",".join(TARGETS))
    args = ap.parse_args()
    t0 = time.monotonic()
    report = soak(args.boots, args.seed, tuple(args.targets.split(",")))
    out = ROOT / "build" / "soak"
    out.mkdir(parents=True, exist_ok=True)
    (out / "soak.json").write_text(json.dumps(report, indent=2))
    print(
        f"\nsoak: {report['boots']} boots in {time.monotonic() - t0:.0f} s (seed {args.seed}) across "
        f"{', '.join(report['targets'])}; median boot {report['wall_median_s']:.2f} s"
    )
    print(f"  unexplained failures: {len(report['failures'])}")
    print(
        f"  leaked processes: {len(report['leaked_processes'])}; our children after the soak: "
        f"{report['children_after']}; new temp entries: {len(report['leaked_tmp'])} {report['leaked_tmp'][:5]}"
    )
    print(
        f"  harness RSS: first {report['rss_first_mib']:.1f} MiB, max {report['rss_max_mib']:.1f} MiB, "
        f"last {report['rss_last_mib']:.1f} MiB; slope over the 2nd half "
        f"{report['rss_slope_kib_per_boot_2nd_half']:.1f} KiB/boot"
    )
    print(f"  details: {out / 'soak.json'}")
    bad = report["failures"] or report["leaked_processes"] or report["leaked_tmp"] or report["children_after"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

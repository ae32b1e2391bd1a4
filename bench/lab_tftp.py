"""U-Boot's TFTP load MEASURED on the lab's virtual i.MX8M Plus place (atftpd, RFC 7440).

One virtual lab (`virtual-board-imx8mp`: QEMU imx8mp-evk, our U-Boot, atftpd on 127.0.0.1)
stays up; the same reference image is booted to the hand-off once per setting, each from a
copy of targets/lab-virtual-board-imx8mp.yaml with its `tftpwindowsize`/`tftpblocksize`
changed, through `harness boot` (HARNESS_LAB_COORDINATOR: the lab is reused). Each row is
U-Boot's own `Bytes transferred` and rate line and the load phase by the host's clock
(harness/transfer.py), with the window atftpd's log says it granted. Figures are printed,
never asserted: they are QEMU's ENET model over user networking on this host, not a board's
wire (bench/uboot_load.py models the board; docs/uboot-load.md compares them).

Run: .venv/bin/python bench/lab_tftp.py [--blob-mib 64] [--repeat 3] [--settings 1x1468,16x1468]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from statistics import median

from harness.lab import atftpd
from harness.lab.lease import ATTACH_ENV
from harness.lab.virtual import VIRTUAL_IMX8MP_PLACE, VirtualLab
from harness.targets import TARGETS_DIR

TARGET = TARGETS_DIR / "lab-virtual-board-imx8mp.yaml"
DEFAULT_SETTINGS = "1x1468,8x1468,16x1468,64x1468,1x8192,4x8192,16x8192"
RATE = re.compile(r"^\[[ \d.]+\]\s+([\d.]+ [KM]iB/s)\s*$", re.M)


def variant(window: int, block: int, into: Path) -> Path:
    """The target with this window and block size (its own `tftpwindowsize` line replaced)."""
    text = TARGET.read_text()
    line = "    tftpwindowsize: 16\n"
    if line not in text:
        sys.exit(f"{TARGET}: no '{line.strip()}' line to vary (bench/lab_tftp.py)")
    path = into / f"lab-imx8mp-w{window}-b{block}.yaml"
    path.write_text(text.replace(line, f"    tftpwindowsize: {window}\n    tftpblocksize: {block}\n"))
    return path


def measure(target: Path, blob_mib: int, results: Path) -> dict[str, object]:
    """One boot to the hand-off; its load figures from result.json and console.log."""
    out = results / target.stem
    cmd = [sys.executable, "-m", "harness.cli", "boot", "--target", str(target), "--mode", "mmu-off"]
    cmd += ["--blob-mib", str(blob_mib), "--until", "handoff", "--results", str(out), "--history", "off"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = sorted(out.rglob("result.json"))
    if proc.returncode != 0 or not found:  # a row of its own: a setting the board cannot take
        failed = re.search(r"FAILED: (.*)", proc.stdout)
        return {"failed": failed.group(1)[:160] if failed else f"exit {proc.returncode}: {proc.stderr[-300:]}"}
    result = json.loads(found[-1].read_text())
    console = (found[-1].parent / "console.log").read_text(errors="replace")
    rate = RATE.findall(console)
    props = result["properties"]
    return {"bytes": props["load_bytes"], "load_s": props["load_s"], "rate": rate[-1] if rate else "?"}


def log_text(lab: VirtualLab) -> str:
    return (lab.log_dir / "atftpd.log").read_text(errors="replace")


def row(window: int, block: int, runs: list[dict[str, object]], granted: int | None) -> list[str]:
    """One setting's cells; boots that failed are counted, with the first one's reason."""
    good = [r for r in runs if "failed" not in r]
    failed = [str(r["failed"]) for r in runs if "failed" in r]
    cells = [str(window), str(block), "none" if granted is None else str(granted)]
    if not good:
        return cells + ["-", "-", "-", f"all {len(runs)} boots failed: {failed[0]}"]
    s = median(float(str(r["load_s"])) for r in good)
    n = int(str(good[0]["bytes"]))
    rates = " / ".join(str(r["rate"]) for r in good)
    if failed:
        rates += f"; {len(failed)} of {len(runs)} failed: {failed[0]}"
    return cells + [str(n), f"{s:.2f}", f"{n / s / (1 << 20):.1f}", rates]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--blob-mib", type=int, default=64, help="the reference image's blob (the load's size)")
    p.add_argument("--repeat", type=int, default=3, help="boots per setting (the median is printed)")
    p.add_argument("--settings", default=DEFAULT_SETTINGS, help="WINDOWxBLOCK,... (tftpwindowsize x tftpblocksize)")
    args = p.parse_args(argv)
    settings = [tuple(int(x) for x in s.split("x")) for s in args.settings.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="lab-tftp-") as tmp, VirtualLab(place=VIRTUAL_IMX8MP_PLACE) as lab:
        os.environ[ATTACH_ENV] = lab.address
        for window, block in settings:
            target = variant(window, block, Path(tmp))
            before = len(atftpd.granted_windows(log_text(lab)))
            runs = [measure(target, args.blob_mib, Path(tmp) / f"r{i}") for i in range(args.repeat)]
            grants = atftpd.granted_windows(log_text(lab))[before:]  # U-Boot asks none for 1
            rows.append((window, block, runs, grants[-1] if grants else None))
            print(f"lab_tftp: {window}x{block}: {row(*rows[-1])}", file=sys.stderr, flush=True)
    head = ["tftpwindowsize", "tftpblocksize", "granted", "bytes", "load s (median)", "MiB/s", "U-Boot's rate line"]
    body = [row(*r) for r in rows]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    print(
        "MEASURED on the lab's virtual i.MX8M Plus place (QEMU imx8mp-evk, U-Boot 2023.01, atftpd; "
        f"{args.repeat} boots each)"
    )
    print("load s: the tftpboot command, Enter to the prompt back, host clock; not a board's wire\n")
    for r in [head, *body]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

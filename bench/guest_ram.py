"""What the guest's RAM costs the host: QEMU alone on a seL4 image to its verdict, with the
host's memory cold or warm, and with the guest RAM populated up front (`-mem-prealloc`) or not.

sel4test touches all of a 2 GiB guest. On a VM host whose balloon reports free pages back
(this project's machine), memory freed a few seconds ago is gone from the VM and each first
touch is an expensive fault; whether QEMU touches it up front or the guest touches it page by
page, the host pays the same. "cold": 6 GiB touched and freed, then 8 s for the balloon's
free-page reporting; "warm": right after another run. The figures are QEMU's own user and
system CPU seconds, read from /proc when the console says the verdict; nothing is asserted.

Run: .venv/bin/python bench/guest_ram.py IMAGE [--runs 1]
     (IMAGE: a sel4test image for QEMU virt, e.g. from `harness sel4 build --early-mmu`)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

VERDICT = "All is well in the universe"
HZ = os.sysconf("SC_CLK_TCK")


def make_cold() -> None:
    """Have the host take this VM's free memory back: touch 6 GiB, free it, wait."""
    block = bytearray(6 << 30)
    del block
    time.sleep(8)


def cpu_of(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a running process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / HZ, int(fields[12]) / HZ


def run(image: Path, populate: bool, timeout: float = 300.0) -> tuple[float, float, float]:
    """(wall, user, system) of QEMU from its start to sel4test's verdict."""
    with tempfile.TemporaryDirectory() as tmp:
        console = Path(tmp) / "console.log"
        cmd = ["qemu-system-aarch64", "-machine", "virt", "-cpu", "cortex-a53", "-m", "2G"]
        cmd += ["-accel", "tcg,thread=single", "-nic", "none", "-display", "none", "-monitor", "none"]
        cmd += ["-serial", f"file:{console}", "-kernel", str(image)] + (["-mem-prealloc"] if populate else [])
        start = time.monotonic()
        qemu = subprocess.Popen(cmd)
        try:
            while VERDICT not in (console.read_text(errors="replace") if console.exists() else ""):
                if qemu.poll() is not None or time.monotonic() - start > timeout:
                    raise SystemExit(f"no verdict from {image} (QEMU exit {qemu.returncode})")
                time.sleep(0.2)
            user, system = cpu_of(qemu.pid)
            return time.monotonic() - start, user, system
        finally:
            qemu.kill()
            qemu.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", type=Path)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    print(f"{'populated':>9} {'host':>5} {'wall s':>7} {'user s':>7} {'system s':>9}")
    for _ in range(args.runs):
        for populate in (True, False):
            for cold in (True, False):
                if cold:
                    make_cold()
                wall, user, system = run(args.image, populate)
                label = f"{'yes' if populate else 'no':>9} {'cold' if cold else 'warm':>5}"
                print(f"{label} {wall:7.1f} {user:7.1f} {system:9.1f}")


if __name__ == "__main__":
    main()

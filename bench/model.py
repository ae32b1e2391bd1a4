"""Modeled board time of the unpack at several image sizes, both modes, and the ratio.

Boots the reference elfloader under the cache model (real runs at every size,
no extrapolation), converts the counts with the target's timing profile and
prints a table next to the seed measurements, every figure with its band over the
profile's ranges (stock, patched and the ratio). `--calibrate` prints the
uncached_access_s that would fit the seeds with THIS loader; the profile itself
is fitted on the stock seL4 loader (bench/sel4_model.py --calibrate), so the
reference loader's figures are a prediction, not a fit.
Run: .venv/bin/python bench/model.py [--sizes 6,64,596] [--calibrate]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from harness.images.build import Variant
from harness.board_time import SEEDS, Modeled, fit_uncached_access, ratio_band
from harness.session import BootSession
from harness.targets import load


def run(
    target_name: str, sizes_mb: list[float], modes: list[str]
) -> dict[tuple[str, float], tuple[int, Modeled, float]]:
    target = load(target_name)
    out = {}
    with tempfile.TemporaryDirectory(prefix="harness-model-") as tmp:
        session = BootSession(target, Path(tmp), coherence=True)
        try:
            for mb in sizes_mb:
                for mode in modes:
                    payload = session.payload(Variant(target.machine, mode, blob_bytes=int(mb * 1e6) // 8 * 8))
                    t0 = time.monotonic()
                    outcome = session.boot(payload, reuse=False)
                    wall = time.monotonic() - t0
                    if not outcome.result.ok or outcome.failed:
                        raise SystemExit(f"{mode} {mb} MB: {outcome.result.failure or outcome.failed}")
                    out[(mode, mb)] = (payload.unpacked_bytes, outcome.result.extras["model"], wall)
        finally:
            session.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--target", default="qemu-virt")
    p.add_argument("--sizes", default="6,64,596", help="probe blob sizes in MB (1e6 bytes)")
    p.add_argument("--calibrate", action="store_true")
    a = p.parse_args()
    sizes = [float(s) for s in a.sizes.split(",")]
    res = run(a.target, sizes, ["mmu-off", "early-mmu"])
    profile = next(iter(res.values()))[1].profile
    print(f"MODELED unpack time on {profile.name} (counts from QEMU + cache model; not a measurement)")
    print(f"  {profile.describe()}")
    print("  band = least..greatest over the profile's ranges (harness/board_time.py corners)")
    print(
        f"{'image MB':>9} {'mmu-off s':>10} {'band':>13} {'early-mmu s':>12} {'band':>15} {'ratio':>7} "
        f"{'band':>11} {'seed s':>7} {'mmu-off vs seed':>16} {'QEMU wall s':>12}"
    )
    seeds = dict(SEEDS)
    for mb in sizes:
        nbytes, off, w1 = res[("mmu-off", mb)]
        _, on, w2 = res[("early-mmu", mb)]
        boff, bon = off.band(), on.band()
        assert boff is not None and bon is not None and off.counts is not None and on.counts is not None
        ratio = ratio_band(off.counts, on.counts, profile)
        seed = next((t for n, t in seeds.items() if abs(n - nbytes) / n < 0.02), None)
        vs = f"{(off.total_s / seed - 1) * 100:+.1f}%" if seed else "-"
        print(
            f"{nbytes / 1e6:9.1f} {off.total_s:10.3f} {f'{boff.low:.3g}-{boff.high:.3g}':>13} "
            f"{on.total_s:12.4f} {f'{bon.low:.3g}-{bon.high:.3g}':>15} {ratio.nominal:6.0f}x "
            f"{f'{ratio.low:.0f}-{ratio.high:.0f}x':>11} {seed if seed else '-':>7} {vs:>16} {w1 + w2:12.1f}"
        )
    for mode in ("mmu-off", "early-mmu"):
        _, m, _ = res[(mode, sizes[-1])]
        print(f"  {mode} at {sizes[-1]:g} MB: {m.describe()}")
    if a.calibrate and len(sizes) >= 2:
        small = (res[("mmu-off", sizes[0])][0], res[("mmu-off", sizes[0])][1])
        large = (res[("mmu-off", sizes[-1])][0], res[("mmu-off", sizes[-1])][1])
        u = fit_uncached_access(small, large)
        print(f"calibration: uncached_access_s = {u:.4e} (profile has {profile.uncached_access_s:.4e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""U-Boot's image load on the armStone, MODELED: the seed's lock-step TFTP and each remedy.

After the early-MMU patch the unpack takes under a second and the load is most of the boot:
the seed's 596 MB image reached the elfloader 298.4 s into the log, a 6 MB one at 16.7 s, so
~282 s for ~590 MB more (~2.1 MB/s): lock-step TFTP (RFC 1350), 1468-byte blocks, one block per
~0.7 ms round trip. The rows price the same load with a bigger block (IP fragments, needs
CONFIG_IP_DEFRAG), an RFC 7440 window of 8, 16 or 64 blocks (U-Boot's client and the server
must both do it) and from eMMC, each from the profile's `load:` parameters (harness/load_time.py)
as a band over their ranges. Nothing here is measured: a board's own `Bytes transferred` and
rate line (in every U-Boot boot's summary) win. docs/uboot-load.md works the arithmetic.

Run: .venv/bin/python bench/uboot_load.py [--sizes 6,596] [--profile imx8mp-armstone]
"""

from __future__ import annotations

import argparse
import sys

from harness.load_time import SEED_SCENARIO, LoadBand, Scenario, fit_round_trip, load_band, seed_exchange_s
from harness.profile import LOAD_PARAMETERS, Profile, load_profile

SCENARIOS = (
    SEED_SCENARIO,
    Scenario("block 8192", block=8192),
    Scenario("block 16352", block=16352),
    Scenario("window 8", window=8),
    Scenario("window 16", window=16),
    Scenario("window 64", window=64),
    Scenario("window 16, block 8192", block=8192, window=16),
    Scenario("eMMC", mmc=True),
)


def rows(profile: Profile, sizes_mb: list[float]) -> list[tuple[Scenario, list[LoadBand]]]:
    """Every scenario at every size (bytes = MB x 1e6), modeled."""
    return [(s, [load_band(profile, mb * 1e6, s) for mb in sizes_mb]) for s in SCENARIOS]


def _cell(b: LoadBand) -> str:
    f = ".0f" if b.nominal >= 100 else ".3g"
    return f"{b.nominal:{f}} s ({b.low:{f}}-{b.high:{f}})"


def table(profile: Profile, sizes_mb: list[float]) -> str:
    """The modeled load table, its seed check and the parameters with their sources."""
    head = ["route", "how"] + [f"{mb:g} MB: s (band)" for mb in sizes_mb] + [f"{sizes_mb[-1]:g} MB rate"]
    body = [
        [s.name, s.describe()] + [_cell(b) for b in bands] + [f"{bands[-1].rate_bytes_per_s / 1e6:.1f} MB/s"]
        for s, bands in rows(profile, sizes_mb)
    ]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    line = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *body]]
    load = profile.load
    block = int(load["tftp_block_bytes"].value)
    link = load["link_bits_per_s"].value
    out = [
        f"MODELED U-Boot image load on {profile.name} (harness/load_time.py; docs/uboot-load.md)",
        "",
        *line,
        "",
        f"seed check: ELF-loading line at 298.4 s (596 MB) and 16.7 s (6 MB): "
        f"{seed_exchange_s(block) * 1e3:.3f} ms per {block}-byte block "
        f"({seed_exchange_s(block, mib=True) * 1e3:.3f} ms reading MB as MiB); "
        f"round trip at {link / 1e6:g} Mbit/s {fit_round_trip(block, link) * 1e3:.3f} ms "
        f"(profile: {load['tftp_round_trip_s'].value * 1e3:.3f} ms)",
        "",
        "parameters (value (range) kind: source):",
    ]
    for name in LOAD_PARAMETERS:
        p = load[name]
        out.append(f"  {name}: {p.text(name)}: {' '.join(p.source.split())}")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="6,596", help="image sizes in MB (1e6 bytes), comma-separated")
    p.add_argument("--profile", default="imx8mp-armstone")
    a = p.parse_args()
    profile = load_profile(a.profile)
    if not profile.load:
        print(f"profile {a.profile} has no load: section (docs/uboot-load.md)", file=sys.stderr)
        return 2
    print(table(profile, [float(x) for x in a.sizes.split(",")]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

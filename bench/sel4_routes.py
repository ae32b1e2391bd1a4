"""The seed's three questions side by side: MODELED armStone unpack of every route, one profile.

Routes, each a real sel4test image (EL2 hypervisor, RELEASE=TRUE, the seed build) run under
the cache model at each size, priced by one profile with its bands (harness/board_time.py):
  stock             seL4's loader as built (its copy unit follows the archive's alignment)
  stock, archive aligned
                    the same build with every archive member's data 16-byte aligned
                    (harness sel4 build --align-archive, patches/seL4_tools/archive-align): the
                    stock loader's 8-byte copies, whatever the members before the rootserver
  wide, MMU off     the early-MMU series with its map never built (patches/seL4_tools/routes/
                    mmu-off-wide.patch): 64-byte aligned copy and zero loops, MMU off
  early MMU + VA    the series, window closed by VA (ElfloaderEarlyMMUClean=va)
  early MMU + s/w   the series, window closed by set/way (the default on imx8mp-evk and virt)
  zero copy         the lower bound of not copying at all: the set/way route's time with the
                    copy taken out, i.e. its line through both sizes at zero payload bytes
                    (bss zeroing, the close and the hand-off of a real image); not a loader
The last line is the headline: 596 MB stock against early MMU + set/way, with bands.

Run: .venv/bin/python bench/sel4_routes.py [--sizes 6,596]   (counts cached as sel4_model.py's)
     .venv/bin/python bench/sel4_routes.py --save-counts bench/counts   # ship them as data
     .venv/bin/python bench/sel4_routes.py --counts bench/counts        # the table from shipped counts
Shipped counts are data, never figures: the table is always priced now, by the profile of now;
tests/test_sel4_counts.py fails when the plugin or the harness code that sets the window has
changed since they were made (then regenerate them with the two commands above).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from harness.board_time import Band, band, copy_unit, corners, load_profile, model
from harness.profile import Profile
from sel4_model import SEED_BUILD
from sel4_runs import Run, built, load_run, payload_for, run, sources_digest

ROUTE_PATCHES = Path(__file__).resolve().parents[1] / "patches" / "seL4_tools" / "routes"
TARGET_S, TARGET_RATIO = 0.45, 400.0  # patched 596 MB, upper edge; stock/patched, centre
ALIGNED = "stock, archive aligned"
ROUTES = ("stock", ALIGNED, "wide, MMU off", "early MMU + VA", "early MMU + set/way")
REGENERATE = ".venv/bin/python bench/sel4_routes.py --sizes 6,596 --save-counts bench/counts"


@dataclass(frozen=True)
class Size:
    mb: float
    runs: dict[str, Run]


def routes_at(mb: float, base: int) -> Size:
    cfg = replace(SEED_BUILD, payload_mib=payload_for(mb, base))
    aligned = run(built(replace(cfg, align_archive=True)))
    if copy_unit(aligned.counts) != 8:  # the row's claim, checked on its own counts
        raise SystemExit(
            f"{aligned.name}: the stock loader copied the aligned archive in "
            f"{copy_unit(aligned.counts)}-byte units, not 8: the alignment did not hold"
        )
    runs = {
        "stock": run(built(cfg)),
        ALIGNED: aligned,
        "wide, MMU off": run(
            built(replace(cfg, early_mmu=True, extra_patches=(ROUTE_PATCHES / "mmu-off-wide.patch",)))
        ),
        "early MMU + VA": run(built(replace(cfg, early_mmu=True, early_mmu_clean="va"))),
        "early MMU + set/way": run(built(replace(cfg, early_mmu=True, early_mmu_clean="setway"))),
    }
    return Size(mb, runs)


def _file_bytes(r: Run) -> float:
    """What the copy moves: the destination's stored bytes beyond bss (counted, cached)."""
    return float(sum(size * n for size, n in r.counts.by_target["dest"].stores.cacheable.items()))


def zero_copy(small: Run, large: Run, prof: Profile) -> Band:
    """The set/way route at zero copied bytes, over the same corners as every other band."""

    def at(p: Profile) -> float:
        ts, tl = model(small.counts, p).total_s, model(large.counts, p).total_s
        slope = (tl - ts) / (_file_bytes(large) - _file_bytes(small))
        return max(0.0, ts - slope * _file_bytes(small))

    values = [at(p) for p in corners(prof)]
    return Band(at(prof), min(values), max(values))


def table(sizes: list[Size], prof: Profile) -> list[str]:
    when = max(r.counted for s in sizes for r in s.runs.values())
    out = [
        f"MODELED armStone unpack by route (QEMU + cache model counts x profile, counts of {when}; not a measurement)",
        f"  {prof.describe()}",
        f"{'route':<22}" + "".join(f"{f'{s.mb:g} MB s':>12} {'band':>15}" for s in sizes),
    ]
    bands = {(s.mb, name): band(s.runs[name].counts, prof) for s in sizes for name in ROUTES}
    for name in ROUTES:
        out.append(
            f"{name:<22}"
            + "".join(
                f"{bands[(s.mb, name)].nominal:12.4g} {bands[(s.mb, name)].low:7.3g}-{bands[(s.mb, name)].high:<7.3g}"
                for s in sizes
            )
        )
    if len(sizes) > 1:  # a line through two sizes
        z = zero_copy(sizes[0].runs["early MMU + set/way"], sizes[-1].runs["early MMU + set/way"], prof)
        out.append(
            f"{'zero copy (bound)':<22}" + "".join(f"{z.nominal:12.4g} {z.low:7.3g}-{z.high:<7.3g}" for _ in sizes)
        )
    else:
        out.append(f"{'zero copy (bound)':<22} needs two sizes (--sizes 6,596)")
    big = sizes[-1]
    stock, patched = bands[(big.mb, "stock")], bands[(big.mb, "early MMU + set/way")]
    floor = big.runs["early MMU + set/way"].unpacked / prof.cached_copy_bytes_per_s
    centre = stock.nominal / patched.nominal
    out.append(f"single-core floor at {big.mb:g} MB: {floor:.3f} s (unpacked bytes / cached copy bandwidth)")
    out.append(
        f"targets at {big.mb:g} MB (MODELED): patched <= {TARGET_S} s at the band's upper edge "
        f"{'MET' if patched.high <= TARGET_S else 'MISSED'} ({patched.high:.3f} s); ratio >= "
        f"{TARGET_RATIO:.0f}x at the band's centre {'MET' if centre >= TARGET_RATIO else 'MISSED'} "
        f"({centre:.0f}x)"
    )
    out.append(
        f"headline: {big.mb:g} MB stock {stock.nominal:.1f} s (band {stock.low:.1f}-{stock.high:.1f} s), "
        f"patched {patched.nominal:.3f} s (band {patched.low:.3f}-{patched.high:.3f} s), "
        f"ratio {centre:.0f} x"
    )
    return out


MANIFEST = "manifest.json"


def save_counts(sizes: list[Size], out: Path) -> None:
    """Each run's counts (the plugin's report and its key) and a manifest, as data."""
    out.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, str]] = {}
    for s in sizes:
        for name, r in s.runs.items():
            data = json.loads(Path(r.path).read_text())
            data.update(_image_bytes=r.image_bytes, _counted=r.counted)
            data.get("_key", {}).pop("image_sha256", None)  # the image is not shipped
            file = f"{s.mb:g}MB-{name.replace(' ', '-').replace(',', '').replace('/', '')}.json"
            (out / file).write_text(json.dumps(data, sort_keys=True, default=str))
            manifest.setdefault(f"{s.mb:g}", {})[name] = file
    manifest["_sources"] = sources_digest()
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def load_counts(where: Path) -> list[Size]:
    manifest = json.loads((where / MANIFEST).read_text())
    sizes = {mb: routes for mb, routes in manifest.items() if not mb.startswith("_")}
    for mb, routes in sizes.items():
        if missing := [r for r in ROUTES if r not in routes]:
            raise SystemExit(
                f"{where / MANIFEST}: no counts for {', '.join(missing)} at {mb} MB "
                f"(made before the route existed): regenerate them: {REGENERATE}"
            )
    return [
        Size(float(mb), {name: load_run(where / file, name) for name, file in routes.items()})
        for mb, routes in sorted(sizes.items(), key=lambda kv: float(kv[0]))
    ]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="6,596", help="image sizes in MB (1e6 bytes), comma-separated")
    p.add_argument("--profile", default="imx8mp-armstone")
    p.add_argument("--counts", type=Path, help="price shipped counts (no build, no QEMU)")
    p.add_argument("--save-counts", type=Path, help="also write the runs' counts here, as data")
    a = p.parse_args()
    prof = load_profile(a.profile)
    if a.counts:
        sizes = load_counts(a.counts)
    else:
        base = built(SEED_BUILD).image.stat().st_size
        sizes = [routes_at(float(mb), base) for mb in sorted(a.sizes.split(","), key=float)]
    if a.save_counts:
        save_counts(sizes, a.save_counts)
    print("\n".join(table(sizes, prof)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Modeled armStone unpack time of the STOCK seL4 elfloader, and the profile's fit.

The seed (armStone, U-Boot bootm -> seL4 elfloader, MMU off) measures from the
user image's "ELF-loading image" line to "Enabling hypervisor MMU and paging":
~6 MB in 2.4 s, ~596 MB in 197 s. This runs real seL4 images under the cache
model over exactly that window (harness/coherence/window.py), for every build
alternative, and for each one prints what the copy does per 8 bytes, the
uncached access cost that fits both seeds, and the profile's modeled times.

Images (IMAGES dir): NAME and NAME-p32 for NAME in el1-dbg, el2-dbg, el1-rel,
el2-rel (qemu-arm-virt sel4test, RELEASE=FALSE/TRUE, ARM_HYP off/on; -p32 adds a
32 MiB payload to the rootserver: patches/sel4test, -DSel4testPayloadFile).
Counts are linear in the image size, so two sizes per build give the line the
seeds are compared with. Each build is also run "realigned": the rootserver's
CPIO member moved by 4 bytes (a longer member name), which flips it between
co-aligned (8-byte copies) and not (4-byte copies) with its destination.

Run: .venv/bin/python bench/sel4_model.py --images /tmp/h3/img [--calibrate]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.coherence import CoherenceReport, Counts
from harness.coherence.run import run_to_handoff
from harness.images.cpio import HEADER, MAGIC, TRAILER, _header, find_archive, read_newc
from harness.model import SEEDS, Line, Modeled, fit_uncached_access, granularity, load_profile, model

BUILDS = ("el2-rel", "el1-rel", "el2-dbg", "el1-dbg")
PLAUSIBLE_NS = (100.0, 300.0)       # uncached DRAM access on i.MX8MP (profile comment)


def realign(image: Path, out: Path) -> Path:
    """A copy of `image` whose last CPIO member's data sits 4 bytes later.

    Only the member's name grows (seL4's loader loads user images by index),
    so nothing else changes: the copy unit memcpy picks flips 8 <-> 4.
    """
    archive = find_archive(image)
    last = read_newc(archive)[-1]
    head_at = last.data.offset - archive.offset
    with archive.open() as f:       # walk back to the member's header
        f.seek(0)
        raw = f.read(head_at)
    hdr = raw.rfind(MAGIC)
    old_name = last.name
    for extra in range(1, 8):
        name = old_name + "_" * extra
        new_head = _header(name, last.data.size, 99)
        if (hdr + len(new_head)) % 8 != head_at % 8:
            break
    end = hdr + len(new_head) + last.data.size
    trailer = _header(TRAILER, 0, 0, 0)
    pad = (4 - last.data.size % 4) % 4
    if end + pad + len(trailer) > archive.size:
        raise SystemExit(f"{image}: no room in the archive to move '{old_name}'")
    shutil.copyfile(image, out)
    with open(out, "r+b") as o, last.data.open() as src:
        o.seek(archive.offset + hdr)
        o.write(new_head)
        src.seek(0)
        shutil.copyfileobj(src, o, 8 << 20)
        o.write(b"\0" * pad + trailer)
        o.write(b"\0" * (archive.size - (end + pad + len(trailer))))
    assert read_newc(find_archive(out))[-1].name == name and HEADER
    return out


@dataclass(frozen=True)
class Run:
    image_bytes: int
    counts: Counts
    wall_s: float
    window: str


def run(image: Path, cache: Path, el2: bool) -> Run:
    """Counts of one image's seed window (cached in `cache` by name and size)."""
    key = cache / f"{image.name}-{image.stat().st_size}.json"
    if not key.exists():
        report, w, wall = run_to_handoff(image, key.with_suffix(".tmp.json"), el2=el2)
        if report.kinds():
            raise SystemExit(f"{image}: hazards under the sel4 contract: {sorted(report.kinds())}")
        data = dict(report.raw)
        data["_wall_s"], data["_window"] = wall, w.definition
        key.write_text(json.dumps(data))
    rep = CoherenceReport.load(key)
    return Run(image.stat().st_size, rep.counts, float(rep.raw["_wall_s"]), str(rep.raw["_window"]))


def copy_unit(c: Counts) -> str:
    """The unit memcpy picked: the size of most loads from the archive."""
    src = c.by_target.get("source")
    if src is None:
        return "?"
    sizes = {s: n for s, n in src.loads.uncached.items() if n}
    return f"{max(sizes, key=lambda s: sizes[s])} B" if sizes else "-"


def per8(small: Run, large: Run, f: Callable[[Counts], int]) -> float:
    """Counts per 8 bytes of image growth (slope of the line through two runs)."""
    return 8 * (f(large.counts) - f(small.counts)) / (large.image_bytes - small.image_bytes)


def row(name: str, small: Run, large: Run, profile_name: str) -> dict[str, object]:
    prof = load_profile(profile_name)
    ms, ml = model(small.counts, prof), model(large.counts, prof)
    u = fit_uncached_access((small.image_bytes, ms), (large.image_bytes, ml))
    # the fitted line at the seeds, with the fitted u (ifetch keeps its ratio)
    ratio = prof.uncached_ifetch_s / prof.uncached_access_s
    def at(m: Modeled, uu: float) -> float:
        return m.total_s + (uu / prof.uncached_access_s - 1) * (m.parts["uncached data"]
                                                               + m.parts["uncached fetch"])
    fit = Line.through((small.image_bytes, at(ms, u)), (large.image_bytes, at(ml, u)))
    now = Line.through((small.image_bytes, ms.total_s), (large.image_bytes, ml.total_s))
    data = lambda c: c.loads.total() + c.stores.total()   # noqa: E731
    stack = lambda c: c.by_target["stack"].total()        # noqa: E731
    return {
        "build": name, "unit": copy_unit(large.counts),
        "data/8B": per8(small, large, data), "stack/8B": per8(small, large, stack),
        "fetch/8B": per8(small, large, lambda c: c.ifetch_uncached),
        "u_ns": u * 1e9, "ifetch_ns": u * ratio * 1e9,
        "err6": fit.at(SEEDS[1][0]) / SEEDS[1][1] - 1, "err596": fit.at(SEEDS[0][0]) / SEEDS[0][1] - 1,
        "prof6": now.at(SEEDS[1][0]), "prof596": now.at(SEEDS[0][0]),
        "why": granularity(large.counts),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--cache", type=Path, default=Path("build/sel4-model"))
    p.add_argument("--profile", default="imx8mp-armstone")
    p.add_argument("--builds", default=",".join(BUILDS))
    p.add_argument("--calibrate", action="store_true", help="also print the fit for every alternative")
    a = p.parse_args()
    a.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    windows: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="sel4-model-") as tmp:
        for name in a.builds.split(","):
            base, big = a.images / name, a.images / f"{name}-p32"
            if not base.exists() or not big.exists():
                print(f"skip {name}: {base} or {big} missing", file=sys.stderr)
                continue
            el2 = name.startswith("el2")
            for variant in ("as built", "realigned"):
                imgs = (base, big)
                if variant == "realigned":
                    imgs = tuple(realign(i, Path(tmp) / f"{i.name}-ra") for i in imgs)  # type: ignore[assignment]
                small, large = run(imgs[0], a.cache, el2), run(imgs[1], a.cache, el2)
                rows.append(row(f"{name} {variant}", small, large, a.profile))
                windows[name] = large.window
    prof = load_profile(a.profile)
    print(f"MODELED stock seL4 elfloader unpack on {prof.name} (QEMU + cache model counts; not a measurement)")
    print(f"  {prof.describe()}")
    for name, w in sorted(windows.items()):
        print(f"  window {name}: {w}")
    print(f"  seeds: ~6 MB in {SEEDS[1][1]} s, ~596 MB in {SEEDS[0][1]} s (armStone)")
    head = (f"{'build':<20} {'unit':>5} {'data/8B':>8} {'stack/8B':>9} {'fetch/8B':>9} "
            f"{'6 MB s':>8} {'596 MB s':>9}")
    if a.calibrate:
        head += f" | {'fit u ns':>8} {'fetch ns':>8} {'err 6MB':>8} {'err 596':>8} plausible"
    print(head)
    for r in rows:
        line = (f"{r['build']:<20} {r['unit']:>5} {r['data/8B']:8.2f} {r['stack/8B']:9.2f} "
                f"{r['fetch/8B']:9.2f} {r['prof6']:8.2f} {r['prof596']:9.1f}")
        if a.calibrate:
            ok = PLAUSIBLE_NS[0] <= float(r["u_ns"]) <= PLAUSIBLE_NS[1]  # type: ignore[arg-type]
            line += (f" | {r['u_ns']:8.0f} {r['ifetch_ns']:8.0f} {r['err6']:+8.1%} {r['err596']:+8.1%}"
                     f" {'yes' if ok else 'no'}")
        print(line)
    for r in rows:
        print(f"  {r['build']}: {r['why']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`harness sel4 build`: a real sel4test image from upstream or a user's project."""

from __future__ import annotations

import argparse
from pathlib import Path

from .build import build, repo_relative
from .config import CLEAN_METHODS, EARLY_MMU_BUGS, HASHES, PLATFORMS, Sel4Config


def add_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    s = sub.add_parser("sel4", help="real seL4 images (seL4's own build system)")
    ssub = s.add_subparsers(dest="sel4_cmd", required=True)
    b = ssub.add_parser(
        "build",
        help="configure and build sel4test; print the image path",
        description="Builds sel4test with init-build.sh + ninja into build/sel4/, "
        "cached by revisions, options and patches.",
    )
    b.add_argument("--platform", default="qemu-arm-virt", choices=list(PLATFORMS))
    b.add_argument("--hyp", action="store_true", help="seL4 at EL2 (ARM_HYP=ON)")
    b.add_argument("--release", action="store_true", help="RELEASE=TRUE (optimised, silent kernel)")
    b.add_argument(
        "--payload-mib",
        type=int,
        default=0,
        help="link a deterministic blob of N MiB into the rootserver (Sculpt-class images)",
    )
    b.add_argument("--hash", choices=list(HASHES), help="the elfloader's hash check (ElfloaderHashInstructions)")
    b.add_argument(
        "--project",
        type=Path,
        help="your own seL4 project checkout (default: the pinned upstream sources in ../shared/upstream)",
    )
    b.add_argument(
        "--early-mmu",
        action="store_true",
        help="apply our early-MMU patch (patches/seL4_tools/early-mmu) to the elfloader",
    )
    b.add_argument(
        "--early-mmu-bug",
        choices=EARLY_MMU_BUGS,
        help="the early-MMU patch plus exactly one defect (a negative control)",
    )
    b.add_argument(
        "--early-mmu-clean",
        choices=CLEAN_METHODS,
        help="how the early-MMU window is closed (ElfloaderEarlyMMUClean): va, range by "
        "range, or setway, the whole cache hierarchy (default: the platform's, "
        "setway on imx8mp-evk and qemu-arm-virt)",
    )
    b.add_argument(
        "--align-archive",
        action="store_true",
        help="start every archive member's data 16-byte aligned (patches/seL4_tools/"
        "archive-align): the MMU-off copy is 8 bytes wide whatever the members' "
        "names and sizes; combines with --early-mmu and --elfloader-patch",
    )
    b.add_argument(
        "--elfloader-patch",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="apply this seL4_tools patch last (repeatable): a mutant or a stock-loader "
        "control, on the stock loader or on top of --early-mmu",
    )
    b.add_argument(
        "--unreserved",
        action="store_true",
        help="NEGATIVE CONTROL: the platform's DTS overlay without its reserved-memory "
        "carve-outs (imx8mp-evk: OP-TEE's), so the early-MMU map covers them and "
        "the early-map check must fail; its own build directory",
    )
    b.add_argument("--elfloader", action="store_true", help="print the elfloader ELF's path instead of the image's")


def run(args: argparse.Namespace) -> int:
    cfg = Sel4Config(
        platform=args.platform,
        hyp=args.hyp,
        release=args.release,
        payload_mib=args.payload_mib,
        hash=args.hash,
        early_mmu=args.early_mmu,
        early_mmu_bug=args.early_mmu_bug,
        early_mmu_clean=args.early_mmu_clean,
        align_archive=args.align_archive,
        unreserved=args.unreserved,
        extra_patches=tuple(p.resolve() for p in args.elfloader_patch),
    )
    result = build(cfg, args.project)
    print(repo_relative(result.elfloader if args.elfloader else result.image))
    return 0

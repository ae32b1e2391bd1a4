"""The `harness` command: doctor, build, boot."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from . import doctor
from .errors import BootFailure, HarnessError
from .images.build import BUGS, MODES, Variant, build
from .payload import from_build, from_user
from .report import summary
from .history import cli as history_cli
from .history.db import history_path
from .sel4 import cli as sel4_cli
from .targets import load, with_overrides


def _variant(machine: str, args: argparse.Namespace, uart_base: int | None = None) -> Variant:
    mode = "early-mmu" if args.mode == "fallback" else args.mode
    pt = 1 if args.mode == "fallback" else None
    return Variant(machine=machine, mode=mode, bug=args.bug, pt_pages=pt,
                   blob_bytes=int(args.blob_mib * (1 << 20)), uart_base=uart_base)


def cmd_build(args: argparse.Namespace) -> int:
    machines = ["virt", "imx8mp"] if args.machine == "all" else [args.machine]
    variants = []
    for m in machines:
        if args.default:
            variants += [Variant(m, "mmu-off"), Variant(m, "early-mmu"), Variant(m, "early-mmu", pt_pages=1)]
        else:
            variants.append(_variant(m, args))
    for v in variants:
        b = build(v, quiet=args.quiet)
        if not args.quiet:
            print(f"{v.machine:7} {v.name:32} {b.elfloader}")
    return 0


def cmd_boot(args: argparse.Namespace) -> int:
    from .session import BootSession

    target = with_overrides(load(args.target), expect=args.expect, fail_on=args.fail_on,
                            silent_ok=args.silent_ok, timeouts=args.timeout)
    if args.image:
        payload = from_user(Path(args.image))
    else:
        payload = None
    results = Path(args.results) if args.results else Path(tempfile.mkdtemp(prefix="harness-boot-"))
    if target.remote and args.dry_run:     # [issue 4] a lab board: no coordinator needed
        from .uboot import dry_run_offline
        boot_file = payload.boot_file if payload else \
            from_build(build(_variant(target.machine, args, target.console_uart)),
                       target.image_format).boot_file
        print(dry_run_offline(target, boot_file))
        return 0
    with ExitStack() as lab:
        if target.remote:                  # [issue 4] hold the place (start a virtual lab)
            from .lab import lab_session
            lab.enter_context(lab_session(target, results / "lab"))
        session = BootSession(target, results / time.strftime("%Y%m%d-%H%M%S"),
                              coherence=args.coherence,
                              history=history_path(args.history, Path(args.results) if args.results
                                                   else history_cli.RESULTS))
        try:
            if payload is None:
                payload = session.payload(_variant(target.machine, args, target.console_uart))
            if args.dry_run:                # a command a person can paste (session.dry_run)
                print(session.dry_run(payload))
                return 0
            outcome = session.boot(payload, verify=args.verify, until=args.until)
        finally:
            session.close()
    print(summary(outcome.result, outcome.checks))
    return 0 if outcome.result.ok and not outcome.failed else 1


def cmd_inspect(args: argparse.Namespace) -> int:
    """List what an elfloader image will unpack: its archive, images, segments, hashes."""
    payload = from_user(Path(args.image))
    lo, hi = payload.loader.span
    print(f"{payload.elf}: elfloader [{lo:#x}..{hi:#x}), entry {payload.loader.entry:#x}, "
          f"archive {payload.archive_bytes} bytes, hand-off contract '{payload.contract}'")
    print("  members: " + ", ".join(f"{m.name} ({m.data.size} bytes)" for m in payload.members))
    for img in payload.images:
        print(f"  image '{img.name}': entry {img.entry:#x} (physical {img.entry_paddr:#x}), "
              f"{len(img.segments)} PT_LOADs")
        for s in img.segments:
            print(f"    [{s.index}] paddr={s.paddr:#012x} vaddr={s.vaddr:#x} filesz={s.filesz:<10} "
                  f"memsz={s.memsz:<10} {s.flag_str:3} crc32={s.crc32:#010x}")
    for h in payload.hashes:
        print(f"  hash member '{h.member}' ({h.algorithm}) for '{h.covers}': "
              f"{'matches' if h.ok else 'MISMATCH'}: {h.describe()}")
    return 0


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0 seconds")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="harness", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("doctor", help="list what is missing and the command that fixes it")
    ins = sub.add_parser("inspect", help="list the images and segments inside an elfloader image")
    ins.add_argument("image")
    b = sub.add_parser("build", help="build reference images")
    b.add_argument("--machine", default="virt", choices=["virt", "imx8mp", "all"])
    b.add_argument("--default", action="store_true", help="the good variants of every mode, all machines")
    b.add_argument("--quiet", action="store_true")
    for sp in (b, bt := sub.add_parser("boot", help="boot one image and print its phase summary")):
        sp.add_argument("--mode", default="early-mmu", choices=[*MODES, "fallback"])
        sp.add_argument("--bug", default="none", choices=BUGS, help="negative control to build in")
        sp.add_argument("--blob-mib", type=float, default=1.0, help="size of the probe's random blob")
    bt.add_argument("--target", default="qemu-virt", help="target name (targets/NAME.yaml) or path")
    bt.add_argument("--image", help="boot this seL4 elfloader image instead of a reference build")
    bt.add_argument("--dry-run", action="store_true", help="print a command that runs this boot by hand (console on the "
                         "terminal; U-Boot targets: the commands to type) and stop")
    bt.add_argument("--results", help="directory for logs and reports (default: a temp dir)")
    bt.add_argument("--history", metavar="PATH",
                    help="record the boot in this SQLite history (default: RESULTS/history.sqlite "
                         "with --results, else $HARNESS_HISTORY or results/history.sqlite; 'off': none)")
    bt.add_argument("--verify", action="store_true",
                    help="stop at the kernel entry and compare memory with the ELF images (gdbstub + QMP)")
    bt.add_argument("--coherence", action="store_true",
                    help="run under the cache-model plugin: coherence checks and modeled board time")
    bt.add_argument("--expect", action="append", default=[], metavar="REGEX",
                    help="a console line matching REGEX after the hand-off passes the boot "
                         "(repeatable; sel4test's 'All is well in the universe' always does)")
    bt.add_argument("--fail-on", action="append", default=[], metavar="REGEX",
                    help="a console line matching REGEX after the hand-off fails the boot "
                         "(repeatable; sel4test's '*** FAILURES DETECTED ***' always does)")
    bt.add_argument("--silent-ok", type=_seconds, default=None, metavar="SECONDS",
                    help="a kernel quiet this long after the hand-off counts as success")
    bt.add_argument("--until", choices=["verdict", "handoff"], default="verdict",
                    help="end the boot at the kernel's verdict (default) or at the hand-off "
                         "(enough for --coherence / --verify; the kernel check then skips)")
    bt.add_argument("--timeout", action="append", default=[], metavar="PHASE=SECONDS",
                    help="override one phase timeout of the target, e.g. kernel=300 (repeatable)")
    sel4_cli.add_parser(sub)
    history_cli.add_parsers(sub)
    args = p.parse_args(argv)
    if args.cmd == "build" and args.default:
        args.machine = "all"
    try:
        if args.cmd == "doctor":
            return doctor.report()
        if args.cmd == "build":
            return cmd_build(args)
        if args.cmd == "inspect":
            return cmd_inspect(args)
        if args.cmd == "sel4":
            return sel4_cli.run(args)
        if args.cmd in ("history", "compare", "report"):
            return history_cli.run(args)
        return cmd_boot(args)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    except BootFailure as exc:
        print(f"harness: boot failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

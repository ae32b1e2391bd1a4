"""The `harness` command: doctor, build, boot."""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import doctor, options
from .errors import BootFailure, HarnessError
from .images.build import BUGS, MODES, Variant, build
from .paths import fresh_run_folder
from .payload import Payload, from_build, from_user
from .repro import ReproOutcome
from .result_folder import summary
from .checks.platform import check_platform, platform_of
from .history import cli as history_cli
from .history.db import history_path
from .sel4 import cli as sel4_cli
from .mutate import cli as mutate_cli
from .targets import Target, load, with_overrides

if TYPE_CHECKING:
    from .session import BootSession, Outcome


def _variant(machine: str, args: argparse.Namespace, uart_base: int | None = None) -> Variant:
    mode = "early-mmu" if args.mode == "fallback" else args.mode
    pt = 1 if args.mode == "fallback" else None
    return Variant(
        machine=machine,
        mode=mode,
        bug=args.bug,
        pt_pages=pt,
        blob_bytes=int(args.blob_mib * (1 << 20)),
        uart_base=uart_base,
    )


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
    target = with_overrides(
        load(options.target_name(args.target)),
        expect=args.expect,
        fail_on=args.fail_on,
        silent_ok=args.silent_ok,
        timeouts=args.harness_timeout,
    )
    if args.image:
        payload = from_user(Path(args.image))
    else:
        payload = None
    results = Path(args.results) if args.results else Path(tempfile.mkdtemp(prefix="harness-boot-"))
    if target.remote and args.dry_run:  # a lab board: no coordinator needed
        from .uboot import dry_run_offline

        boot_file = (
            payload.boot_file
            if payload
            else from_build(build(_variant(target.machine, args, target.console_uart)), target.image_format).boot_file
        )
        print(dry_run_offline(target, boot_file))
        return 0
    with ExitStack() as stack:
        session = _session(stack, target, results, args.history, args.results, args.coherence, args.cache_start)
        if payload is None:
            payload = session.payload(_variant(target.machine, args, target.console_uart))
        if args.dry_run:  # a command a person can paste (session.dry_run)
            print(session.dry_run(payload))
            return 0
        outcome = _boot(stack, session, payload, args, verify=args.verify, until=args.until, early_map=args.early_map)
    print(summary(outcome.result, outcome.checks))
    return 0 if outcome.result.ok and not outcome.failed else 1


def _session(
    stack: ExitStack,
    target: Target,
    results: Path,
    history: str | None,
    results_arg: str | None,
    coherence: bool,
    cache_start: str | None = None,
) -> "BootSession":
    """A boot session for the CLI (a lab target's place held, a virtual lab started),
    closed when `stack` closes."""
    from .session import BootSession

    if target.remote:  # hold the place (start a virtual lab)
        from .lab import lab_session

        stack.enter_context(lab_session(target, results / "lab"))
    session = BootSession(
        target,
        fresh_run_folder(results),
        coherence=coherence,
        cache_start=cache_start,
        history=history_path(history, Path(results_arg) if results_arg else history_cli.RESULTS),
    )
    stack.callback(session.close)
    return session


def _boot(stack: ExitStack, session: "BootSession", payload: Payload, args: argparse.Namespace, **kw: Any) -> "Outcome":
    """One boot with the person-facing options: --interactive and --gdb."""
    attach = None
    if args.interactive:
        from .interactive import Terminal

        attach = stack.enter_context(Terminal())
    return session.boot(payload, attach=attach, gdb=args.gdb, **kw)


def cmd_repro(args: argparse.Namespace) -> int:
    """Rerun the boot a result records; say whether the outcome matches."""
    from .repro import plan, verdict_line

    results = Path(args.results) if args.results else Path(tempfile.mkdtemp(prefix="harness-repro-"))
    p = plan(args.result, results)
    for note in p.notes:
        print(f"harness: {note}")
    o = p.options
    print(
        f"harness: rerunning {p.boot_id} ({p.source}): {p.payload.label} "
        f"[sha256 {str(p.doc['payload']['sha256'])[:12]}] on {p.target.name}, mode "
        f"{p.doc.get('mode')}, options coherence={o['coherence']} verify={o['verify']} "
        f"until={o['until']}" + (f" extra={' '.join(o['extra'])}" if o["extra"] else "")
    )
    with ExitStack() as stack:
        session = _session(stack, p.target, results, args.history, args.results, o["coherence"], o.get("cache_start"))
        outcome = _boot(
            stack,
            session,
            p.payload,
            args,
            extra=o["extra"],
            coherence=o["coherence"],
            verify=o["verify"],
            until=o["until"],
            early_map=bool(o.get("early_map")),
        )
    print(summary(outcome.result, outcome.checks))
    now = ReproOutcome(
        outcome.result.ok,
        (outcome.result.failure.kind, outcome.result.failure.phase) if outcome.result.failure else None,
        tuple(sorted(outcome.failed)),
    )
    same, line = verdict_line(p.recorded, now)
    print(f"harness: {line}")
    return 0 if same else 1


def cmd_inspect(args: argparse.Namespace) -> int:
    """List what an elfloader image will unpack: its archive, images, segments, hashes, and the
    machine it says it is for (with a target: exit 1 when that is not the target's, so a
    script pairs images with targets before it boots any)."""
    target = load(args.target) if args.target else None  # a bad name: said before the listing
    payload = from_user(Path(args.image))
    lo, hi = payload.loader.span
    print(
        f"{payload.elf}: elfloader [{lo:#x}..{hi:#x}), entry {payload.loader.entry:#x}, "
        f"archive {payload.archive_bytes} bytes, hand-off contract '{payload.contract}'"
    )
    print("  members: " + ", ".join(f"{m.name} ({m.data.size} bytes)" for m in payload.members))
    for img in payload.images:
        print(
            f"  image '{img.name}': entry {img.entry:#x} (physical {img.entry_paddr:#x}), {len(img.segments)} PT_LOADs"
        )
        for s in img.segments:
            print(
                f"    [{s.index}] paddr={s.paddr:#012x} vaddr={s.vaddr:#x} filesz={s.filesz:<10} "
                f"memsz={s.memsz:<10} {s.flag_str:3} crc32={s.crc32:#010x}"
            )
    for h in payload.hashes:
        print(
            f"  hash member '{h.member}' ({h.algorithm}) for '{h.covers}': "
            f"{'matches' if h.ok else 'MISMATCH'}: {h.describe()}"
        )
    found = platform_of(payload)
    print(
        f"  platform: machine {found.describe()}, as {found.evidence} says"
        if found
        else "  platform: the image does not say (no known kernel.dtb board, no known UART driver)"
    )
    if target is None:
        return 0
    try:
        check_platform(payload, target)
    except HarnessError as exc:
        print(f"not for target '{target.name}': {exc}")
        return 1
    print(f"fits target '{target.name}' (machine '{target.machine}')" + ("" if found else ": no claim to refuse"))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="harness", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("doctor", help="list what is missing and the command that fixes it")
    ins = sub.add_parser("inspect", help="list the images and segments inside an elfloader image")
    ins.add_argument("image")
    ins.add_argument(
        "--target",
        metavar="NAME",
        help="also say whether the image is for this target's machine (exit 1 when the image says it is not)",
    )
    b = sub.add_parser("build", help="build reference images")
    b.add_argument("--machine", default="virt", choices=["virt", "imx8mp", "all"])
    b.add_argument("--default", action="store_true", help="the good variants of every mode, all machines")
    b.add_argument("--quiet", action="store_true")
    for sp in (b, bt := sub.add_parser("boot", help="boot one image and print its phase summary")):
        sp.add_argument("--mode", default="early-mmu", choices=[*MODES, "fallback"])
        sp.add_argument("--bug", default="none", choices=BUGS, help="negative control to build in")
        sp.add_argument("--blob-mib", type=float, default=1.0, help="size of the probe's random blob")
    options.register(bt.add_argument)  # the options pytest has too (harness/options.py)
    bt.add_argument(
        "--dry-run",
        action="store_true",
        help="print a command that runs this boot by hand (console on the "
        "terminal; U-Boot targets: the commands to type) and stop",
    )
    bt.add_argument(
        "--verify",
        action="store_true",
        help="stop at the kernel entry and compare memory with the ELF images (gdbstub + QMP)",
    )
    bt.add_argument(
        "--early-map",
        action="store_true",
        help="stop where the loader turns its MMU on, walk its page tables and check "
        "that no carve-out of the target (memory_map.carve_outs) and nothing "
        "outside DRAM but the UART page is mapped Normal (QEMU targets that "
        "start the loader directly)",
    )
    bt.add_argument(
        "--until",
        choices=["verdict", "handoff"],
        default="verdict",
        help="end the boot at the kernel's verdict (default) or at the hand-off "
        "(enough for --coherence / --verify; the kernel check then skips)",
    )
    for sp in (
        bt,
        rp := sub.add_parser(
            "repro", help="rerun exactly the boot a result records and say whether the outcome is the same"
        ),
    ):
        sp.add_argument(
            "--interactive",
            action="store_true",
            help="the console on this terminal too (Ctrl-] detaches and powers off)",
        )
        sp.add_argument(
            "--gdb",
            action="store_true",
            help="gdbstub on 127.0.0.1, the guest held at the loader entry; prints "
            "the gdb-multiarch command (QEMU targets started directly)",
        )
    rp.add_argument("result", metavar="RESULT", help="a result folder, its result.json, or JUNIT.xml::TEST")
    options.register(rp.add_argument, only=("--results", "--history"))
    sel4_cli.add_parser(sub)
    mutate_cli.add_parser(sub)
    history_cli.add_parsers(sub)
    args = p.parse_args(argv)
    if args.cmd == "build" and args.default:
        args.machine = "all"
    try:
        if args.cmd in ("boot", "repro"):  # the shared options, checked as pytest checks them
            options.validate(args)
        if args.cmd == "doctor":
            return doctor.report()
        if args.cmd == "build":
            return cmd_build(args)
        if args.cmd == "inspect":
            return cmd_inspect(args)
        if args.cmd == "sel4":
            return sel4_cli.run(args)
        if args.cmd == "mutate":
            return mutate_cli.run(args)
        if args.cmd in ("history", "compare", "report"):
            return history_cli.run(args)
        if args.cmd == "repro":
            return cmd_repro(args)
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

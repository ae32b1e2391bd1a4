"""The U-Boot command sequence: what is typed at the prompt, as pure functions.

A target's `harness.uboot` section (network set-up, transport, load address,
FIT configuration, fdt) decides the commands a boot sends: set-up, the TFTP
transfer or `load mmc`, `bootm ADDR[#conf] - ${fdtcontroladdr}` or `bootelf -p ADDR`. They are kept free of any
console, lab or file so they are unit-tested for every U-Boot target, and the
same text serves `--dry-run` (`dry_run_text`) and the live strategy: what a
dry run prints is what a boot types.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Mapping

from ..errors import HarnessError
from ..images.package import Package
from ..targets import UBOOT_TEMPLATE, Target, UBoot
from .placement import Placement

TEMPLATE = UBOOT_TEMPLATE


# -- the command sequence (pure: unit-tested for every U-Boot target) ---------


def render(text: str, environ: Mapping[str, str] | None = None, field: str = "harness.uboot.setup") -> str:
    """Expand `{{NAME}}` from the environment (U-Boot keeps its own `${var}`)."""
    env = os.environ if environ is None else environ

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            raise HarnessError(
                f"'{{{{{name}}}}}' is not set in the environment",
                field=field,
                fix=f"export {name}=... (see docs/lab.md)",
            )
        return env[name]

    return TEMPLATE.sub(value, text)


def template_names(target: Target) -> list[str]:
    """Environment variables the target's U-Boot commands need."""
    return target.uboot.template_names() if target.uboot else []


def command_parts(
    target: Target, image: str, where: Placement, environ: Mapping[str, str] | None = None
) -> tuple[list[str], str | None, str]:
    """(setup commands, transfer command or None, boot command) for `image` staged at
    `where` (placement.place: the package's first byte)."""
    u = _uboot(target)
    setup = [render(c, environ) for c in u.setup] + tftp_settings(u)
    if u.package == "elf":
        setup.append("setenv autostart yes")  # else bootelf copies the segments and returns
    transfer = {"tftp": f"tftpboot {where.addr:#x} {image}", "mmc": f"load mmc {u.mmc} {where.addr:#x} {image}"}.get(
        u.transport
    )
    if u.package == "elf":
        # -p: the program headers (physical addresses), as the loader is linked; bootelf
        # passes no FDT (x0 is argc) and leaves U-Boot's MMU and caches on.
        return setup, transfer, f"bootelf -p {where.addr:#x}"
    spec = f"{where.addr:#x}" + (f"#{u.fit_config}" if u.package == "fit" else "")
    boot = f"bootm {spec} - {u.fdt}" if u.fdt else f"bootm {spec}"
    return setup, transfer, boot


def tftp_settings(u: UBoot) -> list[str]:
    """`setenv tftpblocksize N` / `setenv tftpwindowsize N` for what the target sets: the
    last set-up commands, so nothing the target's own set-up does overrides them."""
    return [
        f"setenv {name} {value}"
        for name, value in (("tftpblocksize", u.tftp_block_size), ("tftpwindowsize", u.tftp_window))
        if value is not None
    ]


def command_sequence(
    target: Target, image: str, where: Placement, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Every command sent at the U-Boot prompt, in order."""
    setup, transfer, boot = command_parts(target, image, where, environ)
    return setup + ([transfer] if transfer else []) + [boot]


def _uboot(target: Target) -> UBoot:
    if target.uboot is None:
        raise HarnessError(
            "not a U-Boot target",
            file=target.path,
            field="harness.uboot",
            fix="add a 'uboot:' section and 'boot: uboot'",
        )
    return target.uboot


def tftp_text(u: UBoot) -> str:
    """What the transfer asks the server for, in words (the server may grant less)."""
    block = (
        f"{u.tftp_block_size}-byte blocks (tftpblocksize)"
        if u.tftp_block_size is not None
        else "U-Boot's own block size (1468 bytes unless the board's environment says)"
    )
    if u.tftp_window is None:
        window = (
            "U-Boot's own window (lock-step, one block per round trip, RFC 1350, unless "
            "the board's environment sets tftpwindowsize)"
        )
    elif u.tftp_window == 1:
        window = "lock-step (one block per round trip, RFC 1350)"
    else:
        window = (
            f"window of {u.tftp_window} blocks per acknowledgement (tftpwindowsize, "
            f"RFC 7440; lock-step where U-Boot or the server lacks it)"
        )
    return f"{block}, {window}"


def _placeholders(target: Target) -> dict[str, str]:
    """The environment, with `{{NAME}}` left in place for what is not set (dry runs)."""
    env = dict(os.environ)
    for name in template_names(target):
        env.setdefault(name, "{{" + name + "}}")
    return env


def dry_run_text(
    target: Target, pkg: Package, image: str, where: Placement, qemu: str | None = None, tftp_root: str | None = None
) -> str:
    """What a boot would do, without doing it.

    With QEMU (`qemu`: the standalone command, qemu.command.standalone) the text is a
    shell script a person pastes: the package linked into the TFTP folder QEMU
    serves, then QEMU with the console on the terminal; the U-Boot steps are
    comments to follow at the prompt. For a board: the package and the commands
    to type at its prompt, one per line."""
    u = _uboot(target)
    commands = command_sequence(target, image, where, _placeholders(target))
    what = f"{pkg.kind} {pkg.path} ({pkg.size} bytes; load {pkg.load:#x}, entry {pkg.entry:#x}"
    what += f"; {u.fit_config}, hashes {', '.join(pkg.hashes)})" if pkg.kind == "fit" else ")"
    out = [f"# package: {what}", f"# {where.describe(pkg)}"]
    if u.transport == "mmc":
        out.append(
            f"# read by `load mmc {u.mmc}` as '{image}' from the card's FAT partition"
            + (" (QEMU: the SD card image the harness writes, on -drive if=sd)" if qemu else "")
        )
    if u.transport == "tftp":
        out.append(
            f"# served by TFTP as '{image}'"
            + (f" from {tftp_root}" if tftp_root else " (prefixed with the exporter's TFTPProvider 'external' path)")
        )
        out.append(f"# TFTP: {tftp_text(u)}")
    if qemu is None:
        out.append(
            f"# U-Boot: interrupt autoboot ('{u.autoboot}') with {u.interrupt!r}, wait for "
            f"the prompt {u.prompt!r}, resync, then send:"
        )
        return "\n".join(out + commands)
    if u.transport == "tftp" and tftp_root:
        out += [
            f"mkdir -p {shlex.quote(tftp_root)}",
            f"ln -sfn {shlex.quote(str(pkg.path.resolve()))} {shlex.quote(str(Path(tftp_root) / image))}",
        ]
    key = "press Enter" if u.interrupt in ("\n", "\r") else f"type {u.interrupt!r}"
    out.append(
        f"# The console is this terminal; Ctrl-A X quits QEMU. At '{u.autoboot}' {key}, "
        f"then type at the prompt {u.prompt!r}:"
    )
    out += [f"#   {c}" for c in commands]
    out.append(qemu)
    return "\n".join(out)

"""Build a mutant for one target: a patch on top of the early-MMU series (sel4), or an
edited copy of images/ built with the same Makefile (reference).

Everything a mutant needs is written under build/mutate/ (patches, the edited
copies, their objects); the repository's own images/ and patches/ are never
touched. A build that fails is a stillborn mutant, not a kill.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from pathlib import Path

from ..errors import HarnessError
from ..images.build import IMAGES, Build, build, build_root
from ..payload import Payload, from_build
from ..sel4.build import build as sel4_build
from ..sel4.config import Sel4Config, for_target
from ..sel4.sources import sync_tree
from ..targets import Target
from .generate import Mutant, source_text
from .source import Subject


class Stillborn(Exception):
    """The mutant does not build: not scored."""


def mutate_root() -> Path:
    return build_root() / "mutate"


def slug(ident: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", ident)


def sel4_config(target: Target, patch: Path | None, early_mmu: bool = True, clean: str | None = None) -> Sel4Config:
    """The sel4test build for the target: stock, the series, or the series + one patch
    (built with the close method whose code it changes)."""
    cfg = for_target(target.machine, target.expect_el)
    if isinstance(cfg, str):
        raise HarnessError(
            cfg, file=target.path, field="harness.machine", fix="mutate real seL4 on qemu-virt or qemu-virt-el2"
        )
    return dataclasses.replace(
        cfg, early_mmu=early_mmu, extra_patches=(patch,) if patch else (), early_mmu_clean=clean if early_mmu else None
    )


def write_patch(m: Mutant, subject: Subject) -> Path:
    path = mutate_root() / "patches" / f"{slug(m.id)}.patch"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = m.patch(source_text(subject, m.path))
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def sel4_payload(m: Mutant | None, subject: Subject | None, target: Target, early_mmu: bool = True) -> Payload:
    """sel4test with the mutant's patch after the series (None: the clean series, or
    with early_mmu=False the stock loader): an elfloader rebuild in the target's build."""
    patch = write_patch(m, subject) if m is not None and subject is not None else None
    try:
        clean = m.clean if m is not None else None
        return sel4_build(sel4_config(target, patch, early_mmu, clean), log=lambda _: None).payload()
    except HarnessError as exc:
        if patch is None:
            raise
        raise Stillborn(_short(str(exc))) from None


def _short(text: str, lines: int = 6) -> str:
    keep = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in keep if "error" in ln.lower()]
    return " | ".join((errors or keep)[:lines])


def reference_copy(m: Mutant | None, subject: Subject) -> Path:
    """A copy of images/ with the mutant's edit (None: unedited), under build/mutate/;
    synced file by file, so a change in images/ since the last run reaches it too."""
    name = slug(m.id) if m is not None else "unedited"
    dest = mutate_root() / "reference" / name / "images"
    sync_tree(IMAGES, dest)
    if m is not None:
        target, text = dest / m.path, m.apply(source_text(subject, m.path))
        if target.read_text() != text:
            target.write_text(text)
    return dest


# A device tree for the reference archive: the loader copies a kernel.dtb member and cleans
# its copy (main.c plan_dtb / build_clean_ranges), code a DTB-less archive never reaches.
MUTATION_DTS = """/dts-v1/;
/ {
\tmodel = "harness mutation run";
\t#address-cells = <2>;
\t#size-cells = <2>;
\tchosen { bootargs = "mutation run: the loader copies and cleans this tree"; };
};
"""


def mutation_dtb() -> Path:
    """The DTB the reference mutants' archive carries (dtc, written once)."""
    out = mutate_root() / "kernel.dtb"
    dts = out.with_suffix(".dts")
    if not out.exists() or not dts.exists() or dts.read_text() != MUTATION_DTS:
        dts.parent.mkdir(parents=True, exist_ok=True)
        dts.write_text(MUTATION_DTS)
        proc = subprocess.run(
            ["dtc", "-I", "dts", "-O", "dtb", "-o", str(out), str(dts)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise HarnessError(
                f"dtc failed: {proc.stderr.strip()}", file=dts, fix="install device-tree-compiler ('make setup')"
            )
    return out


def reference_payload(m: Mutant | None, subject: Subject, target: Target) -> Payload:
    """The reference loader in early-MMU mode from an edited copy of images/, with an
    archive of the standard probe kernel and a kernel.dtb (so the DTB copy and its
    clean run too)."""
    from ..images.build import Variant

    variant = Variant(machine=target.machine, mode="early-mmu", uart_base=target.console_uart)
    probe = build(variant).probe
    base = build(variant, members=[("kernel.elf", probe), ("kernel.dtb", mutation_dtb())], tag="mutation-dtb")
    src = reference_copy(m, subject)
    out = src.parent / f"out-{target.machine}"
    cmd = [
        "make",
        "-s",
        "-C",
        str(src),
        "elfloader",
        f"OUT={out}",
        f"MACHINE={target.machine}",
        "MODE=early-mmu",
        "BUG=none",
        f"ARCHIVE={base.archive}",
        "CONSOLE=harness",
    ]
    if target.console_uart is not None:
        cmd.append(f"UART_BASE={target.console_uart:#x}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        if m is None:
            raise HarnessError(
                f"the unedited copy of images/ does not build: {_short(proc.stderr)}",
                file=src,
                fix="run 'make -C images help' and fix the build",
            )
        raise Stillborn(_short(proc.stdout + proc.stderr))
    built = Build(variant, out / "elfloader.elf", out / "elfloader.Image", base.probe, base.archive)
    return from_build(built, target.image_format)

"""Which machine an elfloader image is for, read from the image before power-on.

A loader built for another SoC writes its banner to a UART the target does not
have: the boot would wait out the loader timeout and blame the infrastructure.
The image says what it is for, so a wrong pairing is refused before power-on:

* seL4's elfloader archives the kernel's device tree (`kernel.dtb`): its root
  `compatible` names the board (`linux,dummy-virt`, `fsl,imx8mp-evk` + `fsl,imx8mp`);
* our reference loader links one UART driver, whose source file's symbol
  (`uart_pl011.c`, `uart_imx.c`) names the machine.

Evidence that is missing, unreadable, unknown or self-contradictory makes no
claim: an image is never refused on a guess.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import HarnessError
from ..sel4.config import PLATFORMS

if TYPE_CHECKING:
    from ..payload import Payload
    from ..targets import Target

#: A device tree's root `compatible` entry -> the targets' `harness.machine`.
#: SoC-level entries too, so a board's own tree (e.g. a Verdin module) is recognised.
COMPATIBLE_MACHINES = {"linux,dummy-virt": "virt", "fsl,imx8mp-evk": "imx8mp", "fsl,imx8mp": "imx8mp"}
#: The reference loader's UART driver, by its source file's STT_FILE symbol.
UART_SOURCES = {"uart_pl011.c": "virt", "uart_imx.c": "imx8mp"}
#: What each machine is, for people.
MACHINE_NAMES = {"virt": "QEMU virt", "imx8mp": "i.MX8M Plus"}

FDT_MAGIC = 0xD00DFEED
FDT_BEGIN_NODE, FDT_END_NODE, FDT_PROP, FDT_NOP = 1, 2, 3, 4
_HEADER = struct.Struct(">8I")  # magic, totalsize, off_dt_struct, off_dt_strings, ...
MAX_DTB = 8 << 20  # a kernel DTB larger than this is not read


@dataclass(frozen=True)
class Platform:
    """The machine an image is for, and what in the image says so."""

    machine: str  # a targets' `harness.machine` (virt | imx8mp)
    evidence: str  # e.g. "kernel.dtb compatible 'fsl,imx8mp-evk'"

    def describe(self) -> str:
        return f"'{self.machine}' ({MACHINE_NAMES.get(self.machine, self.machine)})"


def root_compatible(blob: bytes) -> tuple[str, ...]:
    """The root node's `compatible` strings of a flattened device tree; () when the
    blob is not one, is truncated, or its root has no such property."""
    try:
        magic, _total, off_struct, off_strings = _HEADER.unpack_from(blob)[:4]
        if magic != FDT_MAGIC:
            return ()
        pos, depth = off_struct, 0
        while pos + 4 <= len(blob):
            token = struct.unpack_from(">I", blob, pos)[0]
            pos += 4
            if token == FDT_NOP:
                continue
            if token == FDT_BEGIN_NODE and depth == 0:  # the root: its name is ""
                pos = _aligned(blob.index(b"\0", pos) + 1)
                depth = 1
            elif token == FDT_PROP and depth == 1:
                size, name_off = struct.unpack_from(">II", blob, pos)
                start = pos + 8
                name = blob[off_strings + name_off : blob.index(b"\0", off_strings + name_off)]
                if name == b"compatible":
                    value = blob[start : start + size]
                    if len(value) != size:
                        return ()
                    return tuple(s.decode("ascii", "replace") for s in value.split(b"\0") if s)
                pos = _aligned(start + size)
            else:  # a child node, the root's end, or garbage: the root's properties are over
                return ()
    except (struct.error, ValueError):
        return ()
    return ()


def _aligned(pos: int) -> int:
    return (pos + 3) & ~3


def _from_dtb(payload: "Payload") -> Platform | None:
    try:
        members = payload.members
    except HarnessError:
        return None  # no archive to read: the loader will say what it makes of it
    for m in members:
        if m.name.endswith(".dtb") and m.data.size <= MAX_DTB:
            compatible = root_compatible(m.data.read())
            machines = {COMPATIBLE_MACHINES[c] for c in compatible if c in COMPATIBLE_MACHINES}
            if len(machines) == 1:
                return Platform(machines.pop(), f"{m.name} compatible '{compatible[0]}'")
    return None


def _from_uart(payload: "Payload") -> Platform | None:
    try:
        symbols = payload.loader.symbols
    except HarnessError:
        return None
    found = {(src, machine) for src, machine in UART_SOURCES.items() if src in symbols}
    if len({machine for _, machine in found}) != 1:
        return None  # no driver symbol (stripped, or seL4's loader), or both: no claim
    src, machine = found.pop()
    return Platform(machine, f"the loader's UART driver {src}")


def platform_of(payload: "Payload") -> Platform | None:
    """The machine `payload` is for, or None when the image does not tell (or its
    evidence disagrees with itself)."""
    claims = [p for p in (_from_dtb(payload), _from_uart(payload)) if p is not None]
    if len({p.machine for p in claims}) != 1:
        return None
    return claims[0]


def targets_for(machine: str) -> list[str]:
    """The target names whose machine is `machine`, QEMU first (files that do not load are
    left out)."""
    from ..targets import available, load

    found = []
    for name in available():
        try:
            target = load(name)
        except HarnessError:
            continue
        if target.machine == machine:
            found.append((target.remote, name))
    return [name for _, name in sorted(found)]  # QEMU targets first, then boards


def _build_hint(payload: "Payload", machine: str) -> str:
    if payload.contract == "sel4":
        platform = next((p for p, v in PLATFORMS.items() if v["machine"] == machine), None)
        if platform is not None:
            return f"harness sel4 build --platform {platform}"
    return f"harness build --machine {machine}"


def check_platform(payload: "Payload", target: "Target") -> Platform | None:
    """Refuse, before power-on, an image the image itself says is for another machine
    than the target's; return what the image says (None: it does not say)."""
    found = platform_of(payload)
    if found is None or found.machine == target.machine:
        return found
    names = targets_for(found.machine)
    use = (
        f"boot it with --target {names[0]}" + (f" (or {', '.join(names[1:])})" if names[1:] else "")
        if names
        else f"boot it on a target whose machine is '{found.machine}'"
    )
    raise HarnessError(
        f"the image is for machine {found.describe()}, as {found.evidence} says, but target "
        f"'{target.name}' is machine '{target.machine}' "
        f"({MACHINE_NAMES.get(target.machine, target.machine)}): the loader would talk to a "
        f"console this target does not have",
        file=payload.elf,
        field="platform",
        fix=f"{use}, or build the image for {target.machine} ({_build_hint(payload, target.machine)})",
    )

"""A target's memory map: its DRAM and the carve-outs inside it that its firmware keeps.

On an i.MX8M Plus the firmware keeps DRAM for itself (OP-TEE behind the TZASC). A loader
that maps such a carve-out Normal cacheable lets the core fetch into it speculatively: an
external abort on the board, nothing at all on QEMU. So a target says where its carve-outs
are, each with the source of its figure, and the `early-map` check holds the loader's page
tables to them. Errors name the file, the field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HarnessError

PAGE = 1 << 12  # the early maps' smallest unit: a carve-out must be whole pages

# Each machine's console UART (images/machines/*.mk UART_BASE; tests/test_memory_map.py keeps
# the two in step): the one page outside DRAM a loader's early map has reason to map.
MACHINE_CONSOLE_UART = {"virt": 0x09000000, "imx8mp": 0x30890000}


@dataclass(frozen=True)
class CarveOut:
    """DRAM the firmware keeps: [base, base + size), and where the figure comes from."""

    name: str
    base: int
    size: int
    source: str

    @property
    def end(self) -> int:
        return self.base + self.size

    def describe(self) -> str:
        return f"carve-out '{self.name}' [{self.base:#x}..{self.end:#x})"


@dataclass(frozen=True)
class MemoryMap:
    dram_base: int
    dram_size: int
    carve_outs: tuple[CarveOut, ...] = ()

    @property
    def dram_end(self) -> int:
        return self.dram_base + self.dram_size


FIELDS = ("name", "base", "size", "source")
EXAMPLE = (
    "carve_outs: [{name: optee, base: 0x56000000, size: 0x2000000, "
    "source: 'imx-atf plat/imx/imx8m/imx8mp/platform.mk BL32_BASE/BL32_SIZE'}]"
)


def _number(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ValueError("not a number")
    n = v if isinstance(v, int) else int(v.replace("_", ""), 0)
    if n < 0:
        raise ValueError("negative")
    return n


def _carve_out(path: Path, where: str, item: Any) -> CarveOut:
    if not isinstance(item, dict):
        raise HarnessError(
            "must be a mapping", file=path, field=where, fix="write {name: ..., base: 0x..., size: 0x..., source: ...}"
        )
    extra = sorted((str(k) for k in item if k not in FIELDS))
    if extra:
        raise HarnessError(
            f"unknown field '{extra[0]}'",
            file=path,
            field=f"{where}.{extra[0]}",
            fix=f"remove it or use one of: {', '.join(FIELDS)}",
        )
    missing = [k for k in FIELDS if k not in item]
    if missing:
        raise HarnessError("missing", file=path, field=f"{where}.{missing[0]}", fix=f"add '{missing[0]}:' ({EXAMPLE})")
    for key in ("name", "source"):
        if not isinstance(item[key], str) or not item[key].strip():
            raise HarnessError(
                f"bad value {item[key]!r}: must be a non-empty string",
                file=path,
                field=f"{where}.{key}",
                fix="name the region (optee)"
                if key == "name"
                else "say where the figure comes from (a config file and its variable, or what to read on the board)",
            )
    values = {}
    for key in ("base", "size"):
        try:
            values[key] = _number(item[key])
        except (TypeError, ValueError) as exc:
            raise HarnessError(
                f"bad value {item[key]!r}: {exc}",
                file=path,
                field=f"{where}.{key}",
                fix="give a byte address or size, e.g. 0x56000000",
            ) from None
    if values["size"] == 0:
        raise HarnessError(
            "size 0: an empty carve-out excludes nothing",
            file=path,
            field=f"{where}.size",
            fix="give the region's size in bytes, or remove it",
        )
    for key in ("base", "size"):
        if values[key] % PAGE:
            raise HarnessError(
                f"{key} {values[key]:#x} is not a multiple of 4 KiB: a page map cannot leave out part of a page",
                file=path,
                field=f"{where}.{key}",
                fix="round the base down and the end up to 4 KiB",
            )
    return CarveOut(item["name"].strip(), values["base"], values["size"], item["source"].strip())


def parse_carve_outs(path: Path, prefix: str, value: Any, dram_base: int, dram_size: int) -> tuple[CarveOut, ...]:
    """The `carve_outs:` list of a memory map, each inside DRAM and none overlapping."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise HarnessError("must be a list", file=path, field=prefix, fix=EXAMPLE)
    dram_end = dram_base + dram_size
    out: list[CarveOut] = []
    for i, item in enumerate(value):
        where = f"{prefix}[{i}]"
        c = _carve_out(path, where, item)
        dram = f"DRAM [{dram_base:#x}..{dram_end:#x})"
        if c.end <= dram_base or c.base >= dram_end:
            raise HarnessError(
                f"{c.describe()} lies outside {dram}",
                file=path,
                field=f"{where}.base",
                fix="a carve-out is DRAM the firmware keeps: fix base, or leave "
                "memory outside DRAM (OCRAM, BL31's) out of carve_outs",
            )
        if c.base < dram_base or c.end > dram_end:
            edge = "start" if c.base < dram_base else "end"
            raise HarnessError(
                f"{c.describe()} crosses the {edge} of {dram}",
                file=path,
                field=f"{where}.{'base' if edge == 'start' else 'size'}",
                fix="clip it to DRAM, or fix dram_base/dram_size",
            )
        same = next((o for o in out if o.name == c.name), None)
        if same is not None:
            raise HarnessError(
                f"a second carve-out named '{c.name}'",
                file=path,
                field=f"{where}.name",
                fix="give each carve-out its own name",
            )
        clash = next((o for o in out if o.base < c.end and c.base < o.end), None)
        if clash is not None:
            raise HarnessError(
                f"{c.describe()} overlaps {clash.describe()}",
                file=path,
                field=f"{where}.base",
                fix="merge the two into one carve-out, or fix the figures",
            )
        out.append(c)
    return tuple(sorted(out, key=lambda c: c.base))

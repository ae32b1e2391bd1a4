"""What the console lines mean: seL4's human lines and our `@h` records.

One parser for both loaders. Human lines are matched with seL4's exact texts
(both hand-off forms); `@h KIND key=value ... word` lines are split into a
record. Patterns can be overridden per target (`harness.phases` in the YAML)
for forks that print slightly different text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from .errors import HarnessError

PREFIX = "@h "

# Event name -> regex. Named groups become the event's fields.
DEFAULT_PATTERNS: dict[str, str] = {
    "uboot.banner": r"^U-Boot (?P<version>\d{4}\.\d\d\S*)",
    "uboot.autoboot": r"Hit any key to stop autoboot",
    # TFTP start, done (bytes), and U-Boot's own rate line ("\t 21.9 MiB/s", print_size:
    # "999 Bytes/s" below 1 KiB/s).
    "uboot.tftp": r"^TFTP from server (?P<server>\S+); our IP address is (?P<ip>\S+)",
    "uboot.loaded": r"^Bytes transferred = (?P<bytes>\d{1,20})(?!\d)",
    "uboot.rate": r"^\s*(?P<rate>\d{1,12}(?:\.\d{1,3})? (?:[KMGT]iB|Bytes)/s)\s*$",
    # `load`/`fatload`/`ext4load` (fs.c): bytes, U-Boot's own milliseconds and rate.
    "uboot.read": r"^(?P<bytes>\d{1,20}) bytes read in (?P<ms>\d{1,12}) ms"
    r"(?: \((?P<rate>\d{1,12}(?:\.\d{1,3})? (?:[KMGT]iB|Bytes)/s)\))?",
    # Legacy images are "Booting", FIT images "Loading" (then booted the same way).
    "uboot.booting": r"^## (?:Booting|Loading) kernel from (?P<format>Legacy Image|FIT Image)",
    "uboot.verify": r"^\s+Verifying (?:Checksum|Hash Integrity) \.\.\. (?P<result>.*)$",
    # bootm's last line, or bootelf's (cmd/elf.c) before it jumps to the ELF's entry
    "uboot.starting": r"^(?:Starting kernel \.\.\.|## Starting application at 0x[0-9a-fA-F]+ \.\.\.)",
    "uboot.error": r"^(?P<text>(?:Wrong Image Format|Bad (?:Data|Header) CRC|Bad Data Hash|"
    r"Bad hash value.*|ERROR: can't get kernel image!|ERROR: new format image overwritten.*|"
    r"TFTP error: .*|Retry count exceeded.*|Bad Linux ARM64 Image magic!|"
    r"Could not find configuration node.*|FDT and ATAGS support not compiled in.*|"
    r"Image too large.*|Unknown command '.*' - try 'help'))",
    "loader.banner": r"^ELF-loader started on CPU: (?P<cpu>.*)$",
    "loader.dtb": r"^(?:  dtb=(?P<dtb>[0-9a-f]+)|No DTB passed in from boot loader\.)$",
    "image": r"^ELF-loading image '(?P<name>[^']+)' to (?P<addr>[0-9a-f]+)$",
    # The loader's own range, the DTB's and each image's: the timeline tells them apart.
    "paddr": r"^\s+paddr=\[(?P<start>[0-9a-f]+)\.\.(?P<end>[0-9a-f]+)\]$",
    "vaddr": r"^\s+vaddr=\[(?P<start>[0-9a-f]+)\.\.(?P<end>[0-9a-f]+)\]$",
    "virt_entry": r"^\s+virt_entry=(?P<entry>[0-9a-f]+)$",
    # Current seL4 form (since Feb 2026) and the older two-line form.
    "handoff": r"^(?:Enabling (?:hypervisor )?MMU and jumping to entry point\.\.\.|"
    r"Jumping to kernel-image entry point\.\.\.)$",
    "handoff.mmu": r"^Enabling (?:hypervisor )?MMU and paging$",
    # The patched (early-MMU) seL4 loader: caches on for the unpack, or why not, and the
    # clean to PoC that closes the cached window before the stock hand-off. The opening and
    # closing lines end with the generic timer (`, CNTPCT <ticks> at <freq> Hz`); the tail is
    # taken whole and read by `timer_stamp`, so a garbled one still leaves the line its event.
    "earlymmu.on": r"^Early MMU: caches on for unpack, DRAM \[(?P<start>[0-9a-f]+)\.\.(?P<end>[0-9a-f]+)\) "
    r"(?P<attrs>[^,]+), UART (?P<uart>[0-9a-f]+) (?P<uart_attrs>[^,\s]+)"
    r"(?:, (?P<timer>.*))?$",
    "earlymmu.off": r"^Early MMU: no page tables \((?P<reason>[^)]*)\), unpacking with the MMU off$",
    "earlymmu.clean": r"^Early MMU: cleaned (?P<ranges>\d+) ranges \((?P<bytes>\d+) bytes\) to PoC"
    r"(?: by (?P<method>VA|set/way))?, MMU and caches off(?:, (?P<timer>.*))?$",
    # Hash builds (-DElfloaderHashInstructions): the digest the archive holds, the one computed.
    "loader.hash": r"^Hash (?P<which>from ELF File|for ELF Input): (?P<hash>[0-9a-f]+)$",
    "loader.error": r"^(?P<text>ERROR: .*|ELF-LOADER: Synchronous exception received:.*|"
    r"We only map 1GiB, but .*)$",
    "loader.abort": r"^abort\(\) called\.$",
    "kernel.bootstrap": r"^Bootstrapping kernel",
    "kernel.userspace": r"^Booting all finished, dropped to user space",
    "kernel.success": r"^All is well in the universe",
    "kernel.failure": r"^\*\*\* FAILURES DETECTED \*\*\*",
}


# The `@h` records the harness reads and the fields it relies on. Probe records
# are keyed by their first word. tests/test_console_lines_sync.py holds the C sources
# to this, so loader, probe and parser cannot drift apart.
SCHEMA: dict[str, frozenset[str]] = {
    "mode": frozenset({"el"}),
    "mark": frozenset({"name", "ticks", "freq"}),
    "image": frozenset({"name", "idx", "entry", "segs"}),
    "seg": frozenset({"image", "idx", "paddr", "filesz", "memsz", "crc32"}),
    "clean": frozenset({"ranges", "bytes", "lines"}),
    "probe entry": frozenset({"el", "sctlr", "mmu", "dcache", "icache", "x0"}),
    "probe seg": frozenset({"idx", "paddr", "size", "crc32", "expected", "skipped"}),
    "probe bss": frozenset({"idx", "paddr", "size", "dirty"}),
    "probe verdict": frozenset({"crc", "bss", "handoff", "table"}),
}


@dataclass(frozen=True)
class Record:
    """A machine-readable `@h` line: `@h seg image=kernel idx=0 ... ok`."""

    kind: str
    fields: Mapping[str, str]
    words: tuple[str, ...] = ()
    t_ns: int = 0

    def int(self, key: str) -> int:
        return int(self.fields[key], 0)

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)


def parse_record(text: str, t_ns: int = 0) -> Record | None:
    """Parse one `@h` line; None for any other line."""
    if not text.startswith(PREFIX):
        return None
    parts = text[len(PREFIX) :].split()
    if not parts:
        return None
    fields: dict[str, str] = {}
    words: list[str] = []
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if sep:
            fields[key] = value
        else:
            words.append(part)
    return Record(parts[0], fields, tuple(words), t_ns)


@dataclass
class Patterns:
    """The compiled event patterns for one target."""

    compiled: dict[str, re.Pattern[str]] = field(default_factory=dict)

    @classmethod
    def for_target(cls, overrides: Mapping[str, str] | None = None) -> "Patterns":
        merged = dict(DEFAULT_PATTERNS)
        for name, rx in (overrides or {}).items():
            if name not in DEFAULT_PATTERNS:
                raise HarnessError(
                    f"unknown phase pattern '{name}'",
                    field=f"harness.phases.{name}",
                    fix=f"use one of: {', '.join(DEFAULT_PATTERNS)}",
                )
            merged[name] = rx
        return cls({k: re.compile(v) for k, v in merged.items()})

    def match(self, text: str) -> tuple[str, dict[str, str]] | None:
        """The first event this line is, with its named groups."""
        for name, rx in self.compiled.items():
            m = rx.search(text)
            if m:
                return name, {k: v for k, v in m.groupdict().items() if v is not None}
        return None

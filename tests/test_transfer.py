"""U-Boot's image load on the timeline: U-Boot's own lines (TFTP's, `load`'s), the harness's
notes of the commands it typed, the load phase, and the summary's lines about it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Sequence

import pytest

from harness.boot import BootResult
from harness.console import ConsoleLine
from harness.load_time import load_band
from harness.phases import Event, Timeline
from harness.profile import load_profile
from harness.result_folder import properties, summary
from harness.targets import load
from harness.transfer import rate_bytes_per_s

pytestmark = pytest.mark.host
MS = 1_000_000

# Debian's U-Boot 2023.01 on QEMU virt, a 6 MB TFTP load (the lines as its console prints them).
TFTP = [
    "U-Boot 2023.01+dfsg-2+deb12u3 (Jun 22 2025 - 08:38:49 +0000)",
    "Hit any key to stop autoboot:  0 ",
    "Using virtio-net#31 device",
    "TFTP from server 10.0.2.2; our IP address is 10.0.2.15",
    "Filename 'f6'.",
    "Load address: 0x50000000",
    "Loading: #################################################################",
    "\t ####################################",
    "\t 17.2 MiB/s",
    "done",
    "Bytes transferred = 6000000 (5b8d80 hex)",
    "## Booting kernel from Legacy Image at 50000000 ...",
    "Starting kernel ...",
    "ELF-loader started on CPU: ARM Ltd. Cortex-A53 r0p4",
]


def timeline(lines: list[str], notes: Sequence[tuple[int, str, dict[str, str]]] = ()) -> Timeline:
    """Lines 10 ms apart, the harness's notes (at the given line index) between them."""
    tl = Timeline(0)
    for i, text in enumerate(lines):
        for at, name, fields in notes:
            if at == i:
                tl.events.append(Event(name, i * 10 * MS - 5 * MS, dict(fields), name))
        tl.feed(ConsoleLine(i * 10 * MS, text))
    return tl


NOTES = [
    (2, "uboot.prompt", {}),  # the prompt, then set-up, then the load command
    (2, "uboot.command", {"command": "setenv serverip 10.0.2.2", "step": "setup"}),
    (2, "uboot.command", {"command": "setenv tftpblocksize 1468", "step": "setup"}),
    (2, "uboot.command", {"command": "setenv tftpwindowsize 16", "step": "setup"}),
    (3, "uboot.command", {"command": "tftpboot 0x50000000 f6", "step": "load"}),
    (11, "uboot.returned", {"command": "tftpboot 0x50000000 f6", "step": "load"}),
    (11, "uboot.command", {"command": "bootm 0x50000000", "step": "boot"}),
]


def test_rate_lines_read_as_u_boot_prints_them() -> None:
    assert rate_bytes_per_s("\t 21.9 MiB/s") == pytest.approx(21.9 * 2**20)
    assert rate_bytes_per_s("2 MiB/s") == 2 * 2**20
    assert rate_bytes_per_s(" 999 Bytes/s") == 999
    assert rate_bytes_per_s("512 KiB/s") == 512 * 1024
    for junk in ("21.9 MB/s", "fast", "1e9 MiB/s", "21.9 MiB"):
        assert rate_bytes_per_s(junk) is None


def test_the_load_is_the_load_command_with_u_boot_s_own_figures() -> None:
    tl = timeline(TFTP, NOTES)
    t = tl.transfer()
    assert t is not None and t.bytes == 6_000_000 and t.command == "tftpboot 0x50000000 f6"
    assert t.command_s == pytest.approx(0.08)  # Enter (line 3 - 5 ms) to the prompt back
    assert t.tftp_s == pytest.approx(0.07)  # `TFTP from server` to `Bytes transferred`
    assert t.rate == "17.2 MiB/s" and t.uboot_clock == "rate line"
    assert t.uboot_s == pytest.approx(6e6 / (17.2 * 2**20))
    assert (t.block_size, t.window) == (1468, 16) and t.server == "10.0.2.2"
    names = [(p.name, round(p.host_s, 3)) for p in tl.phases(0)]
    assert names[:5] == [("firmware", 0.0), ("u-boot", 0.015), ("setup", 0.01), ("load", 0.08), ("bootm", 0.015)]


def test_a_bare_log_keeps_the_load_from_prompt_to_bootm() -> None:
    """Without the harness's notes (a log read back) there is no set-up phase: the load
    runs from the prompt to `## Booting kernel`, and U-Boot's own figures still count."""
    tl = timeline(TFTP, [(2, "uboot.prompt", {})])
    assert [p.name for p in tl.phases(0)][:4] == ["firmware", "u-boot", "load", "bootm"]
    t = tl.transfer()
    assert t is not None and t.command_s is None and t.seconds == pytest.approx(t.uboot_s)


def test_load_from_mmc_is_read_from_u_boot_s_timer() -> None:
    lines = ["U-Boot 2023.01", "6000000 bytes read in 120 ms (47.7 MiB/s)", "Starting kernel ..."]
    notes = [
        (1, "uboot.prompt", {}),
        (1, "uboot.command", {"command": "load mmc 0:1 0x50000000 sel4.img", "step": "load"}),
        (2, "uboot.returned", {"command": "load mmc 0:1 0x50000000 sel4.img", "step": "load"}),
    ]
    t = timeline(lines, notes).transfer()
    assert t is not None and (t.bytes, t.uboot_s, t.uboot_clock, t.rate) == (6_000_000, 0.12, "read", "47.7 MiB/s")
    assert t.command_s == pytest.approx(0.01) and t.tftp_s is None


def test_no_transfer_no_load() -> None:
    """`transport: loader` (QEMU put the package in RAM): set-up runs to bootm, no load."""
    lines = ["U-Boot 2023.01", "## Booting kernel from Legacy Image at 50000000 ...", "Starting kernel ..."]
    notes = [(1, "uboot.prompt", {}), (1, "uboot.command", {"command": "bootm 0x50000000", "step": "boot"})]
    tl = timeline(lines, notes)
    assert tl.transfer() is None and tl.uboot_load() is None
    assert [p.name for p in tl.phases(0)] == ["firmware", "u-boot", "setup", "bootm"]


def _result(tl: Timeline, extras: dict[str, Any]) -> BootResult:
    return BootResult(
        load("qemu-virt-uboot"),
        SimpleNamespace(label="x"),  # type: ignore[arg-type]
        tl,
        [],
        0,
        None,
        extras=extras,
    )


def test_summary_says_the_load_measured_and_modeled() -> None:
    tl = timeline(TFTP, NOTES)
    band = load_band(load_profile("imx8mp-armstone"), 6_000_000)
    r = _result(tl, {"load_model": band})
    text = summary(r)
    line = next(x for x in text.splitlines() if x.startswith("Image load: "))
    assert "6000000 bytes (5.7 MiB) by 'tftpboot 0x50000000 f6' in 0.080 s" in line
    assert "U-Boot's rate line 17.2 MiB/s" in line and "tftpblocksize 1468, tftpwindowsize 16" in line
    # the load is 80 of the 125 ms up to the loader's start (no hand-off in this log)
    assert line.endswith("; 62 % of the boot to the hand-off")
    assert (
        "Modeled board load: modeled load 2.87 s (band 2.7-2.87 s) of 6 MB on imx8mp-armstone, "
        "TFTP 1468-byte blocks, lock-step" in text
    )
    props = properties(r)
    assert props["load_bytes"] == 6_000_000 and props["load_s"] == pytest.approx(0.08)
    assert props["modeled_load_s"] == pytest.approx(band.nominal, abs=1e-6)

"""Console parsing: both seL4 hand-off forms, errors, our `@h` records, CRLF."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.console import ConsoleLine, split_lines
from harness.errors import HarnessError
from harness.phases import Event, Timeline
from harness.console_lines import Patterns, parse_record

pytestmark = pytest.mark.host
DATA = Path(__file__).parent / "data"


def timeline_of(name: str, step_ns: int = 1_000_000) -> Timeline:
    tl = Timeline(0)
    for i, text in enumerate((DATA / name).read_text().splitlines()):
        tl.feed(ConsoleLine(i * step_ns, text))
    return tl


def test_current_sel4_form() -> None:
    tl = timeline_of("sel4-new-form.log")
    banner = tl.first("loader.banner")
    assert banner is not None and banner.fields["cpu"] == "ARM Ltd. Cortex-A53 r0p4"
    assert tl.loader_range == (0x40655000, 0x4095808F)
    assert [(i.name, i.dest, i.paddr, i.virt_entry) for i in tl.images] == [
        ("kernel", 0x40000000, (0x40000000, 0x4023CFFF), 0xFFFFFFFFC0000000),
        ("rootserver", 0x4023F000, (0x4023F000, 0x40634FFF), 0x40E9D8),
    ]
    assert tl.handoff is not None and tl.handoff.text.startswith("Enabling MMU and jumping")
    w = tl.unpack_window()
    # first 'ELF-loading image' is line 7, the hand-off line 15
    assert w is not None and w.ticks is None and (w.start_ns, w.end_ns) == (7_000_000, 15_000_000)
    end = tl.kernel_end()
    assert isinstance(end, Event) and end.name == "kernel.success"
    assert [p.name for p in tl.phases(0)] == ["firmware", "loader", "unpack", "kernel"]


def test_older_two_line_hypervisor_form() -> None:
    tl = timeline_of("sel4-old-form-el2.log")
    mmu = tl.first("handoff.mmu")
    assert mmu is not None and mmu.text == "Enabling hypervisor MMU and paging"
    assert tl.handoff is not None and tl.handoff.text == "Jumping to kernel-image entry point..."
    w = tl.unpack_window()
    # the window closes at the first of the two lines: the copy is over by then
    assert w is not None and w.end_ns == 12_000_000
    assert tl.images[0].vaddr == (0xFFFFFF8040000000, 0xFFFFFF804023CFFF)


def test_loader_error_text_is_kept() -> None:
    tl = timeline_of("sel4-error.log")
    assert tl.errors == ["ERROR: image load address overlaps with ELF-loader!"]
    assert tl.first("loader.abort") is not None and tl.handoff is None


def test_records_and_marks() -> None:
    tl = Timeline(0)
    for i, text in enumerate(
        [
            "@h mode early-mmu el=2",
            "@h mark name=unpack.begin image=kernel ticks=1000 freq=62500000",
            "@h mark name=unpack.end image=kernel ticks=63500 freq=62500000",
            "@h seg image=kernel idx=0 paddr=0x40200000 filesz=4 memsz=8 crc32=0x1",
            "@h probe seg idx=5 paddr=0x40400000 size=16 crc32=0x1 expected=0x2 BAD",
            "@h probe verdict fail crc=1 bss=0 handoff=0",
        ]
    ):
        tl.feed(ConsoleLine(i, text))
    assert tl.mode is not None and tl.mode.words == ("early-mmu",) and tl.mode.get("el") == "2"
    w = tl.unpack_window()
    assert w is not None and w.ticks == 62500 and w.target_s == pytest.approx(0.001)
    seg = tl.one("seg", image="kernel", idx="0")
    assert seg is not None and seg.int("crc32") == 1
    assert tl.verdict is not None and tl.verdict.fields["crc"] == "1"
    assert parse_record("not a record") is None


def test_crlf_and_partial_lines() -> None:
    lines, rest = split_lines("", "\r\nELF-loader started on CPU: X\r\nELF-loading ima")
    assert lines == ["", "ELF-loader started on CPU: X"] and rest == "ELF-loading ima"
    lines, rest = split_lines(rest, "ge 'kernel' to 40000000\r\n")
    assert lines == ["ELF-loading image 'kernel' to 40000000"] and rest == ""


def test_pattern_override_and_unknown_name() -> None:
    p = Patterns.for_target({"handoff": r"^Starting seL4 now$"})
    assert p.match("Starting seL4 now") == ("handoff", {})
    with pytest.raises(HarnessError) as exc:
        Patterns.for_target({"handof": "x"})
    assert "harness.phases.handof" in str(exc.value)

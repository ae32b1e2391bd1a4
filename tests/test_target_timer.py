"""The early-MMU loader's timer field: the unpack window by the target's own clock.

A batching transport (the lab's network serial port) brings the opening and closing
`Early MMU:` lines in one read, so their host stamps are equal; the ticks they carry
still time the window. A garbled or missing field falls back to host stamps and says
so; a clock that runs backwards or changes frequency is an error, never a negative
duration.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.console import ConsoleRecorder
from harness.phases import Timeline
from harness.target_timer import FIELD, TimerStamp, read_stamp, tick_span
from helpers.fakes import ScriptedConsole

pytestmark = pytest.mark.host

ROOT = Path(__file__).resolve().parents[1]
ON = "Early MMU: caches on for unpack, DRAM [40000000..c0000000) Normal WB, UART 9000000 Device-nGnRnE"
CLEAN = "Early MMU: cleaned 5 ranges (6516729 bytes) to PoC by set/way, MMU and caches off"
IMAGES = [
    "ELF-loading image 'kernel' to 40000000",
    "  paddr=[40000000..4023cfff]",
    "ELF-loading image 'rootserver' to 4023f000",
    "  paddr=[4023f000..40624fff]",
]
HANDOFF = "Enabling MMU and paging"


def boot(on_timer: str | None, clean_timer: str | None) -> list[str]:
    """A patched loader's lines, each Early MMU line with the given timer field (or none)."""
    return [
        "ELF-loader started on CPU: ARM Ltd. Cortex-A53 r0p4",
        ON + (f", {on_timer}" if on_timer is not None else ""),
        *IMAGES,
        CLEAN + (f", {clean_timer}" if clean_timer is not None else ""),
        HANDOFF,
    ]


def in_one_read(lines: list[str]) -> Timeline:
    """The lab's case: every line arrives in one console read, one host stamp."""
    rec = ConsoleRecorder(ScriptedConsole(lines, one_chunk=True))
    while rec.poll(0):
        pass
    rec.close()
    tl = Timeline(rec.t0_ns)
    for line in rec.lines:
        tl.feed(line)
    return tl


def test_ticks_time_the_window_when_host_stamps_cannot() -> None:
    tl = in_one_read(boot("CNTPCT 323821 at 62500000 Hz", "CNTPCT 4650394 at 62500000 Hz"))
    w = tl.unpack_window()
    assert w is not None and w.host_s == 0, "one read: the host sees no time pass"
    assert (w.ticks, w.freq, w.clock) == (4650394 - 323821, 62_500_000, "target timer")
    assert w.target_s == pytest.approx((4650394 - 323821) / 62.5e6)
    assert (w.begin, w.end) == (f"{ON}, CNTPCT 323821 at 62500000 Hz", f"{CLEAN}, CNTPCT 4650394 at 62500000 Hz")
    assert tl.seed_window() == w, "no line carries ticks at the first user image: the tick window"
    phases = {p.name: p for p in tl.phases()}
    assert phases["unpack"].target_s == w.target_s and "handoff" in phases
    assert tl.to_json()["unpack_window"]["clock"] == "target timer"


def test_a_line_without_the_field_still_is_its_event() -> None:
    tl = in_one_read(boot(None, None))
    assert tl.first("earlymmu.on") is not None and tl.first("earlymmu.clean") is not None
    w = tl.unpack_window()
    assert w is not None and w.ticks is None and w.begin == IMAGES[0] and w.end == HANDOFF
    assert w.clock.startswith("host stamps (at most ")
    assert w.fallback == f"no '{FIELD}' field in '{ON}'; no '{FIELD}' field in '{CLEAN}'"


@pytest.mark.parametrize(
    "on,clean,says",
    [
        (
            "CNTPCT 32x821 at 62500000 Hz",
            "CNTPCT 4650394 at 62500000 Hz",
            "garbled timer field 'CNTPCT 32x821 at 62500000 Hz' in 'Early MMU: caches on",
        ),
        ("CNTPCT 323821 at 62500000 Hz", None, f"no '{FIELD}' field in '{CLEAN}'"),
        ("CNTPCT 323821 at 62500000 Hz", "CNTPCT 0x46f59a at 62500000 Hz", "(want 'CNTPCT <ticks>"),
    ],
)
def test_a_garbled_or_missing_field_falls_back_to_host_stamps_and_says_so(
    on: str, clean: str | None, says: str
) -> None:
    tl = in_one_read(boot(on, clean))
    for w in (tl.unpack_window(), tl.seed_window()):
        assert w is not None and w.ticks is None and w.target_s is None and not w.error
        assert says in w.fallback, w.fallback
        assert w.clock.startswith("host stamps")
        assert tl.to_json()["unpack_window"]["fallback"] == w.fallback


@pytest.mark.parametrize(
    "on,clean,says",
    [
        (
            "CNTPCT 4650394 at 62500000 Hz",
            "CNTPCT 323821 at 62500000 Hz",
            "the timer went backwards: CNTPCT 323821 at the end is before 4650394 at the start",
        ),
        (
            "CNTPCT 323821 at 62500000 Hz",
            "CNTPCT 4650394 at 1000000 Hz",
            "the timer frequency is 62500000 Hz at the start and 1000000 Hz at the end",
        ),
        ("CNTPCT 323821 at 0 Hz", "CNTPCT 4650394 at 0 Hz", "the timer frequency is 0 Hz"),
    ],
)
def test_a_contradicting_clock_is_an_error_not_a_duration(on: str, clean: str, says: str) -> None:
    w = in_one_read(boot(on, clean)).unpack_window()
    assert w is not None and w.ticks is None and w.target_s is None
    assert w.error.startswith(says), w.error


def test_stamps_and_spans() -> None:
    assert read_stamp("CNTPCT 5 at 10 Hz", "x") == TimerStamp(5, 10)
    assert (
        read_stamp("CNTPCT 5 at 10 Hz trailing", "x")
        == "garbled timer field 'CNTPCT 5 at 10 Hz trailing' in 'x' (want 'CNTPCT <ticks> at <freq> Hz', decimal)"
    )
    span = tick_span(TimerStamp(5, 10), TimerStamp(5, 10))
    assert (span.ticks, span.freq, span.fallback, span.error) == (0, 10, "", "")


def test_the_patch_prints_what_the_parser_reads() -> None:
    """The series' printf formats, filled in, parse with their timer field."""
    series = "".join(p.read_text() for p in sorted((ROOT / "patches" / "seL4_tools" / "early-mmu").glob("0*.patch")))
    timer = re.search(r'printf\(", (CNTPCT %llu at %llu Hz)\\n"', series)
    assert timer is not None, "the series prints no timer field"
    assert timer[1].replace("%llu", "<ticks>", 1).replace("%llu", "<freq>") == FIELD
    for fmt in (
        r"Early MMU: caches on for unpack, DRAM \[%p\.\.%p\) Normal WB, UART %p Device-nGnRnE\"",
        r"Early MMU: cleaned %u ranges \(%zu bytes\) to PoC by %s, MMU and caches off\"",
    ):
        assert re.search(fmt, series), fmt
    tl = in_one_read(boot("CNTPCT 1 at 2 Hz", "CNTPCT 3 at 2 Hz"))
    on, clean = tl.first("earlymmu.on"), tl.first("earlymmu.clean")
    assert on is not None and on.fields["uart_attrs"] == "Device-nGnRnE"
    assert on.fields["timer"] == "CNTPCT 1 at 2 Hz"
    assert clean is not None and clean.fields["method"] == "set/way"
    assert clean.fields["timer"] == "CNTPCT 3 at 2 Hz"

"""Host stamps say how coarse they are: lines that arrive in one console read share a
stamp, and the unpack window is then known only as an upper bound."""

from __future__ import annotations

import pytest

from harness.console import READ_SIZE, ConsoleRecorder
from harness.phases import Timeline
from helpers.fakes import ScriptedConsole

pytestmark = pytest.mark.host

BOOT = [
    "ELF-loader started on CPU: ARM Ltd. Cortex-A53 r0p4",
    "ELF-loading image 'kernel' to 40000000",
    "ELF-loading image 'sel4test-driver' to 40234000",
    "Enabling MMU and paging",
]


def recorded(console: ScriptedConsole) -> ConsoleRecorder:
    rec = ConsoleRecorder(console)
    while rec.poll(0):
        pass
    rec.close()
    return rec


def window_of(rec: ConsoleRecorder) -> Timeline:
    tl = Timeline(rec.t0_ns)
    for line in rec.lines:
        tl.feed(line)
    return tl


def test_lines_in_one_read_have_a_zero_window_with_an_honest_upper_bound() -> None:
    rec = recorded(ScriptedConsole(BOOT, one_chunk=True))
    stamps = {line.t_ns for line in rec.lines}
    assert len(stamps) == 1, "one read, one stamp"
    window = window_of(rec).unpack_window()
    assert window is not None and window.host_s == 0
    first = rec.lines[1]
    assert first.after_ns is not None and first.after_ns < first.t_ns
    assert window.host_max_s == pytest.approx((first.t_ns - first.after_ns) / 1e9)
    assert window.host_max_s > 0


def test_lines_in_separate_reads_bound_each_other() -> None:
    rec = recorded(ScriptedConsole(BOOT))
    for before, line in zip(rec.lines, rec.lines[1:]):
        assert line.after_ns is not None and before.t_ns <= line.after_ns < line.t_ns
    window = window_of(rec).unpack_window()
    assert window is not None and 0 < window.host_s <= window.host_max_s


def test_a_full_read_does_not_advance_the_lower_bound() -> None:
    """A read that filled the buffer may have left older bytes behind: the next line's
    bytes can have come before that read ended."""
    filler = b"x" * (READ_SIZE - 2) + b"\r\n"
    rec = recorded(ScriptedConsole(chunks=[filler, b"Enabling MMU and paging\r\n"]))
    assert rec.lines[0].after_ns == rec.lines[1].after_ns == rec.t0_ns

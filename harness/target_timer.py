"""The target's generic timer as a loader prints it in its human lines.

The early-MMU seL4 loader ends its opening and closing `Early MMU:` lines with
`, CNTPCT <ticks> at <freq> Hz` (CNTPCT_EL0 and CNTFRQ_EL0, decimal). Host stamps
of console lines are only as fine as the transport that brings them (a network
serial port delivers both lines in one read); the ticks are the target's own
clock. A pair of stamps gives a tick window, or says why it cannot: a garbled or
missing field falls back to host stamps and says so; a clock that went
backwards, or two frequencies, is an error, never a negative duration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The field as the patch prints it (after the line's last `, `).
FIELD = "CNTPCT <ticks> at <freq> Hz"
_FIELD_RE = re.compile(r"^CNTPCT (?P<ticks>\d{1,20}) at (?P<freq>\d{1,20}) Hz$")


@dataclass(frozen=True)
class TimerStamp:
    """One reading of the generic timer: its count and the frequency it runs at."""

    ticks: int
    freq: int


@dataclass(frozen=True)
class TickSpan:
    """What two timer fields give: ticks and frequency, or why host stamps must do
    (`fallback`), or a contradiction in the target's own clock (`error`)."""

    ticks: int | None = None
    freq: int | None = None
    fallback: str = ""
    error: str = ""


def read_stamp(field: str | None, line: str) -> TimerStamp | str:
    """The stamp in a line's timer field, or what is wrong with it (naming the line)."""
    if field is None:
        return f"no '{FIELD}' field in '{line}'"
    m = _FIELD_RE.match(field)
    if m is None:
        return f"garbled timer field '{field}' in '{line}' (want '{FIELD}', decimal)"
    return TimerStamp(int(m["ticks"]), int(m["freq"]))


def tick_span(begin: TimerStamp | str, end: TimerStamp | str) -> TickSpan:
    """Ticks from `begin` to `end`, each a stamp or the reason it is not one."""
    if isinstance(begin, str) or isinstance(end, str):
        reasons = [r for r in (begin, end) if isinstance(r, str)]
        return TickSpan(fallback="; ".join(reasons))
    if begin.freq == 0 or begin.freq != end.freq:
        return TickSpan(
            error=f"the timer frequency is {begin.freq} Hz at the start and "
            f"{end.freq} Hz at the end: CNTFRQ_EL0 must be set (non-zero) "
            "once, by the firmware, before the loader runs"
        )
    if end.ticks < begin.ticks:
        return TickSpan(
            error=f"the timer went backwards: CNTPCT {end.ticks} at the end is before "
            f"{begin.ticks} at the start (the counter was reset or written "
            "during the window)"
        )
    return TickSpan(end.ticks - begin.ticks, begin.freq)

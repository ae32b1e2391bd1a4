"""labgrid's step logging must not raise for a console that has not printed yet.

Before harness/labgrid_fixes.py every boot with a silent console (a negative
control, a console whose first reads time out) made labgrid warn "unhandled
exception during event notification" on each later step: the reporter flushed a
line buffer it had never created. pyproject.toml turns that warning into an
error for every suite; this test pins the cause.
"""

from __future__ import annotations

import warnings

import pytest
from labgrid.logging import SerialLoggingReporter
from labgrid.step import Step, StepEvent, steps

import harness.session  # noqa: F401 - installs the fix, as every boot does

pytestmark = pytest.mark.host


class Console:
    """A console as the reporter sees it: hashable, with a target name."""

    class target:  # noqa: N801 - the attribute labgrid reads
        name = "main"


def _event(source: Console, title: str, state: str, result: bytes | None = None) -> StepEvent:
    step = Step(title, 1, "console", source, None)
    step.result = result
    step._start_ts = step._stop_ts = 0.0  # a finished step (no warning when collected)
    return StepEvent(step, {"state": state})


def test_a_silent_console_does_not_break_step_logging() -> None:
    talking, silent = Console(), Console()
    reporter = SerialLoggingReporter()
    steps.unsubscribe(reporter.notify)  # driven by hand here
    reporter.notify(_event(talking, "read", "stop", b"ELF-loader started\r\npartial"))
    reporter.notify(_event(silent, "read", "stop", None))  # a read that timed out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reporter.flush()  # labgrid 26 alone: KeyError(silent)
    assert reporter.bufs[talking] == b"" and reporter.bufs[silent] == b""


def test_the_warning_fails_every_suite(pytestconfig: pytest.Config) -> None:
    assert any(
        "unhandled exception during event notification" in f and f.startswith("error")
        for f in pytestconfig.getini("filterwarnings")
    )

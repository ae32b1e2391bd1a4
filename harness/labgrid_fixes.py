"""A fix for labgrid's step logging that the harness's boots would otherwise trip.

labgrid 26's `SerialLoggingReporter` (started by its pytest plugin through
`StepLogger`) keeps a logger per console and a line buffer per console, but
creates the logger on any console step and the buffer only when a read returns
bytes. `StepLogger` flushes every logger's buffer before each non-console step
once any console has printed. A console that has not printed yet -- a silent
negative control, a fresh QEMUDriver whose first reads timed out -- is then
looked up in the buffers and raises KeyError(driver); labgrid's event loop turns
that into "UserWarning: unhandled exception during event notification:
QEMUDriver(...)" on every later step of the boot. The fix gives every console
an (empty) buffer before a flush, so nothing is lost and nothing is raised.
"""
from __future__ import annotations

from typing import Any, Callable

from labgrid.logging import SerialLoggingReporter

_FIXED = "_harness_buffers_for_every_console"


def install() -> None:
    """Patch `SerialLoggingReporter.flush` once (idempotent): an empty buffer for
    every console that has a logger, then labgrid's own flush."""
    original: Callable[[Any], None] = SerialLoggingReporter.flush
    if getattr(original, _FIXED, False):
        return

    def flush(self: Any) -> None:
        for source in self.loggers:
            self.bufs.setdefault(source, b"")
        original(self)

    setattr(flush, _FIXED, True)
    flush.__doc__ = original.__doc__
    SerialLoggingReporter.flush = flush


install()

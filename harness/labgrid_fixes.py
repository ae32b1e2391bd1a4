"""Where labgrid needs help: its step logging, which the harness's boots would otherwise
trip, and the emptied resources an exporter that died leaves behind (`resources_gone`).

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


# What a lab failure leaves behind in labgrid's view of a place: when an exporter dies
# or goes offline mid-run, labgrid keeps its resources' entries in the target, emptied,
# and later fails on them with a bare KeyError. The boot strategies ask first, so such a
# failure is reported as the lab's (naming the resources), not as the boot's.
def resources_gone(lg_target: Any) -> list[str]:
    """The place's resources its exporter no longer offers (an exporter that died or
    went offline): labgrid keeps their entries, emptied, and fails on them later with
    a bare KeyError. [] for a target without a RemotePlace."""
    gone = []
    for res in getattr(lg_target, "resources", []):
        entry = getattr(res, "_remote_entry", None)
        if entry is None:
            continue
        try:
            offered = bool(entry.avail) and "params" in entry.data
        except (AttributeError, KeyError, TypeError):
            offered = False
        if not offered:
            gone.append(type(res).__name__)
    return gone

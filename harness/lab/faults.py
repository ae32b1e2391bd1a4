"""What a lab failure left behind in labgrid's view of the place.

When an exporter dies or goes offline mid-run, labgrid keeps its resources'
entries in the target, emptied, and later fails on them with a bare KeyError.
The boot strategies ask `resources_gone()` first, so such a failure is reported
as the lab's (an infrastructure problem naming the resources), not as the boot's.
"""
from __future__ import annotations

from typing import Any


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

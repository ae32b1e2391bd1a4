"""The lab: a place on a labgrid coordinator, held for a run; and a virtual lab to test it.

A lab board is reached through labgrid's coordinator: an exporter next to the
board publishes its console, power switch and TFTP root; a *place* groups them;
a run holds the place for its length and releases it however it ends, and the
virtual lab is the same path without hardware, so the lab code is tested on every
machine. One idea per module: `client` (labgrid-client, `LabError`), `host`
(lab processes that die with the run), `lock` (`PlaceLock`), `virtual`
(`VirtualBoard`, `VirtualLab`), `power` (the virtual board's power switch),
`lease` (`lab_session()`, `place_name()`, `missing_environment()`), `cli` (`python -m harness.lab up|pdu`). This package
re-exports their public names (and `resources_gone()` of `harness.labgrid_fixes`), so
`from harness.lab import ...` is the interface.
"""

from __future__ import annotations

from .client import LabClient, LabError, PlaceInfo, identity, tool
from .host import free_port, port_open, spawn, wait_until
from .lock import TAG, WAIT_ENV, PlaceLock
from .virtual import EXPORTER_CONFIG, STATE_ENV, VIRTUAL_EXPORTER, VIRTUAL_PLACE, VirtualBoard, VirtualLab
from .power import serve_power_switch
from ..labgrid_fixes import resources_gone
from .lease import ATTACH_ENV, LabRun, lab_session, missing_environment, place_name, signals_interrupt
from .cli import main

__all__ = [
    "ATTACH_ENV",
    "EXPORTER_CONFIG",
    "STATE_ENV",
    "TAG",
    "VIRTUAL_EXPORTER",
    "VIRTUAL_PLACE",
    "WAIT_ENV",
    "LabClient",
    "LabError",
    "LabRun",
    "PlaceInfo",
    "PlaceLock",
    "VirtualBoard",
    "VirtualLab",
    "free_port",
    "identity",
    "lab_session",
    "main",
    "missing_environment",
    "place_name",
    "port_open",
    "resources_gone",
    "serve_power_switch",
    "signals_interrupt",
    "spawn",
    "tool",
    "wait_until",
]

"""Talking to a labgrid coordinator, through labgrid-client.

Everything the harness asks a coordinator (a place's holder and tags, acquire,
release, the resources an exporter offers) goes through `labgrid-client`, a
stable command-line interface, rather than labgrid's internal gRPC API; this
module is that one channel, the `LabError` every lab module raises when the lab
is not usable, and where the labgrid tools are found (the .venv's first).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import HarnessError


class LabError(HarnessError):
    """The lab is not usable: coordinator unreachable, place missing or held."""


def tool(name: str) -> str:
    """A labgrid tool from this interpreter's environment (the .venv), else PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise LabError(f"'{name}' not found", field="lab", fix="pip install labgrid==26.0.1")
    return found


@dataclass
class PlaceInfo:
    name: str
    acquired: str | None
    tags: dict[str, str] = field(default_factory=dict)


class LabClient:
    """labgrid-client against one coordinator (the CLI: a stable interface)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.exe = tool("labgrid-client")

    def run(
        self, *args: str, place: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> "subprocess.CompletedProcess[str]":
        cmd = [self.exe, "-x", self.address] + (["-p", place] if place else []) + list(args)
        if shutil.which("setpriv"):  # a killed run takes its client calls with it
            cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + cmd
        env = {k: v for k, v in os.environ.items() if k not in ("LG_ENV", "LG_PLACE", "LG_TOKEN")}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            raise LabError(
                f"'labgrid-client {' '.join(args)}' did not answer in {timeout:g} s",
                field="lab",
                fix=f"is the coordinator at {self.address} up?",
            ) from None
        if check and proc.returncode != 0:
            why = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no answer"]
            raise LabError(
                f"'labgrid-client {' '.join(args)}' failed: {why[0]}",
                field="lab",
                fix=f"check the coordinator at {self.address}",
            )
        return proc

    def place(self, name: str) -> PlaceInfo | None:
        proc = self.run("show", place=name, check=False)
        if proc.returncode != 0:
            if "matches nothing" in proc.stderr or "matches nothing" in proc.stdout:
                return None
            why = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no answer"]
            raise LabError(
                f"cannot read place '{name}' at {self.address}: {why[0]}",
                field="lab",
                fix=f"is the coordinator at {self.address} up?",
            )
        acquired: str | None = None
        tags: dict[str, str] = {}
        for line in proc.stdout.splitlines():
            line = line.strip()
            if line.startswith("acquired:"):
                value = line.split(":", 1)[1].strip()
                acquired = None if value in ("", "None") else value
            elif line.startswith("tags:"):
                for pair in line.split(":", 1)[1].split(","):
                    k, _, v = pair.strip().partition("=")
                    if k:
                        tags[k] = v
        return PlaceInfo(name, acquired, tags)


def identity() -> str:
    """`host/user` as labgrid records an acquired place."""
    import getpass

    return f"{os.environ.get('LG_HOSTNAME', socket.gethostname())}/{os.environ.get('LG_USERNAME', getpass.getuser())}"

"""Holding a labgrid place for a run, and releasing it however the run ends.

A test run *acquires* its place (nobody else can use the board meanwhile) and
*releases* it at the end. `PlaceLock` makes the release happen on a normal end,
a failed test or Ctrl-C (its `__exit__`), on SIGTERM/SIGHUP (turned into
KeyboardInterrupt by the lab session) and at interpreter exit (`atexit`). For
SIGKILL, where nothing runs, the lock carries the run's identity — a place tag
`harness_lock=<host>_<pid>_<start>` and a lock record on disk written before the
acquire — and the next start on this host sees that the run is gone and releases
the place before acquiring it. A place held by a live run, or by someone else,
is never taken: the run waits (`HARNESS_LAB_WAIT` seconds) or fails as an
infrastructure problem naming the holder.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import sys
import time
from typing import Any

from ..images.build import build_root
from .client import LabClient, LabError, PlaceInfo, identity
from .host import port_open

WAIT_ENV = "HARNESS_LAB_WAIT"  # seconds to wait for a place someone else holds
TAG = "harness_lock"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else fields[19]
    except (FileNotFoundError, IndexError):
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"


class PlaceLock:
    """Hold a place for this run; release it however the run ends (see the module doc)."""

    def __init__(self, client: LabClient, place: str, wait: float = 0.0, log: Any = None) -> None:
        self.client = client
        self.place = place
        self.wait = wait
        self.held = False
        self.log = log or (
            lambda msg: print(f"harness lab [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
        )
        self.host = identity().split("/")[0]
        self.token = f"{_slug(self.host)}_{os.getpid()}_{_start_time(os.getpid())}"
        self.record = build_root() / "lab" / "locks" / f"{_slug(client.address)}-{_slug(place)}.json"
        self._prune()

    def _prune(self) -> None:
        """Forget lock records of dead runs against virtual labs that are gone (their
        coordinator, and every lock it held, died with them)."""
        for path in self.record.parent.glob("*.json"):
            try:
                data = json.loads(path.read_text())
                host, _, port = str(data["coordinator"]).rpartition(":")
                gone = _start_time(int(data["pid"])) != str(data["start"])
            except (OSError, ValueError, KeyError):
                continue
            if gone and host in ("127.0.0.1", "localhost") and not port_open(int(port)):
                path.unlink(missing_ok=True)

    def __enter__(self) -> "PlaceLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _stale(self, info: PlaceInfo) -> str | None:
        """Why the holder is a harness run on this host that no longer exists (else None)."""
        if info.acquired is None or info.acquired.split("/")[0] != self.host:
            return None  # another host: its pids mean nothing here
        tag = info.tags.get(TAG, "")
        owner: tuple[int, str] | None = None
        if tag:
            parts = tag.rsplit("_", 2)  # <host slug>_<pid>_<start time>
            if len(parts) == 3 and parts[0] == _slug(self.host) and parts[1].isdigit():
                owner = (int(parts[1]), parts[2])
        elif self.record.exists() and info.acquired == identity():
            try:
                data = json.loads(self.record.read_text())
                owner = (int(data["pid"]), str(data["start"]))
            except (ValueError, KeyError):
                owner = None
        if owner is None:
            return None
        pid, start = owner
        if _start_time(pid) == start:
            return None  # that run is alive
        return f"left by harness run pid {pid}, which no longer runs"

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        while True:
            info = self.client.place(self.place)
            if info is None:
                raise LabError(
                    f"no place '{self.place}' on the coordinator {self.client.address}",
                    field="RemotePlace.name",
                    fix=f"labgrid-client -p {self.place} create; add-match ... (docs/lab.md)",
                )
            if not info.acquired:
                break
            why = self._stale(info)
            if why is not None:
                self.log(f"place '{self.place}' was still acquired by {info.acquired}: {why}; releasing it")
                self.client.run("release", "--kick", place=self.place)
                self.client.run("set-tags", f"{TAG}=", place=self.place, check=False)
                self.record.unlink(missing_ok=True)
                continue
            if time.monotonic() >= deadline:
                holder = info.acquired + (f" (harness run {info.tags[TAG]})" if TAG in info.tags else "")
                raise LabError(
                    f"place '{self.place}' is acquired by {holder}",
                    field="lab",
                    fix=f"wait for it, set {WAIT_ENV}=SECONDS to wait, or ask its holder",
                )
            time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))
        # The record first: a run killed right after the acquire is still recognisable.
        self.record.parent.mkdir(parents=True, exist_ok=True)
        self.record.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "start": _start_time(os.getpid()),
                    "place": self.place,
                    "coordinator": self.client.address,
                }
            )
        )
        proc = self.client.run("acquire", place=self.place, check=False)
        if proc.returncode != 0:
            self.record.unlink(missing_ok=True)
            said = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no answer"]
            raise LabError(
                f"acquiring '{self.place}' failed: {said[0]}", field="lab", fix="see labgrid-client's message"
            )
        self.held = True
        atexit.register(self.release)
        self.client.run("set-tags", f"{TAG}={self.token}", place=self.place, check=False)
        self.log(f"acquired place '{self.place}' on {self.client.address}")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            self.client.run("set-tags", f"{TAG}=", place=self.place, check=False, timeout=20)
            proc = self.client.run("release", place=self.place, check=False, timeout=20)
            if proc.returncode == 0:
                self.log(f"released place '{self.place}'")
                return
            said = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no answer"]
            self.log(self._not_released(said[0]))
        except LabError as exc:  # labgrid-client itself hung: say so, never raise here
            self.log(f"could not release place '{self.place}': {exc.what}")
        finally:
            self.record.unlink(missing_ok=True)

    def _not_released(self, said: str) -> str:
        """Why a release failed, and whether the place is held at all."""
        if "connect to coordinator" in said.lower():
            # A coordinator keeps no acquisition across a restart: the lock died with it.
            return (
                f"place '{self.place}': the coordinator {self.client.address} is gone "
                f"({said}); the acquisition ended with it (a coordinator keeps none "
                "across a restart)"
            )
        try:
            info = self.client.place(self.place)
        except LabError:
            info = None
        if info is not None and info.acquired is None:
            return (
                f"place '{self.place}' was no longer acquired (the coordinator restarted "
                "during the run?): nothing left to release"
            )
        return f"could not release place '{self.place}': {said} (the next run releases it: its lock names this run)"

"""What a run needs from a lab, for the length of the run.

`lab_session()` is the one entry point the CLI and the pytest plugin use: it
brings up a virtual lab for a `lab: virtual` target (unless HARNESS_LAB_COORDINATOR
names a running one) or uses LG_COORDINATOR, holds the target's place with a
`PlaceLock` until the end, and turns SIGTERM/SIGHUP into KeyboardInterrupt
meanwhile so that every cleanup runs. `place_name()` reads the target's
RemotePlace and `missing_environment()` lists the variables a lab target needs
and lacks, so a run can refuse before it touches the lab.
"""

from __future__ import annotations

import os
import re
import signal
import string
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..targets import Target
from .client import LabClient, LabError
from .lock import WAIT_ENV, PlaceLock
from .imx8mp_board import TFTP_PORT_ENV
from .virtual import VirtualLab

ATTACH_ENV = "HARNESS_LAB_COORDINATOR"  # use this running coordinator instead of starting a lab
#: What a virtual lab puts in the environment when it starts (after the target is read).
VIRTUAL_LAB_PROVIDES = {TFTP_PORT_ENV}


def place_name(target: Target) -> str:
    """The RemotePlace name in the target's labgrid section, `!template` expanded."""
    main = (target.env.get("targets") or {}).get("main") or {}
    resources = main.get("resources") or {}
    items = (
        resources.items()
        if isinstance(resources, dict)
        else [kv for r in resources if isinstance(r, dict) for kv in r.items()]
    )
    for cls, args in items:
        if cls == "RemotePlace":
            name = str((args or {}).get("name", ""))
            try:
                return string.Template(name).substitute(os.environ)
            except KeyError as exc:
                raise LabError(
                    f"the place name needs ${exc.args[0]}",
                    file=target.path,
                    field="targets.main.resources.RemotePlace.name",
                    fix=f"export {exc.args[0]}=<place>",
                ) from None
    raise LabError(
        "no RemotePlace",
        file=target.path,
        field="targets.main.resources",
        fix="add 'RemotePlace: {name: ...}' (see docs/lab.md)",
    )


def missing_environment(target: Target) -> list[str]:
    """LG_* variables the target's labgrid templates use and U-Boot `{{NAME}}`s that are unset."""
    text = target.path.read_text() if target.path.exists() else ""
    names = set(re.findall(r"!template\s+[\"']?[^\n]*?\$\{?(LG_[A-Z0-9_]+)", text))
    names |= {m for line in text.splitlines() if "!template" in line for m in re.findall(r"\$\{?(LG_[A-Z0-9_]+)", line)}
    names |= set(target.uboot.template_names() if target.uboot else [])
    provided = VIRTUAL_LAB_PROVIDES if target.lab == "virtual" and not os.environ.get(ATTACH_ENV) else set()
    return sorted(n for n in names if n not in os.environ and n not in provided)


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """While the lab is in use, SIGTERM/SIGHUP raise KeyboardInterrupt (so cleanup runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    old = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@dataclass
class LabRun:
    address: str
    place: str
    lab: VirtualLab | None
    lock: PlaceLock


@contextmanager
def lab_session(
    target: Target, log_dir: Path | None = None, say: Callable[[str], None] | None = None
) -> Iterator[LabRun]:
    """Bring up what `target` needs from a lab (a virtual lab for `lab: virtual`, unless
    HARNESS_LAB_COORDINATOR names a running one) and hold its place until the end.
    What happens to the place is told through `say` and appended to `log_dir`/lab.log."""

    def log(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            with open(log_dir / "lab.log", "a") as f:
                f.write(line + "\n")
        (say or (lambda m: print(f"harness lab {m}", file=sys.stderr, flush=True)))(line)

    with ExitStack() as stack:
        stack.enter_context(signals_interrupt())
        lab: VirtualLab | None = None
        attach = os.environ.get(ATTACH_ENV)
        if target.lab == "virtual" and not attach:
            lab = stack.enter_context(VirtualLab(log_dir, place=place_name(target)))
            address = lab.address
        else:
            address = attach or os.environ.get("LG_COORDINATOR", "")
            if not address:
                raise LabError(
                    "no coordinator address",
                    file=target.path,
                    field="LG_COORDINATOR",
                    fix="export LG_COORDINATOR=host:port (the lab's coordinator)",
                )
            os.environ["LG_COORDINATOR"] = address
        place = place_name(target)
        wait = float(os.environ.get(WAIT_ENV, "0") or 0)
        lock = stack.enter_context(PlaceLock(LabClient(address), place, wait, log))
        yield LabRun(address, place, lab, lock)

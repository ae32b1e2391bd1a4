"""Run one elfloader image under the cache model up to its hand-off, nothing more.

The timing model needs only the loader's window, so this starts QEMU with the
plugin, waits for the report the plugin writes at the kernel entry and stops
QEMU: no console protocol, no kernel phase (sel4test's ~30 s are not needed).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ..images.build import build_root
from ..payload import from_user
from ..processes import register, stop
from ..qemu.command import instruction_clock
from . import CoherenceReport, plugin_args, plugin_path
from .start import start_state, warm_ranges
from .window import PluginWindow, window_for

__all__ = ["run_to_handoff", "virt_command"]

VIRT_RAM = (0x40000000, 0x80000000)  # -m 2G, as seL4's own QEMU command


def virt_command(image: Path, el2: bool, qemu: str = "qemu-system-aarch64") -> list[str]:
    """seL4's QEMU command for qemu-arm-virt (EL2: virtualization=on)."""
    machine = "virt,virtualization=on,highmem=off,secure=off" if el2 else "virt"
    return [
        qemu,
        "-machine",
        machine,
        "-cpu",
        "cortex-a53",
        "-nographic",
        "-nic",
        "none",
        "-monitor",
        "none",
        "-serial",
        "null",
        "-m",
        "size=2G",
        "-kernel",
        str(image),
    ]


def run_to_handoff(
    image: Path,
    out: Path,
    *,
    el2: bool,
    scope: str = "seed",
    timeout: float = 1800.0,
    start: str | None = None,
) -> tuple[CoherenceReport, PluginWindow, float]:
    """Boot `image` on QEMU virt under the plugin; return (report, window, wall s).

    QEMU is stopped as soon as the report appears (written at the hand-off),
    or at `timeout`; a report without the hand-off raises RuntimeError.
    ``start`` is the caches' start state ("warm", "cold"; default: a direct
    boot's, see harness.coherence.start).
    """
    payload = from_user(image)
    warm = warm_ranges(payload, start or start_state(direct_boot=True))
    w = window_for(payload, scope=scope)
    plugin = plugin_path(build_root() / "coherence")
    out.parent.mkdir(parents=True, exist_ok=True)  # else the plugin cannot write and we wait
    out.unlink(missing_ok=True)
    cmd = (
        virt_command(image, el2)
        + instruction_clock()
        + plugin_args(
            plugin,
            out,
            VIRT_RAM,
            w.begin_pc,
            w.handoff_pc,
            pause=w.pause,
            expect_handoff=w.contract,
            begin_hit=w.begin_hit,
            end_pcs=w.end_pcs,
            handoff_el=w.handoff_el,
            targets=w.targets,
            warm=warm,
        )
    )
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    register(proc.pid, f"qemu (cache model) {image.name}")
    try:
        while not out.exists() and proc.poll() is None and time.monotonic() - t0 < timeout:
            time.sleep(0.2)
    finally:
        stop(proc)
    wall = time.monotonic() - t0
    if not out.exists():
        err = proc.stderr.read().decode(errors="replace")[-400:] if proc.stderr else ""
        raise RuntimeError(f"{image}: no cache-model report after {wall:.0f} s {err}")
    report = CoherenceReport.load(out)
    if not report.handoff_seen:
        raise RuntimeError(f"{image}: the model never saw the kernel entry")
    return report, w, wall

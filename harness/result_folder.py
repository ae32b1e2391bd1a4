"""Reports: a one-screen summary (systemd-analyze style), JSON, JUnit properties."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .boot import BootResult
from .checks import Check
from .errors import HarnessError
from .phases import Phase


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def summary(r: BootResult, checks: list[Check] | None = None) -> str:
    """A short human summary: phase durations, the unpack window, check results."""
    tl = r.timeline
    phases = tl.phases(r.power_on_ns)
    parts = [
        f"{p.host_s:.3f}s ({p.name}"
        + (f"; {p.target_s * 1e3:.3f} ms by the target timer)" if p.target_s is not None else ")")
        for p in phases
    ]
    total = sum(p.host_s for p in phases)
    mode = tl.mode
    lines = [
        f"Boot of {r.payload.label} on {r.target.name}"
        + (f": mode {mode.get('mode', mode.words[0] if mode.words else '?')}" if mode else "")
    ]
    if mode is not None:
        lines[0] = f"Boot of {r.payload.label} on {r.target.name}: {' '.join(mode.words)} at EL{mode.get('el', '?')}"
    lines.append(
        ("Startup finished in " + " + ".join(parts) + f" = {total:.3f}s") if parts else "No phase was reached."
    )
    lines += _load_lines(r, phases)
    w = tl.unpack_window()
    if w is not None:
        try:
            size = _mib(r.payload.unpacked_bytes)
        except HarnessError:
            size = f"{_mib(r.payload.archive_bytes)} archive"
        if w.target_s is not None and w.freq:
            lines.append(
                f"Unpack window: {size} in {w.target_s * 1e3:.3f} ms by the target timer "
                f"({w.ticks} ticks at {w.freq / 1e6:g} MHz), {w.host_s * 1e3:.1f} ms host"
            )
        else:
            lines.append(
                f"Unpack window: {size} in {w.host_s * 1e3:.1f} ms by {w.clock}"
                + (f"; target timer unusable: {w.fallback or w.error}" if w.fallback or w.error else "")
            )
    modeled = r.extras.get("model")
    if modeled is not None:
        lines.append(f"Modeled board time: {modeled.describe()}")
        lines.append(f"  {modeled.profile.describe()}")
    for img in tl.images:
        lines.append(
            f"  image '{img.name}' -> {img.dest:#x}"
            + (f" paddr=[{img.paddr[0]:#x}..{img.paddr[1]:#x}]" if img.paddr else "")
        )
    if r.failure is not None:
        lines.append(f"FAILED: {r.failure}")
    for c in checks or []:
        lines.append(f"  [{c.status:4}] {c.name}: {c.message}")
    if r.log_path:
        lines.append(f"Console log: {r.log_path}")
    return "\n".join(lines)


def _load_lines(r: BootResult, phases: list[Phase]) -> list[str]:
    """U-Boot's image load, measured (and its share of the boot up to the hand-off), then
    what the same bytes cost on the board, modeled."""
    t = r.timeline.transfer()
    out = []
    if t is not None:
        names = [p.name for p in phases]
        upto = phases[: names.index("kernel")] if "kernel" in names else phases
        total = sum(p.host_s for p in upto)
        share = (
            f"; {100 * t.seconds / total:.0f} % of the boot to the hand-off"
            if t.seconds is not None and total > 0
            else ""
        )
        out.append(f"Image load: {t.describe()}{share}")
    modeled = r.extras.get("load_model")
    if modeled is not None:
        out.append(f"Modeled board load: {modeled.describe()}")
    return out


def properties(r: BootResult) -> dict[str, Any]:
    """Figures for JUnit <property> elements (nightly CI keeps them)."""
    out: dict[str, Any] = {"target": r.target.name, "image": r.payload.label}
    w = r.timeline.unpack_window()
    if w is not None:
        out["unpack_host_s"] = round(w.host_s, 6)
        if w.target_s is not None:
            out["unpack_target_s"] = round(w.target_s, 6)
            out["unpack_ticks"] = w.ticks
    for p in r.timeline.phases(r.power_on_ns):
        out[f"phase_{p.name}_s"] = round(p.host_s, 6)
    modeled = r.extras.get("model")
    if modeled is not None:
        out["modeled_unpack_s"] = round(modeled.total_s, 6)
    transfer = r.timeline.transfer()
    if transfer is not None:
        out["load_bytes"] = transfer.bytes
        if transfer.seconds is not None:
            out["load_s"] = round(transfer.seconds, 6)
    load_model = r.extras.get("load_model")
    if load_model is not None:
        out["modeled_load_s"] = round(load_model.nominal, 6)
    verdict = r.extras.get("verdict")  # what decided a user kernel's boot
    if verdict is not None:
        out["verdict"] = f"{verdict.status}: {verdict.describe()}"
    return out


FOLDER_FIX = "choose another --results folder, or free space in it"


def prepare_dir(out_dir: Path) -> None:
    """Create a boot's result folder and prove it takes a file, before anything is
    powered on: a folder that cannot be written is said once, naming it."""
    probe = out_dir / f".harness-write-test-{os.getpid()}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        what = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename and Path(exc.filename) != probe else ""
        raise HarnessError(
            f"the results folder cannot be written: {what}{where}", file=out_dir, fix=FOLDER_FIX
        ) from None


def write(r: BootResult, checks: list[Check], out_dir: Path, doc: dict[str, Any]) -> None:
    """The result folder: summary.txt for people, result.json (the whole record,
    harness/history/document.py) for tools, and a copy of the target file so the
    boot can be rerun as it was.

    Every file is tried; what could not be written (here, or the console log and
    timeline during the boot: `extras["write_errors"]`) ends in one HarnessError
    naming the folder. The boot's verdict is the caller's to keep."""
    errors = list(r.extras.get("write_errors", []))
    files: list[tuple[str, Any]] = [
        ("result.json", lambda: json.dumps(doc, indent=2, default=str)),  # first: tools
        ("summary.txt", lambda: summary(r, checks) + "\n"),
        ("target.yaml", lambda: r.target.path.read_bytes()),
    ]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        errors.append(f"the folder itself: {exc.strerror or exc}")
        files = []
    for name, content in files:
        try:
            data = content()
        except OSError:
            continue  # the target file moved away: nothing to copy
        path = out_dir / name
        try:
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data)
        except OSError as exc:
            errors.append(f"{name}: {exc.strerror or exc}")
            try:
                path.unlink(missing_ok=True)  # no half file a tool could take as whole
            except OSError:
                pass
    if errors:
        raise HarnessError(
            f"the results folder could not keep this boot's record: {'; '.join(errors)}", file=out_dir, fix=FOLDER_FIX
        )

"""The record of one boot as a document: what `result.json` holds and the history stores.

One document says everything needed to judge the boot again later and to
rerun it: which run it belonged to, the target file (name, path, sha256), the
image (path, sha256, what built it), the options, every phase, the unpack
window, the cache model's counts and modeled time, every check and the verdict.
It is plain JSON so a result folder from another machine can be imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import HarnessError

if TYPE_CHECKING:
    from ..boot import BootResult
    from ..checks import Check

#: Bump when a field changes meaning; readers accept every version up to this one.
SCHEMA = 2


def sha256_of(path: Path) -> str | None:
    """The file's sha256, or None when it is not readable (a removed build, say).

    A suite boots the same 600 MB image many times: the digest is kept per
    (path, size, mtime), so an unchanged file is read once per process."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _digest(path.resolve(), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _digest(path: Path, size: int, mtime_ns: int) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


@lru_cache(maxsize=None)
def _tool_version(*argv: str) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.splitlines()[0].strip() if out.strip() else None


def harness_version() -> str:
    """The package version and, in a git checkout, the commit (with '+dirty' when edited)."""
    try:
        version = metadata.version("sel4-boot-harness")
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parents[2]
    commit = _tool_version("git", "-C", str(root), "describe", "--always", "--dirty=+dirty")
    return f"{version} ({commit})" if commit else version


@dataclass(frozen=True)
class RunContext:
    """One invocation (a pytest session, a CLI boot): every boot it makes shares it.

    HARNESS_RUN_ID names the run from outside (a nightly's pipeline id), so the
    boots of several pytest invocations of one night form one run.
    """

    run_id: str = field(
        default_factory=lambda: (
            os.environ.get("HARNESS_RUN_ID") or time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        )
    )
    started: float = field(default_factory=time.time)
    label: str = field(default_factory=lambda: os.environ.get("HARNESS_RUN_LABEL", ""))

    def versions(self, qemu: str | None) -> dict[str, str | None]:
        return {
            "harness": harness_version(),
            "python": platform.python_version(),
            "host": platform.node(),
            "qemu": _tool_version(qemu, "--version") if qemu else None,
        }


def loader_mode(result: "BootResult") -> str:
    """What the loader did, from what it said: our variants name themselves; seL4's
    loader is 'early-mmu' when the patch's line is there, 'fallback' when it said
    it had no tables, otherwise 'mmu-off' (stock)."""
    variant = result.payload.variant
    if variant is not None:
        return variant.label
    tl = result.timeline
    if tl.first("earlymmu.off"):
        return "fallback"
    if tl.first("earlymmu.on"):
        return "early-mmu"
    return "mmu-off" if tl.first("loader.banner") else "unknown"


def image_name(result: "BootResult") -> str:
    """A stable name for the image across nights: the reference variant's name, the
    build folder of a `harness sel4 build` image (stock and patched sel4test share a
    file name), or the file name."""
    p = result.payload
    if p.variant is not None:
        return p.variant.name
    if (p.elf.parent / "build.json").is_file():
        return p.elf.parent.name
    return p.elf.name


def _image(result: "BootResult") -> dict[str, Any]:
    p = result.payload
    out: dict[str, Any] = {
        "name": image_name(result),
        "label": p.label,
        "path": str(p.elf),
        "sha256": sha256_of(p.elf),
        "boot_file": str(p.boot_file),
        "boot_file_sha256": sha256_of(p.boot_file) if p.boot_file != p.elf else None,
        "kind": "reference" if p.reference else "user",
        "contract": p.contract,
        "variant": dataclasses.asdict(p.variant) if p.variant else None,
        "archive_bytes": None,
        "unpacked_bytes": None,
    }
    try:
        out["archive_bytes"] = p.archive_bytes
        out["unpacked_bytes"] = p.unpacked_bytes
    except HarnessError:
        pass
    build = p.elf.parent / "build.json"
    if p.variant is None and build.is_file():
        try:
            out["build"] = json.loads(build.read_text())
        except (OSError, ValueError):
            out["build"] = None
    return out


def _target(result: "BootResult") -> dict[str, Any]:
    t = result.target
    return {
        "name": t.name,
        "path": str(t.path),
        "sha256": sha256_of(t.path),
        "machine": t.machine,
        "boot": t.boot,
        "timing_profile": t.timing_profile,
        "timeouts": dataclasses.asdict(t.timeouts),
        "verdict": dataclasses.asdict(t.verdict),
    }


def _spans(result: "BootResult") -> list[dict[str, Any]]:
    """Phases and, inside the unpack, one span per image: the timeline's bars."""
    tl, t0 = result.timeline, result.power_on_ns
    spans = [
        {"name": p.name, "start_s": (p.start_ns - t0) / 1e9, "host_s": p.host_s, "target_s": p.target_s, "parent": None}
        for p in tl.phases(t0)
    ]
    images = [e for e in tl.events if e.name == "image"]
    window = tl.unpack_window()
    end = window.end_ns if window else None
    for ev, nxt in zip(images, images[1:] + [None]):
        stop = nxt.t_ns if nxt is not None else end
        if stop is None or stop < ev.t_ns:
            continue
        spans.append(
            {
                "name": f"image {ev.fields.get('name', '?')}",
                "start_s": (ev.t_ns - t0) / 1e9,
                "host_s": (stop - ev.t_ns) / 1e9,
                "target_s": None,
                "parent": "unpack",
            }
        )
    return spans


def _model(result: "BootResult") -> dict[str, Any] | None:
    modeled = result.extras.get("model")
    if modeled is None:
        return None
    doc: dict[str, Any] = {
        "label": "modeled",
        "total_s": modeled.total_s,
        "parts": dict(modeled.parts),
        "profile": dataclasses.asdict(modeled.profile),
    }
    band = modeled.band()
    if band is not None:  # the figure's spread over the profile's uncertain parameters
        doc["band_s"] = [band.low, band.high]
    return doc


def _load_model(result: "BootResult") -> dict[str, Any] | None:
    """The board's modeled load of this boot's bytes (harness/load_time.py)."""
    band = result.extras.get("load_model")
    return None if band is None else band.to_json()


def _coherence(result: "BootResult") -> dict[str, Any] | None:
    report = result.extras.get("coherence")
    if report is None:
        return None
    return {"counts": dataclasses.asdict(report.counts), "hazards": sorted(report.kinds())}


def _verdict(result: "BootResult") -> dict[str, Any] | None:
    v = result.extras.get("verdict")
    return (
        None if v is None else {"status": v.status, "how": v.how, "what": v.what, "text": v.text, "after_s": v.after_s}
    )


def _failure(result: "BootResult") -> dict[str, Any] | None:
    f = result.failure
    return None if f is None else {"message": f.message, "kind": f.kind, "phase": f.phase, "last_lines": f.last_lines}


def document(
    result: "BootResult",
    checks: "list[Check]",
    run: RunContext,
    boot_id: str,
    options: dict[str, Any],
    qemu: str | None = None,
) -> dict[str, Any]:
    """The whole record of one boot (result.json, schema `SCHEMA`)."""
    from ..result_folder import properties

    tl = result.timeline
    banner = tl.first("uboot.banner")
    versions = run.versions(qemu)
    versions["u-boot"] = banner.fields.get("version") if banner else None
    return {
        "schema": SCHEMA,
        "run": {"id": run.run_id, "started": run.started, "label": run.label},
        "boot": {"id": boot_id, "started": time.time() - (time.monotonic_ns() - result.power_on_ns) / 1e9},
        "versions": versions,
        "target": result.target.name,  # schema 1 readers: a name
        "target_file": _target(result),
        "image": result.payload.label,  # schema 1 readers: a label
        "payload": _image(result),
        "mode": loader_mode(result),
        "options": options,
        "ok": result.ok,
        "failure": str(result.failure) if result.failure else None,
        "failure_detail": _failure(result),
        "verdict": _verdict(result),
        "checks": [c.__dict__ for c in checks],
        "timeline": tl.to_json(),
        "spans": _spans(result),
        "properties": properties(result),
        "modeled": _model(result),
        "modeled_load": _load_model(result),
        "coherence": _coherence(result),
        "console_log": str(result.log_path) if result.log_path else None,
    }

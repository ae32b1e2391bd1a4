"""A boot session on one target: labgrid environment, strategy, builds, results.

The pytest plugin and the CLI both boot through this, so a boot from the
command line and a boot in CI are the same boot.
"""
from __future__ import annotations

import re
import shutil
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labgrid import Environment

from . import strategy as _strategy  # noqa: F401 - registers the strategies with labgrid
from .boot import BootResult, run_boot
from .checks import Check, run_checks
from .errors import HarnessError
from .images.build import Variant, build, build_root
from .payload import Payload, from_build
from .report import write
from .targets import Target


@dataclass
class Outcome:
    """A boot and the checks run over it."""

    result: BootResult
    checks: list[Check]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.failed]


def poison_args(payload: Payload, pattern: int = 0xA5, limit: int = 64 << 20) -> list[str]:
    """QEMU loader devices that fill every bss range with a pattern before boot.

    Real DRAM holds garbage after reset; QEMU's is zero, which would hide a loader
    that forgets to zero. Ranges above `limit` bytes are poisoned in their first
    `limit` bytes only.
    """
    args: list[str] = []
    pdir = build_root() / "poison"
    pdir.mkdir(parents=True, exist_ok=True)
    try:
        images = payload.images
    except HarnessError:
        return []   # an archive the loader itself will reject: nothing to poison
    for img in images:
        for seg in img.segments:
            start, end = seg.bss
            size = min(end - start, limit)
            if size <= 0:
                continue
            f = pdir / f"{pattern:02x}-{size}.bin"
            if not f.exists() or f.stat().st_size != size:
                f.write_bytes(bytes([pattern]) * size)
            args += ["-device", f"loader,file={f},addr={start:#x},force-raw=on"]
    return args


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


@dataclass
class BootSession:
    """Boots payloads on one target and keeps every result under `results`."""

    target: Target
    results: Path
    env: Any = None
    _cache: dict[tuple[Any, ...], Outcome] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.env is None:
            self.env = Environment(config_file=str(self.target.path))
        self.lg_target = self.env.get_target("main")
        if self.lg_target is None:
            raise HarnessError("no labgrid target 'main'", file=self.target.path, field="targets.main",
                               fix="see targets/qemu-virt.yaml")
        self._check_tools()
        self.strategy = self.lg_target.get_driver("Strategy")

    def _check_tools(self) -> None:
        """Every tool the environment names must exist before anything starts."""
        for name, tool in (self.env.config.data.get("tools") or {}).items():
            if not shutil.which(str(tool)):
                from .doctor import BACKPORTS
                raise HarnessError(f"'{tool}' not found", file=self.target.path, field=f"tools.{name}",
                                   fix=BACKPORTS if "qemu" in str(tool) else "install it or fix the path")

    def close(self) -> None:
        try:
            self.strategy.transition("off")
        finally:
            self.env.cleanup()

    def payload(self, variant: Variant) -> Payload:
        if variant.machine != self.target.machine:
            raise HarnessError(f"variant is for '{variant.machine}'", field="machine",
                               fix=f"build for {self.target.machine}")
        return from_build(build(variant), self.target.image_format)

    def variant(self, **kw: Any) -> Variant:
        return Variant(machine=self.target.machine, **kw)

    def extra_args(self, payload: Payload) -> list[str]:
        return poison_args(payload) if self.target.poison and self.target.is_qemu else []

    def command_line(self, payload: Payload, extra: list[str] | None = None) -> str:
        self.strategy.prepare(payload.boot_file, self.extra_args(payload) + list(extra or []))
        return shlex.join(self.strategy.command_line())

    def boot(self, payload: Payload, name: str | None = None, extra: list[str] | None = None,
             reuse: bool = True) -> Outcome:
        """Boot once (or return this session's earlier boot of the same payload)."""
        key = (payload.boot_file, tuple(extra or ()))
        if reuse and key in self._cache:
            return self._cache[key]
        out_dir = self.results / _slug(name or payload.label)
        result = run_boot(self.strategy, self.target, payload, out_dir,
                          self.extra_args(payload) + list(extra or []))
        checks = run_checks(result) if result.ok else []
        write(result, checks, out_dir)
        outcome = Outcome(result, checks)
        self._cache[key] = outcome
        return outcome

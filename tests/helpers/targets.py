"""Targets as the shipped YAML has them, with the phase timeouts a test can wait out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.targets import Target, load


def short_timeouts(target: Target, tmp: Path, **timeouts: float) -> Target:
    """The same target with some phase timeouts shortened (a copy of its YAML in `tmp`),
    so a boot meant to fail ends in seconds instead of the target's real bounds."""
    data: dict[str, Any] = yaml.safe_load(target.path.read_text())
    data["harness"].setdefault("timeouts", {}).update(timeouts)
    path = tmp / f"{target.name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load(str(path))

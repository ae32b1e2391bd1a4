"""Where the project is, where it builds, and where a run's results go: one place every
package may import.

The reference images and the real-seL4 builds both live under the build root; keeping the
two paths here lets neither package import the other for them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_root() -> Path:
    """`build/` in the checkout, or `$HARNESS_BUILD` (tests point it at a temporary one)."""
    return Path(os.environ.get("HARNESS_BUILD", ROOT / "build"))


def fresh_run_folder(parent: Path, stamp: str | None = None) -> Path:
    """A run's results folder under `parent`, named by its start time and used by no other
    run: two runs started in the same second (the demo's two `harness boot`s, two pytest
    sessions on one target) must not share a folder or a boot id. A folder that cannot be
    made is returned as it is: the first boot says why, naming it, before power-on."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        out = parent / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            out.mkdir(parents=True)
            return out
        except FileExistsError:
            continue
        except OSError:
            return out
    return parent / stamp

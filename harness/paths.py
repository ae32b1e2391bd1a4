"""Where the project is and where it builds: one place every package may import.

The reference images and the real-seL4 builds both live under the build root; keeping the
two paths here lets neither package import the other for them.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_root() -> Path:
    """`build/` in the checkout, or `$HARNESS_BUILD` (tests point it at a temporary one)."""
    return Path(os.environ.get("HARNESS_BUILD", ROOT / "build"))

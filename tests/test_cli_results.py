"""`harness boot` result folders: two boots started in the same second keep apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import _fresh_dir

pytestmark = pytest.mark.host


def test_two_boots_in_one_second_get_two_folders(tmp_path: Path) -> None:
    first = _fresh_dir(tmp_path, "20261204-223000")
    second = _fresh_dir(tmp_path, "20261204-223000")
    assert first != second and first.is_dir() and second.is_dir()
    assert second.name == "20261204-223000-2"

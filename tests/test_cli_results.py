"""Run result folders (`harness boot`, a pytest session's boots): two runs started in the
same second keep apart, and a folder that cannot be made is left for the boot to name."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.paths import fresh_run_folder

pytestmark = pytest.mark.host


def test_two_runs_in_one_second_get_two_folders(tmp_path: Path) -> None:
    first = fresh_run_folder(tmp_path, "20261204-223000")
    second = fresh_run_folder(tmp_path, "20261204-223000")
    assert first != second and first.is_dir() and second.is_dir()
    assert second.name == "20261204-223000-2"


def test_a_folder_that_cannot_be_made_is_returned_for_the_boot_to_name(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    out = fresh_run_folder(blocker, "20261204-223000")
    assert out == blocker / "20261204-223000" and not out.exists()

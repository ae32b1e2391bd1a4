"""Boots that must fail fast and say why: silence, a loader error, a dead QEMU."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import processes
from harness.images.build import Variant, build, build_probe
from harness.payload import Payload, from_build
from harness.session import BootSession
from harness.targets import Target
from helpers.targets import short_timeouts

pytestmark = [pytest.mark.boot, pytest.mark.reference]


def session_for(target: Target, tmp: Path) -> BootSession:
    return BootSession(target, tmp / "results")


def test_silent_loader_times_out_with_last_lines(harness_target: Target, tmp_path: Path) -> None:
    """Booting the probe alone: no loader banner ever comes -> 'loader' phase timeout."""
    target = short_timeouts(harness_target, tmp_path, loader=3)
    probe = build_probe(target.machine, 1 << 20)
    session = session_for(target, tmp_path)
    try:
        payload = Payload(probe, probe, None)
        outcome = session.boot(payload, name="silent")
    finally:
        session.close()
    failure = outcome.result.failure
    assert failure is not None and failure.phase == "loader", str(failure)
    assert "timed out after 3 s" in failure.message and "elfloader banner" in failure.message
    assert any("@h probe" in line for line in failure.last_lines), failure.last_lines


def test_loader_error_fails_at_once_with_its_text(harness_target: Target, tmp_path: Path) -> None:
    """An archive without kernel.elf: the loader's own ERROR line ends the boot, no timeout."""
    blob = tmp_path / "not-a-kernel"
    blob.write_bytes(b"just data")
    target = short_timeouts(harness_target, tmp_path, unpack=60)
    variant_build = build(session_variant(target), members=[("app", blob)], tag="no-kernel")
    session = session_for(target, tmp_path)
    try:
        payload = from_build(variant_build, target.image_format)
        payload = Payload(payload.elf, payload.boot_file, None)  # judged like a user's image
        result = session.boot(payload, name="no-kernel").result
    finally:
        session.close()
    assert result.failure is not None and result.failure.kind == "product", str(result.failure)
    # ended by the loader's own words in the unpack phase, not by its 60 s timeout
    assert result.failure.phase == "unpack" and "timed out" not in result.failure.message
    assert "ERROR: No kernel image present in archive" in result.failure.message
    assert "abort() called." in result.failure.last_lines


def session_variant(target: Target) -> Variant:
    return Variant(machine=target.machine, mode="mmu-off")


def test_no_process_we_started_survives(boot_session: BootSession) -> None:
    """Runs after the boots above in this module; the run-wide check is the session-finish
    hook in tests/conftest.py."""
    boot_session.strategy.transition("off")
    assert processes.survivors() == {}

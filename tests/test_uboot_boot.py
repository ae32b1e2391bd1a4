"""bootm in place and the auto-placed transfer buffer, booted through real U-Boot (Debian's
u-boot-qemu 2023.01): the console says whether bootm copied the image, and a copy over
bootm's size limit fails as set-up with U-Boot's line and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from harness import processes
from harness.session import BootSession
from harness.targets import Target, load
from harness.uboot import UBootBootStrategy

pytestmark = pytest.mark.boot

MIB = 1 << 20
# Debian's qemu_arm64 U-Boot 2023.01: CONFIG_SYS_BOOTM_LEN is the arm64 default, 64 MiB.
BOOTM_LEN = 64 * MIB


def needs_uboot(target: Target, qemu_only: bool = False) -> None:
    if target.uboot is None:
        pytest.skip("not a U-Boot target")
    if qemu_only and not target.is_qemu:
        pytest.skip(
            "a variant of the target file: the QEMU U-Boot targets carry it (the lab's path is the same U-Boot)"
        )


def with_uboot(target: Target, tmp: Path, **fields: Any) -> Target:
    """The target with some `harness.uboot` fields changed (a copy of its YAML)."""
    data: dict[str, Any] = yaml.safe_load(target.path.read_text())
    data["harness"]["uboot"].update(fields)
    path = tmp / f"{target.name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load(str(path))


@pytest.fixture
def copy_session(harness_target: Target, tmp_path: Path) -> Iterator[BootSession]:
    needs_uboot(harness_target, qemu_only=True)
    session = BootSession(with_uboot(harness_target, tmp_path, bootm="copy"), tmp_path / "results")
    try:
        yield session
    finally:
        session.close()
    assert processes.survivors() == {}, "a process this boot started is still running"


def console(outcome: Any) -> list[str]:
    return [line.text for line in outcome.result.lines]


def test_shipped_target_boots_in_place(harness_target: Target, boot_session: BootSession) -> None:
    """The shipped U-Boot targets stage the package at its load address less its header:
    bootm prints `XIP Kernel Image` (U-Boot's word for data already in place) and never
    `Loading Kernel Image` (its copy)."""
    needs_uboot(harness_target)
    payload = boot_session.payload(boot_session.variant())
    # a boot of its own: the session keeps outcomes by payload, while the strategy's
    # placement is the last boot's, which in a full suite is another image's
    outcome = boot_session.boot(payload, "in-place", reuse=False)
    assert outcome.result.ok, outcome.result.failure
    strategy = boot_session.strategy
    assert isinstance(strategy, UBootBootStrategy)
    where, pkg = strategy.placement, strategy.package
    assert where.in_place and where.addr == pkg.load - (pkg.data_offset or 0)
    lines = console(outcome)
    assert any(t.strip() == "XIP Kernel Image" for t in lines), lines[-40:]
    assert not any(t.strip() == "Loading Kernel Image" for t in lines)
    u = harness_target.uboot
    assert u is not None
    load_cmd = f"load mmc {u.mmc} " if u.transport == "mmc" else "tftpboot "
    assert f"{load_cmd}{where.addr:#x} " in "\n".join(lines)


def test_auto_buffer_with_copy(harness_target: Target, copy_session: BootSession) -> None:
    """Negative control of the in-place assertion and the auto placement: with `bootm: copy`
    the buffer lies above the image (clear of its load range, its unpack destinations and
    U-Boot), bootm says it copies, and the probe still finds every segment intact."""
    payload = copy_session.payload(copy_session.variant())
    outcome = copy_session.boot(payload, "copy", reuse=False)
    assert outcome.result.ok, outcome.result.failure
    strategy = copy_session.strategy
    assert isinstance(strategy, UBootBootStrategy)
    where, pkg = strategy.placement, strategy.package
    assert not where.in_place and where.auto
    assert where.addr >= pkg.load + pkg.data_bytes  # above the image's load range
    for area in where.avoided:
        assert not area.overlaps(where.addr, where.addr + pkg.size), area
    lines = [t.strip() for t in console(outcome)]
    assert "Loading Kernel Image" in lines and "XIP Kernel Image" not in lines
    seg = outcome.check("segments")
    assert seg.status == "pass", seg.message


def test_copy_over_the_size_limit_is_a_setup_failure(harness_target: Target, copy_session: BootSession) -> None:
    """A 65 MiB image copied by bootm trips CONFIG_SYS_BOOTM_LEN (64 MiB): the failure is
    the set-up's, quotes U-Boot's own line and names the fix; bootm never starts it."""
    payload = copy_session.payload(copy_session.variant(blob_bytes=BOOTM_LEN + MIB))
    outcome = copy_session.boot(payload, "size-limit", reuse=False)
    f = outcome.result.failure
    assert f is not None and (f.kind, f.phase) == ("setup", "bootm"), str(f)
    assert "U-Boot: uncompressed: uncompress error -28" in f.message, f.message
    assert "CONFIG_SYS_BOOTM_LEN" in f.message and "fix: boot in place" in f.message
    assert not any(t.startswith("Starting kernel") for t in console(outcome))

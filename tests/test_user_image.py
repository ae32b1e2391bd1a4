"""Bring your own image: an seL4-style elfloader image the harness did not build.

The stand-in is our loader built with CONSOLE=sel4 (seL4's console lines only,
no `@h` lines) around a silent kernel and a rootserver made on the host, like
a release seL4 build. The harness must find the archive, list the images, time
the unpack from host stamps, skip what needs our lines with a reason, and
verify memory out of band (user images are moved by the loader: their
destinations come from its console).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from harness.images.build import Variant, build
from harness.payload import Payload, from_user
from harness.session import BootSession
from harness.targets import Target, with_overrides

from helpers.elfgen import Elf, Seg

pytestmark = [pytest.mark.boot, pytest.mark.reference]

WFI_LOOP = bytes.fromhex("7f2003d5ffffff17")  # wfi; b .-4


def sel4_like(target: Target, tmp: Path, bug: str = "none") -> Payload:
    kernel_base = target.dram[0] + 0x200000  # clear of any firmware stub or DTB at RAM base
    kernel = Elf(
        kernel_base,
        [Seg(kernel_base, WFI_LOOP * 64, flags=5), Seg(kernel_base + 0x1000, b"kdata" * 20, memsz=0x3000, flags=6)],
    )
    root = Elf(
        0x400000,
        [Seg(0x400000, bytes(range(256)) * 32, flags=5), Seg(0x402000, b"rootdata" * 8, memsz=0x2000, flags=6)],
    )
    members = [("kernel.elf", kernel.write(tmp / "kernel.elf")), ("rootserver", root.write(tmp / "rootserver"))]
    variant = Variant(target.machine, "mmu-off", bug=bug, console="sel4")
    built = build(variant, members=members, tag="sel4like")
    return from_user(built.elfloader)


@pytest.fixture
def session(harness_target: Target, tmp_path: Path) -> Iterator[BootSession]:
    if not harness_target.is_qemu:
        pytest.skip("out-of-band verification needs QEMU's gdbstub and QMP")
    # the stand-in's kernel is a silent wfi loop: silence after the hand-off is its success
    s = BootSession(with_overrides(harness_target, silent_ok=2.0), tmp_path / "results")
    yield s
    s.close()


def test_archive_is_listed(harness_target: Target, tmp_path: Path) -> None:
    payload = sel4_like(harness_target, tmp_path)
    assert [i.name for i in payload.images] == ["kernel", "rootserver"]
    assert payload.images[1].segments[1].bss[1] - payload.images[1].segments[1].bss[0] == 0x2000 - 64


def test_user_image_boots_with_skips_and_oob(harness_target: Target, tmp_path: Path, session: BootSession) -> None:
    payload = sel4_like(harness_target, tmp_path)
    outcome = session.boot(payload, verify=True)
    r = outcome.result
    assert r.ok, str(r.failure)
    assert not any(line.text.startswith("@h") for line in r.lines)
    status = {c.name: c for c in outcome.checks}
    assert status["segments"].status == "skip" and "no '@h seg' lines" in status["segments"].message
    assert status["bss"].status == "skip" and status["handoff"].status == "skip"
    assert status["timeline"].status == "pass" and "host stamps" in status["timeline"].message
    assert status["kernel"].status == "pass" and "declared silent-ok after 2 s" in status["kernel"].message
    # our loader in seL4's console form still hands off with the MMU off: its own contract
    assert payload.contract == "mmu-off"
    assert status["out-of-band"].status == "pass", status["out-of-band"].message
    assert [i.name for i in r.timeline.images] == ["kernel", "rootserver"]
    # the rootserver was moved: its destination came from the console, not its ELF paddr
    assert r.timeline.images[1].paddr is not None and r.timeline.images[1].paddr[0] != 0x400000


def test_user_image_corruption_is_caught_out_of_band(
    harness_target: Target, tmp_path: Path, session: BootSession
) -> None:
    payload = sel4_like(harness_target, tmp_path, bug="corrupt-segment")
    outcome = session.boot(payload, verify=True)
    assert outcome.failed == ["out-of-band"], [(c.name, c.message) for c in outcome.checks]
    seg = payload.images[0].segments[-1]
    assert seg.describe() in outcome.check("out-of-band").message

"""A board whose console is not the machine's default UART gets images that print there.

The Verdin's debug console is UART3; its target says `console_uart`. Booted on
QEMU with the console wired to that UART, the reference images must still be
heard (and pass), which proves the variant really moved its console.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.session import BootSession
from harness.targets import Target, available, load

pytestmark = pytest.mark.qemu

# QEMU wires -serial options to a machine's UARTs in order; these are the i.MX8M's.
SERIAL_INDEX = {0x30860000: 0, 0x30890000: 1, 0x30880000: 2, 0x30A60000: 3}


def boards_with_own_console() -> list[Target]:
    return [t for t in map(load, available()) if t.console_uart is not None]


def qemu_twin(board: Target, tmp: Path) -> Target:
    """A QEMU target of the same machine with its console on the board's UART."""
    base = next(
        t
        for t in map(load, available())
        if t.machine == board.machine
        and t.boot == "qemu"
        and t.image_format == board.image_format
        and t.console_uart is None
    )
    data: dict[str, Any] = yaml.safe_load(base.path.read_text())
    uart = board.console_uart
    assert uart is not None, board.name
    nulls = SERIAL_INDEX[uart]
    data["targets"]["main"]["drivers"]["QEMUDriver"]["extra_args"] = " ".join(["-serial null"] * nulls)
    data["harness"]["console_uart"] = uart
    path = tmp / f"{board.name}-on-qemu.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load(str(path))


@pytest.mark.parametrize("board", boards_with_own_console(), ids=lambda t: t.name)
def test_reference_images_print_on_the_boards_console(board: Target, tmp_path: Path) -> None:
    target = qemu_twin(board, tmp_path)
    session = BootSession(target, tmp_path / "results")
    try:
        outcome = session.boot(session.payload(session.variant(mode="early-mmu")))
    finally:
        session.close()
    assert outcome.result.ok, str(outcome.result.failure)
    assert outcome.failed == [], [c.message for c in outcome.checks if c.failed]
    assert f"-uart{board.console_uart:x}" in outcome.result.payload.label


@pytest.mark.parametrize("board", boards_with_own_console(), ids=lambda t: t.name)
def test_default_console_images_are_not_heard_there(board: Target, tmp_path: Path) -> None:
    """Negative control: the machine's default-UART images stay silent on the board's UART."""
    import dataclasses

    target = qemu_twin(board, tmp_path)
    target = dataclasses.replace(target, timeouts=dataclasses.replace(target.timeouts, loader=3))
    session = BootSession(target, tmp_path / "results")
    try:
        outcome = session.boot(session.payload(session.variant(mode="early-mmu", uart_base=None)))
    finally:
        session.close()
    failure = outcome.result.failure
    assert failure is not None and failure.phase == "loader" and "timed out" in failure.message

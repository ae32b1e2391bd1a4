"""Last file of the suite: nothing this run started is still running."""
import pytest

from harness import processes


@pytest.mark.boot
def test_no_qemu_outlives_the_suite() -> None:
    left = processes.survivors()
    assert left == {}, f"still running: {left}"

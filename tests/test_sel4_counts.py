"""The routes table's shipped counts (bench/counts/) are data made by a plugin, a window and a
series: when any of them changes, the counts are stale and this fails, naming what moved and
the command that regenerates them. The table itself is always priced now (never shipped)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness.testing import missing_input

ROOT = Path(__file__).resolve().parents[1]
COUNTS = ROOT / "bench" / "counts"
REGENERATE = ".venv/bin/python bench/sel4_routes.py --sizes 6,596 --save-counts bench/counts"
sys.path.insert(0, str(ROOT / "bench"))

from sel4_routes import ROUTES, load_counts, table  # noqa: E402
from sel4_runs import sources_digest  # noqa: E402

from harness.board_time import load_profile  # noqa: E402


def manifest() -> dict[str, object]:
    path = COUNTS / "manifest.json"
    if not path.is_file():
        missing_input(str(path), "the routes table of `make demo` is priced from shipped counts", REGENERATE)
    data: dict[str, object] = json.loads(path.read_text())
    return data


WHAT = {
    "plugin": "the cache-model plugin's source",
    "harness": "the harness code that sets the counting window and drives QEMU",
    "patches": "our seL4_tools patches",
}


def stale(made: dict[str, str], now: dict[str, str]) -> list[str]:
    return [
        f"{WHAT[part]} changed since bench/counts/ was made: regenerate it: {REGENERATE}"
        for part in WHAT
        if made.get(part) != now[part]
    ]


def test_shipped_counts_are_not_stale() -> None:
    made = manifest()["_sources"]
    assert isinstance(made, dict)
    assert stale(made, sources_digest()) == []


@pytest.mark.parametrize("part", list(WHAT))
def test_a_changed_source_makes_them_stale(part: str) -> None:
    """Negative control: one source moved, exactly that one is named."""
    now = sources_digest()
    assert stale({**now, part: "0" * 64}, now) == [
        f"{WHAT[part]} changed since bench/counts/ was made: regenerate it: {REGENERATE}"
    ]


def test_the_table_prices_every_route_at_both_sizes_from_shipped_counts() -> None:
    manifest()
    sizes = load_counts(COUNTS)
    assert [s.mb for s in sizes] == [6.0, 596.0]
    assert all(set(s.runs) == set(ROUTES) for s in sizes)
    text = table(sizes, load_profile("imx8mp-armstone"))
    assert text[0].startswith("MODELED") and "counts of 20" in text[0]
    assert text[-1].startswith("headline: 596 MB stock ") and " ratio " in text[-1]


def test_layout_of_the_harness_code_does_not_make_counts_stale(tmp_path: Path) -> None:
    """A formatter or a comment moves no count; a changed expression does (negative control)."""
    from sel4_runs import _files_sha256

    src = tmp_path / "run.py"
    src.write_text("x = f(a,b)\n")
    before = _files_sha256((src,))
    src.write_text("# why\nx = f(\n    a,\n    b,\n)\n")
    assert _files_sha256((src,)) == before
    src.write_text("x = f(b, a)\n")
    assert _files_sha256((src,)) != before

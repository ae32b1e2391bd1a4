"""docs/architecture.md's module table matches the tree: a newcomer who reads it finds
every module, and a module moved or renamed without the table fails here."""

from __future__ import annotations

import re

import pytest

from harness.images.build import ROOT

pytestmark = pytest.mark.host

HARNESS = ROOT / "harness"


def table_rows(text: str) -> dict[str, str]:
    """First cell's backticked names -> the whole row."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            for name in re.findall(r"`([^`]+)`", first):
                rows[name] = line
    return rows


def unlisted(rows: dict[str, str], modules: list[str]) -> list[str]:
    """Modules (harness-relative, no .py) the table does not name: a top-level module by
    its own row, a sub-package's module in its package's row (`pkg/` … `name`) or by
    its own `pkg/name` row."""
    missing = []
    for mod in modules:
        pkg, _, name = mod.rpartition("/")
        if mod in rows:
            continue
        row = rows.get(f"{pkg.split('/')[0]}/") if pkg else None
        if row is None or not re.search(rf"`(\S*/)?{re.escape(name)}(\.py)?`", row):
            missing.append(mod)
    return missing


def modules() -> list[str]:
    return sorted(
        str(p.relative_to(HARNESS).with_suffix(""))
        for p in HARNESS.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    )


def test_every_module_is_in_the_architecture_table() -> None:
    rows = table_rows((ROOT / "docs" / "architecture.md").read_text())
    assert unlisted(rows, modules()) == []


def test_a_module_missing_from_the_table_is_named() -> None:
    rows = table_rows("| `qemu/` | `strategy` (states), `drain` (the drain) | why |\n| `boot` | one boot | |\n")
    assert unlisted(rows, ["boot", "qemu/strategy", "qemu/drain", "qemu/verify", "session"]) == [
        "qemu/verify",
        "session",
    ]

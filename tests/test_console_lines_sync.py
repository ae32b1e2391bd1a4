"""The C sources print exactly the `@h` records and fields the parser relies on."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from harness.console_lines import SCHEMA

pytestmark = pytest.mark.host
ROOT = Path(__file__).resolve().parents[1]
LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


def c_formats() -> dict[str, set[str]]:
    """Record key (kind, or 'probe WORD') -> field names, from every "@h ..." literal.

    A printf may continue over several adjacent literals and calls (the probe's
    bss line ends in a second call), so fields are gathered per statement group
    until the next '@h' literal.
    """
    found: dict[str, set[str]] = defaultdict(set)
    for src in sorted((ROOT / "images").rglob("*.[ch]")):
        current: str | None = None
        for line in src.read_text().splitlines():
            for lit in LITERAL.findall(line):
                words = lit[3:].split()
                if lit.startswith("@h ") and words:
                    current = words[0] if words[0] != "probe" else f"probe {words[1]}"
                    found[current]
                if current is not None:
                    found[current].update(re.findall(r"(\w+)=", lit))
            if line.strip().startswith("}") or line.strip() == "":
                current = None
    return found


def test_every_record_the_c_code_prints_is_known() -> None:
    formats = c_formats()
    assert formats, "no '@h' format strings found under images/"
    unknown = sorted(set(formats) - set(SCHEMA))
    assert unknown == [], f"C prints records the parser does not know: {unknown}"


@pytest.mark.parametrize("kind", sorted(SCHEMA))
def test_every_field_the_parser_needs_is_printed(kind: str) -> None:
    formats = c_formats()
    assert kind in formats, f"no C code prints '@h {kind}'"
    missing = sorted(SCHEMA[kind] - formats[kind])
    assert missing == [], f"'@h {kind}' in C lacks fields {missing}"


@pytest.mark.parametrize("kind", sorted(SCHEMA))
def test_every_record_is_documented(kind: str) -> None:
    doc = (ROOT / "docs" / "console-protocol.md").read_text()
    assert f"@h {kind}" in doc


def test_sync_check_catches_a_dropped_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a probe that stops printing expected= is caught."""
    import shutil

    shutil.copytree(ROOT / "images", tmp_path / "images", ignore=shutil.ignore_patterns("*.o"))
    probe = tmp_path / "images" / "probe" / "probe.c"
    probe.write_text(probe.read_text().replace("expected=%#010x ", ""))
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert "expected" not in c_formats()["probe seg"]

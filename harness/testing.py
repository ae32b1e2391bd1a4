"""Skips that cannot hide missing evidence.

A test may skip for two kinds of reasons. One is that it does not apply here
(another target, another option): that stays a skip everywhere. The other is
that a tool or an input it needs is missing (a cross compiler, QEMU, upstream
tarballs, clang's fuzzer runtime, the cache-model plugin): locally that is a
skip, saying what to install, but under CI (`CI=true`) it is a failure, because
a CI run that skipped its evidence would still look green.

`missing_input`, `require_tool` and `@pytest.mark.requires_tool` are the one
way tests say the second kind (a missing fuzzer runtime or cache-model plugin
fails its build step outright); `skips_by_reason` counts skips for the terminal
summary and for `scripts/test.sh`'s closing lines (read back from JUnit XML).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator, NoReturn

import pytest

#: Every skip for a missing tool or input starts with this, so the summary tells them apart.
MISSING = "missing "


def under_ci() -> bool:
    """CI=true (any of true/1/yes, case-insensitive), as CI systems set it."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def missing_input(what: str, why: str, fix: str = "") -> NoReturn:
    """`what` is missing, so `why` cannot be shown: skip locally, fail under CI."""
    text = f"{MISSING}{what}: {why}" + (f" (fix: {fix})" if fix else "")
    if under_ci():
        pytest.fail(f"{text} -- CI=true: a missing tool or input fails, it never skips", pytrace=False)
    pytest.skip(text)


def require_tool(tool: str, why: str, fix: str = "scripts/setup.sh installs it") -> str:
    """The tool's path on PATH, else `missing_input`."""
    path = shutil.which(tool)
    if path is None:
        missing_input(f"tool '{tool}'", why, fix)
    return path


def check_tools_marker(item: pytest.Item) -> None:
    """Each `requires_tool` argument is a tool, or alternatives as 'a|b' (any one will do)."""
    for mark in item.iter_markers("requires_tool"):
        why = str(mark.kwargs.get("why", item.name))
        fix = str(mark.kwargs.get("fix", "scripts/setup.sh installs it"))
        for spec in mark.args:
            names = str(spec).split("|")
            if not any(shutil.which(n) for n in names):
                missing_input(f"tool '{' or '.join(names)}'", why, fix)


def skip_reason(longrepr: object) -> str:
    """The reason of a skipped test's report (pytest keeps it as (path, line, 'Skipped: ...'))."""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
    else:
        text = str(longrepr)
    return text.removeprefix("Skipped: ").strip()


def skips_by_reason(reasons: Iterable[str]) -> list[tuple[int, str]]:
    """(count, reason), most frequent first, then by reason."""
    counts = Counter(reasons)
    return sorted(((n, r) for r, n in counts.items()), key=lambda nr: (-nr[0], nr[1]))


def summary_lines(reasons: Iterable[str]) -> list[str]:
    """One line per reason: its count, whether it is a missing tool/input, the reason."""
    return [f"{n:5d}  {'[missing] ' if r.startswith(MISSING) else ''}{r}" for n, r in skips_by_reason(reasons)]


def _cases(paths: Iterable[Path]) -> Iterator[ET.Element]:
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            continue  # a run that died before writing its XML has said so itself
        yield from root.iter("testcase")


def junit_skip_reasons(paths: Iterable[Path]) -> list[str]:
    """The reasons of every skipped test case in these JUnit XML files."""
    out: list[str] = []
    for case in _cases(paths):
        for skipped in case.iter("skipped"):
            message = skipped.get("message") or skipped.text or "(no reason given)"
            out.append(re.sub(r"\s+", " ", message.removeprefix("Skipped: ")).strip())
    return out


def junit_totals(paths: Iterable[Path]) -> tuple[int, int, int]:
    """(passed, failed, skipped) test cases over these JUnit files; an error is a failure."""
    passed = failed = skipped = 0
    for case in _cases(paths):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def main(argv: list[str]) -> int:
    """`python -m harness.testing JUNIT...`: the skips of these runs counted by reason, then
    one closing line with the totals of every run."""
    paths = [Path(a) for a in argv]
    lines = summary_lines(junit_skip_reasons(paths))
    print(f"== skips by reason over {len(paths)} run(s)" + ("" if lines else ": none"))
    for line in lines:
        print(line)
    passed, failed, skipped = junit_totals(paths)
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

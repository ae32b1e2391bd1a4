"""The slowest tests of a `make test` run, read back from its JUnit XML files.

Each suite prints its own `--durations=10`; this is the view across suites
(`python -m harness.slowest N results/junit-*.xml`), so the next minute to win
is found where it is, whichever target it runs on. The suite is the part of
the file name after `junit-`; a test's time is pytest's (setup, call and
teardown: a session fixture's build lands on the test that first needed it).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import HarnessError


@dataclass(frozen=True)
class Timed:
    """One test case of one suite and its seconds."""

    seconds: float
    suite: str
    test: str


def suite_name(path: Path) -> str:
    """junit-qemu-virt.xml -> qemu-virt."""
    return path.stem.removeprefix("junit-")


def timed_cases(paths: Iterable[Path]) -> list[Timed]:
    """Every test case of these files with its time; a file that is missing or cut short
    (its run died) is passed over: that run has said so itself."""
    out: list[Timed] = []
    for path in paths:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError):
            continue
        for case in root.iter("testcase"):
            name = case.get("name", "?")
            cls = case.get("classname", "")
            test = f"{cls.replace('.', '/')}.py::{name}" if cls else name
            try:
                seconds = float(case.get("time", "0"))
            except ValueError:
                raise HarnessError(
                    f"test case {test} has time '{case.get('time')}'",
                    file=path,
                    field="testcase/@time",
                    fix="regenerate it with pytest --junitxml",
                ) from None
            out.append(Timed(seconds, suite_name(path), test))
    return out


def slowest(cases: Iterable[Timed], n: int) -> list[Timed]:
    """The `n` slowest, slowest first (ties by suite, then test, so the list is stable)."""
    return sorted(cases, key=lambda t: (-t.seconds, t.suite, t.test))[:n]


def lines(top: list[Timed]) -> list[str]:
    width = max((len(t.suite) for t in top), default=0)
    return [f"{t.seconds:8.1f}s  {t.suite:<{width}}  {t.test}" for t in top]


def main(argv: list[str]) -> int:
    """`python -m harness.slowest N JUNIT...`."""
    if not argv or not argv[0].isdigit():
        print("usage: python -m harness.slowest N JUNIT.xml...", file=sys.stderr)
        return 2
    n, paths = int(argv[0]), [Path(a) for a in argv[1:]]
    try:
        top = slowest(timed_cases(paths), n)
    except HarnessError as exc:
        print(f"harness: {exc}", file=sys.stderr)
        return 1
    print(f"== the {len(top)} slowest tests over {len(paths)} suite(s)")
    for line in lines(top):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

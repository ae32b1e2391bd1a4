"""The shared boot options: `harness boot --help` and `pytest --help` say the same thing
from the one table (harness/options.py), and a bad value is the same one line on both sides.

The comparison reads the real help of both programs; its negative controls are a drifted
table (one help text changed, one option registered on one side only) that it must catch.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import options
from harness.errors import HarnessError
from harness.images.build import ROOT
from harness.options import SHARED, Option

pytestmark = pytest.mark.host

#: Wide enough that neither program wraps a help line (argparse and pytest read COLUMNS).
WIDE = "1000"
#: Options `harness boot` has and pytest has not (the module docstring says why).
CLI_ONLY = ("--mode", "--bug", "--blob-mib", "--dry-run", "--verify", "--until", "--interactive", "--gdb")
OPTION_LINE = re.compile(r"^  (--[a-z][\w-]*)(?:[ =]\S+)?(?:\s{2,}(\S.*))?$")


def clean_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTEST_ADDOPTS", "HARNESS_TARGET", "LG_ENV", "HARNESS_CACHE_START")
    }
    return {**env, "COLUMNS": WIDE}


def run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=300
    )


def help_entries(text: str) -> dict[str, str]:
    """flag -> its help text (whitespace collapsed), from an argparse-style help page."""
    entries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if re.match(r"^ {2}\S", line):  # a new option line (ours or any other)
            m = OPTION_LINE.match(line)
            current = entries.setdefault(m.group(1), []) if m else None
            if current is not None and m and m.group(2):
                current.append(m.group(2))
        elif current is not None and re.match(r"^ {3,}\S", line):
            current.append(line.strip())
        else:  # a blank line or a section header
            current = None
    return {flag: " ".join(" ".join(parts).split()) for flag, parts in entries.items()}


def pytest_group(text: str) -> str:
    """The harness group of `pytest --help`: pytest's own options stay out of the comparison."""
    start = text.index("seL4 boot harness:")
    end = text.find("\n\n", start)
    return text[start : end if end > 0 else len(text)]


def mismatches(table: tuple[Option, ...], cli_help: str, pytest_help: str) -> list[str]:
    """Every shared option whose help is missing from a side or differs between the sides
    (or from the table); empty when both sides say what the table says."""
    cli, py = help_entries(cli_help), help_entries(pytest_group(pytest_help))
    found = []
    for option in table:
        want = " ".join(option.help.split())
        sides = {"harness boot --help": cli.get(option.flag), "pytest --help": py.get(option.flag)}
        for side, text in sides.items():
            if text is None:
                found.append(f"{option.flag}: not in {side}")
            elif text != want:
                found.append(f"{option.flag}: {side} says {text!r}, the table {want!r}")
        if None not in sides.values() and cli.get(option.flag) != py.get(option.flag):
            found.append(f"{option.flag}: harness says {cli.get(option.flag)!r}, pytest {py.get(option.flag)!r}")
    return found


@pytest.fixture(scope="module")
def helps() -> tuple[str, str]:
    cli = run("-m", "harness.cli", "boot", "--help")
    py = run("-m", "pytest", "-p", "no:cacheprovider", "--help")
    assert cli.returncode == 0 and py.returncode == 0, cli.stderr + py.stderr
    return cli.stdout, py.stdout


def test_every_shared_option_has_the_same_help_on_both_sides(helps: tuple[str, str]) -> None:
    assert len(SHARED) >= 9
    assert mismatches(SHARED, *helps) == []


def test_options_one_side_needs_stay_on_that_side(helps: tuple[str, str]) -> None:
    cli, py = help_entries(helps[0]), help_entries(pytest_group(helps[1]))
    assert set(CLI_ONLY) <= set(cli), set(CLI_ONLY) - set(cli)
    assert not set(CLI_ONLY) & set(py)
    assert set(py) == {o.flag for o in SHARED}  # the plugin's group is the table, nothing else


def drifted_cli_help(table: tuple[Option, ...], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", WIDE)
    parser = argparse.ArgumentParser(prog="harness boot")
    options.register(parser.add_argument, table)
    return parser.format_help()


def test_negative_control_a_help_that_drifted_on_one_side_is_caught(
    helps: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the CLI side registers from a table whose --cache-start help is pytest's old
    short one: the comparison names that option, both texts, and nothing else."""
    old = "the cache model's start state (default: warm on direct boots, cold behind U-Boot)"
    drifted = tuple(dataclasses.replace(o, help=old) if o.flag == "--cache-start" else o for o in SHARED)
    found = mismatches(SHARED, drifted_cli_help(drifted, monkeypatch), helps[1])
    assert found and all(f.startswith("--cache-start: ") for f in found), found
    assert any(old in f for f in found) and any("harness says" in f for f in found), found


def test_negative_control_an_option_on_one_side_only_is_caught(
    helps: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = Option("--cache-size", "the modeled cache's size", metavar="BYTES")
    table = (*SHARED, extra)
    assert mismatches(table, drifted_cli_help(table, monkeypatch), helps[1]) == ["--cache-size: not in pytest --help"]


BAD_VALUES = [
    ("--cache-start", "lukewarm", "bad value 'lukewarm'"),
    ("--target", "qemu-nope", "unknown target 'qemu-nope'"),
    ("--silent-ok", "-1", "not a positive number of seconds"),
    ("--timeout", "kernel=soon", "'soon' is not a positive number of seconds"),
]


@pytest.mark.parametrize("flag,value,fragment", BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_a_bad_value_is_the_same_one_line_on_both_sides(flag: str, value: str, fragment: str, tmp_path: Path) -> None:
    """`harness boot` (exit 2) and `pytest` (usage error, exit 4) print the same
    HarnessError, naming the option and the fix, before anything is built or collected."""
    never = tmp_path / "test_never_collected.py"
    never.write_text("def test_fails():\n    assert False\n")  # collected: exit 1, not 4
    cli = run("-m", "harness.cli", "boot", f"{flag}={value}", "--results", str(tmp_path / "r"))
    py = run("-m", "pytest", "-q", "-p", "no:cacheprovider", f"{flag}={value}", str(never))
    assert cli.returncode == 2 and py.returncode == pytest.ExitCode.USAGE_ERROR, cli.stderr + py.stderr
    for proc in (cli, py):
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    cli_lines, py_lines = cli.stderr.strip().splitlines(), py.stderr.strip().splitlines()
    assert len(cli_lines) == 1 and len(py_lines) == 1, cli.stderr + py.stderr
    assert cli_lines[0].startswith("harness: error: ") and py_lines[0].startswith("ERROR: ")
    message = cli_lines[0].removeprefix("harness: error: ")
    assert py_lines[0].removeprefix("ERROR: ") == message
    assert message.startswith(f"{flag}: ") and fragment in message and "(fix: " in message, message
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "flag,value,fragment",
    [
        *BAD_VALUES,
        ("--silent-ok", "inf", "not a positive number of seconds"),
        ("--expect", "(", "/(/ is not a regular expression"),
        ("--fail-on", "[", "/[/ is not a regular expression"),
        ("--timeout", "loader", "no ="),
    ],
)
def test_validate_names_the_option_and_the_fix(flag: str, value: str, fragment: str) -> None:
    option = next(o for o in SHARED if o.flag == flag)
    values = argparse.Namespace(**{option.name: [value] if option.kind == "list" else value})
    with pytest.raises(HarnessError) as exc:
        options.validate(values)
    assert exc.value.field == flag and fragment in str(exc.value) and exc.value.fix, str(exc.value)


def test_validate_keeps_good_values_and_converts_seconds() -> None:
    values = argparse.Namespace(
        target="qemu-virt",
        cache_start="cold",
        silent_ok="2.5",
        expect=["^done$"],
        fail_on=[],
        harness_timeout=["kernel=300"],
        coherence=False,
        results=None,
    )
    options.validate(values)
    assert values == argparse.Namespace(
        target="qemu-virt",
        cache_start="cold",
        silent_ok=2.5,
        expect=["^done$"],
        fail_on=[],
        harness_timeout=["kernel=300"],
        coherence=False,
        results=None,
    )


def test_the_target_default_is_the_environment_then_qemu_virt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(options.TARGET_ENV, raising=False)
    assert options.target_name(None) == "qemu-virt"
    monkeypatch.setenv(options.TARGET_ENV, "qemu-imx8mp")
    assert options.target_name(None) == "qemu-imx8mp" and options.target_name("qemu-virt-el2") == "qemu-virt-el2"


class _Config:
    def __init__(self, count: object) -> None:
        self.count = count

    def getoption(self, name: str, default: object = None) -> object:
        return self.count if name == "count" else default


@pytest.mark.parametrize("count,fresh", [(20, True), (2, True), (1, False), (None, False)])
def test_a_repeated_run_boots_every_time(count: object, fresh: bool) -> None:
    """`--count 20` proves a boot reliable only if each repeat boots: the session's outcome
    cache is then off (None: pytest-repeat absent, the option unknown)."""
    from harness.pytest_plugin import fresh_boots

    assert fresh_boots(_Config(count)) is fresh  # type: ignore[arg-type]

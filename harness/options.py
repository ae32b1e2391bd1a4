"""The boot options `harness boot` and `pytest` share, each defined once.

Both front ends register every option of `SHARED` from this table (argparse's
`add_argument` and pytest's `addoption` take the same keywords), so a flag has one
name, one destination, one help text and one validation on both sides; they had
drifted apart when each side wrote its own. Values are checked after parsing, not
by argparse (`type=`/`choices=`): argparse words its errors differently under
`harness` and under `pytest`, and a `HarnessError` is one line naming the option and
the fix on both sides (`harness: error: ...` / pytest's usage error).

Every default is "not given" (None, False, an empty list); what that means is said in
the help and decided by `target_name` (both sides) and by each side for `--results`,
whose default differs on purpose: a one-off `harness boot` writes to a new temporary
directory, a pytest run to results/ (the suites' JUnit, history and logs live there).

Options only one side has stay defined on that side:
- `harness boot` only (harness/cli.py): `--mode`, `--bug`, `--blob-mib` (which
  reference build to boot: a test chooses its own variants), `--verify` and `--until`
  (a test asks for them per boot), `--dry-run` (prints a command instead of booting),
  `--interactive` and `--gdb` (they need the terminal, which pytest captures).
- `pytest` only: nothing of ours; `--lg-env` is labgrid's own.
`harness repro` takes `--results` and `--history` from this table too; everything else
it reads from the record it reruns.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Sequence

from .coherence.plugin_report import START_STATES
from .errors import HarnessError
from .targets import parse_timeout, resolve

__all__ = ["Option", "SHARED", "TARGET_ENV", "DEFAULT_TARGET", "register", "target_name", "validate"]

TARGET_ENV = "HARNESS_TARGET"
DEFAULT_TARGET = "qemu-virt"

#: "value": one string; "flag": present or not; "list": repeatable, every value kept.
Kind = Literal["value", "flag", "list"]


@dataclass(frozen=True)
class Option:
    """One option: its flag, kind, help, and the check its values pass (raising
    HarnessError; it returns the value the program uses)."""

    flag: str
    help: str
    kind: Kind = "value"
    metavar: str | None = None
    dest: str | None = None
    check: Callable[[str], Any] | None = None

    @property
    def name(self) -> str:
        """The attribute the parsed value lands in, the same on both sides."""
        return self.dest or self.flag.lstrip("-").replace("-", "_")

    def keywords(self) -> dict[str, Any]:
        """The keywords for argparse's add_argument and pytest's addoption."""
        kw: dict[str, Any] = {"dest": self.name, "help": self.help}
        if self.kind == "flag":
            return {**kw, "action": "store_true"}
        if self.kind == "list":
            kw.update(action="append", default=[])
        else:
            kw["default"] = None
        return {**kw, "metavar": self.metavar} if self.metavar else kw


def _target(value: str) -> str:
    resolve(value)  # an unknown name or a missing file: HarnessError naming --target
    return value


def _cache_start(value: str) -> str:
    if value not in START_STATES:
        raise HarnessError(f"bad value {value!r}", field="--cache-start", fix=f"use one of: {', '.join(START_STATES)}")
    return value


def _silent_ok(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise HarnessError(
            f"bad value {value!r}: not a positive number of seconds",
            field="--silent-ok",
            fix="give the seconds of quiet after the hand-off that mean success, e.g. 3",
        )
    return seconds


def _regex(flag: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise HarnessError(
                f"/{value}/ is not a regular expression ({exc})",
                field=flag,
                fix=f"quote the pattern and escape special characters, e.g. {flag} 'Test suite passed\\.'",
            ) from None
        return value

    return check


def _timeout(value: str) -> str:
    parse_timeout(value)  # PHASE=SECONDS, the phase a known one: HarnessError naming --timeout
    return value


SHARED: tuple[Option, ...] = (
    Option(
        "--target",
        f"target name (targets/NAME.yaml) or path to a target file (default: ${TARGET_ENV}, else {DEFAULT_TARGET})",
        metavar="NAME",
        check=_target,
    ),
    Option("--image", "boot this seL4 elfloader image instead of the reference builds", metavar="FILE"),
    Option(
        "--results",
        "directory for console logs, timelines and reports (default: results/ "
        "under pytest, a new temporary directory for harness)",
        metavar="DIR",
    ),
    Option(
        "--history",
        "record every boot in this SQLite history (default: $HARNESS_HISTORY, "
        "else history.sqlite in the --results directory, or in results/ when "
        "none is given; 'off' records nothing)",
        metavar="PATH",
    ),
    Option("--coherence", "run under the cache-model plugin: coherence checks and modeled board time", kind="flag"),
    Option(
        "--cache-start",
        "the cache model's start state: warm (valid clean lines over the "
        "image and its destinations, as firmware may leave them; default on "
        "direct boots) or cold (empty; default behind U-Boot)",
        metavar="{" + ",".join(START_STATES) + "}",
        check=_cache_start,
    ),
    Option(
        "--expect",
        "a console line matching REGEX after the hand-off passes the boot "
        "(repeatable; sel4test's 'All is well in the universe' always does)",
        kind="list",
        metavar="REGEX",
        check=_regex("--expect"),
    ),
    Option(
        "--fail-on",
        "a console line matching REGEX after the hand-off fails the boot "
        "(repeatable; sel4test's '*** FAILURES DETECTED ***' always does)",
        kind="list",
        metavar="REGEX",
        check=_regex("--fail-on"),
    ),
    Option(
        "--silent-ok",
        "a kernel quiet this long after the hand-off counts as success",
        metavar="SECONDS",
        check=_silent_ok,
    ),
    # dest: pytest-timeout, when installed, owns the attribute `timeout`
    Option(
        "--timeout",
        "override one phase timeout of the target, e.g. kernel=300 (repeatable)",
        kind="list",
        metavar="PHASE=SECONDS",
        dest="harness_timeout",
        check=_timeout,
    ),
)


def register(add: Callable[..., Any], table: Sequence[Option] = SHARED, only: Iterable[str] | None = None) -> None:
    """Register the options (all, or the flags in `only`) through `add`:
    argparse's `add_argument` or a pytest option group's `addoption`."""
    wanted = set(only) if only is not None else None
    unknown = (wanted or set()) - {o.flag for o in table}
    if unknown:
        raise ValueError(f"not shared options: {', '.join(sorted(unknown))}")
    for option in table:
        if wanted is None or option.flag in wanted:
            add(option.flag, **option.keywords())


def validate(values: object, table: Sequence[Option] = SHARED) -> None:
    """Check every given value in place (argparse Namespace or pytest's config.option),
    replacing it by the value the program uses; the first bad one raises HarnessError."""
    for option in table:
        if option.check is None or not hasattr(values, option.name):
            continue
        raw = getattr(values, option.name)
        if raw is None or raw is False:
            continue
        checked = [option.check(v) for v in raw] if option.kind == "list" else option.check(raw)
        setattr(values, option.name, checked)


def target_name(given: str | None) -> str:
    """--target, else $HARNESS_TARGET, else qemu-virt."""
    return given or os.environ.get(TARGET_ENV) or DEFAULT_TARGET

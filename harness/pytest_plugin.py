"""pytest integration: `--target`, `--image`, and the boot fixtures.

`--target NAME` resolves targets/NAME.yaml, validates it, and hands it to
labgrid as if `--lg-env` had been given, so labgrid's own fixtures (`env`,
`target`, `strategy`) keep working and `--lg-env FILE` users are not broken.
"""

from __future__ import annotations

import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from . import options
from .errors import HarnessError
from .history.db import history_path
from .images.build import ROOT
from .checks.platform import check_platform
from .paths import fresh_run_folder
from .payload import Payload, from_user
from .result_folder import properties
from .session import BootSession, Outcome
from .targets import Target, load, with_overrides
from .testing import check_tools_marker, skip_reason, summary_lines

RESULTS = ROOT / "results"
TARGET_KEY = pytest.StashKey[Target]()
PAYLOAD_KEY = pytest.StashKey["Payload | None"]()
NEEDS_LAB_KEY = pytest.StashKey[bool]()  # a boot test was collected


def pytest_addoption(parser: pytest.Parser) -> None:
    """The options `harness boot` has too, from the one table (harness/options.py)."""
    options.register(parser.getgroup("harness", "seL4 boot harness").addoption)


def results_dir(config: pytest.Config) -> Path:
    """--results, else results/ in the repository."""
    return Path(config.getoption("results") or RESULTS)


def _marker_name(line: str) -> str:
    return line.split(":", 1)[0].split("(", 1)[0].strip()


def register_markers(config: pytest.Config) -> None:
    """The markers are written once, in pyproject.toml. A run whose ini file is another
    (your own tests with this plugin, an inner run in a temporary folder) is given the
    same list, so `requires_tool`, `boot`, `reference` and `lab` are known there too."""
    source = ROOT / "pyproject.toml"
    if not source.exists():
        return
    known = {_marker_name(line) for line in config.getini("markers")}
    options = tomllib.loads(source.read_text())["tool"]["pytest"]["ini_options"]
    for line in options.get("markers", []):
        if _marker_name(line) not in known:
            config.addinivalue_line("markers", line)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    register_markers(config)
    lg_env = getattr(config.option, "lg_env", None) or os.environ.get("LG_ENV")
    try:
        options.validate(config.option)  # one message per bad value, as `harness boot` says it
        name = config.getoption("target") or os.environ.get(options.TARGET_ENV)
        if name and lg_env:
            raise HarnessError("both --target and --lg-env given", field="--target", fix="pass only one of them")
        target = with_overrides(
            load(lg_env or options.target_name(name)),
            expect=config.getoption("expect"),
            fail_on=config.getoption("fail_on"),
            silent_ok=config.getoption("silent_ok"),
            timeouts=config.getoption("harness_timeout"),
        )
        image = config.getoption("image")
        payload = from_user(Path(image)) if image else None
        if payload is not None:  # an image for another SoC: one usage error, before any boot
            check_platform(payload, target)
        config.stash[PAYLOAD_KEY] = payload
        if target.remote:  # a lab target: its templates need the environment
            from .lab import missing_environment

            missing = missing_environment(target)
            if missing:
                raise HarnessError(
                    f"needs {', '.join(missing)} in the environment",
                    file=target.path,
                    fix=f"export {missing[0]}=... (docs/lab.md)",
                )
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[TARGET_KEY] = target
    if not lg_env:
        config.option.lg_env = str(target.path)


def pytest_report_header(config: pytest.Config) -> str:
    t = config.stash.get(TARGET_KEY, None)
    p = config.stash.get(PAYLOAD_KEY, None)
    return f"harness target: {t.name if t else '?'} ({t.path if t else ''})" + (f", image: {p.elf}" if p else "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[NEEDS_LAB_KEY] = any(
        item.get_closest_marker("boot") and not item.get_closest_marker("lab") for item in items
    )
    if config.stash.get(PAYLOAD_KEY, None) is None:
        return
    skip = pytest.mark.skip(reason="--image given: this test needs the reference elfloader")
    for item in items:
        if item.get_closest_marker("reference"):
            item.add_marker(skip)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """`@pytest.mark.requires_tool(...)`: a missing tool skips, or fails under CI=true --
    before any fixture of the test is set up."""
    check_tools_marker(item)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The run's skips counted by reason, one line each: a skip that hides missing
    evidence stands out (`[missing]`) instead of drowning in 's' characters."""
    reports = terminalreporter.stats.get("skipped", [])
    reasons = [skip_reason(getattr(r, "longrepr", "")) for r in reports]
    if not reasons:
        return
    terminalreporter.write_sep("=", f"skips by reason ({len(reasons)})")
    for line in summary_lines(reasons):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def harness_lab(pytestconfig: pytest.Config) -> Iterator[Any]:
    """A lab target (`remote: true`): hold its place for the whole run — and for
    `lab: virtual` bring the virtual lab up first — released/stopped at the end, also when
    a test fails or the run is interrupted (harness/lab/). Set up before labgrid's `env`
    (autouse), so the RemotePlace finds its coordinator and an acquired place."""
    target = pytestconfig.stash[TARGET_KEY]
    if not target.remote or not pytestconfig.stash.get(NEEDS_LAB_KEY, False):
        yield None
        return
    from .lab import lab_session

    logs = results_dir(pytestconfig) / target.name / f"lab-{time.strftime('%Y%m%d-%H%M%S')}"
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(msg: str) -> None:  # shown as it happens, not captured with a test
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"\nharness lab {msg}\n")

    try:
        with lab_session(target, logs, say) as run:
            yield run
    except HarnessError as exc:
        pytest.exit(f"harness {exc}" if str(exc).startswith("lab:") else f"harness lab: {exc}", returncode=3)


@pytest.fixture(scope="session")
def harness_target(pytestconfig: pytest.Config) -> Target:
    """The validated target of this run."""
    return pytestconfig.stash[TARGET_KEY]


@pytest.fixture(scope="session")
def user_payload(pytestconfig: pytest.Config) -> Payload | None:
    """The image given with --image, or None for the reference builds."""
    return pytestconfig.stash[PAYLOAD_KEY]


@pytest.fixture(scope="session")
def boot_session(pytestconfig: pytest.Config, env: Any, harness_target: Target) -> Iterator[BootSession]:
    """Boots on the selected target; the target is powered off when the session ends."""
    results = fresh_run_folder(results_dir(pytestconfig) / harness_target.name)
    session = BootSession(
        harness_target,
        results,
        env=env,
        coherence=bool(pytestconfig.getoption("coherence")),
        cache_start=pytestconfig.getoption("cache_start"),
        history=history_path(pytestconfig.getoption("history"), results_dir(pytestconfig)),
    )
    try:
        yield session
    finally:
        session.strategy.transition("off")


def fresh_boots(config: pytest.Config) -> bool:
    """True when the run repeats its tests (pytest-repeat's `--count N`, N > 1): a loop that
    proves a boot reliable must boot every time, not serve the session's first outcome."""
    count = config.getoption("count", default=1)
    return isinstance(count, int) and count > 1


@pytest.fixture
def boot(
    boot_session: BootSession, record_property: Callable[[str, object], None], request: pytest.FixtureRequest
) -> Callable[..., Outcome]:
    """Boot a payload (reused within the session, unless the run repeats its tests) and record
    its figures in JUnit."""
    fresh = fresh_boots(request.config)

    def run(payload: Payload, **kw: Any) -> Outcome:
        if fresh:
            kw["reuse"] = False
        outcome = boot_session.boot(payload, name=kw.pop("name", payload.label), **kw)
        for key, value in properties(outcome.result).items():
            record_property(key, value)
        if outcome.result.log_path is not None:  # `harness repro junit.xml::TEST`
            record_property("result_dir", str(outcome.result.log_path.parent))
        return outcome

    return run

"""The README's `pytest --image` line, on a stock and on a patched sel4test.

A person brings an image the suite did not build. The suite must tell from the image
itself (its elfloader's `early_mmu_begin` symbol) whether it carries the early-MMU patch,
run the patched loader's checks on a patched image, and on a stock one run the stock
loader's and skip the patched ones saying why. Each image goes through a real
`pytest --image` run in a subprocess, judged from its JUnit XML.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness import processes
from harness.images.build import ROOT
from harness.sel4.build import build
from harness.sel4.config import Sel4Config, for_target
from harness.targets import Target

pytestmark = [pytest.mark.boot, pytest.mark.sel4]

# What each kind of image must do in the inner run: test id -> "passed" | "skipped: REASON".
INNER = (
    "tests/test_boot.py::test_image_boot_checks",
    "tests/test_sel4.py::test_patched_loader_unpacks_with_caches_on[early-mmu-setway]",
    "tests/test_sel4.py::test_stock_loader_prints_no_early_mmu_line",
)
EXPECTED = {
    "stock": {
        "test_image_boot_checks": "passed",
        "test_patched_loader_unpacks_with_caches_on[early-mmu-setway]": (
            "skipped: --image given: your image is a stock loader (no 'early_mmu_begin' symbol)"
        ),
        "test_stock_loader_prints_no_early_mmu_line": "passed",
    },
    "early-mmu": {
        "test_image_boot_checks": "passed",
        "test_patched_loader_unpacks_with_caches_on[early-mmu-setway]": "passed",
        "test_stock_loader_prints_no_early_mmu_line": (
            "skipped: --image given: your image is a patched loader (it has 'early_mmu_begin')"
        ),
    },
}
INNER_TIMEOUT = 1800.0  # three boots, one of them to sel4test's verdict, on a loaded host


@pytest.fixture(scope="module")
def sel4_cfg(harness_target: Target, user_payload: object) -> Sel4Config:
    if user_payload is not None:
        pytest.skip("--image given: this test brings its own stock and patched images")
    if harness_target.boot != "qemu" or harness_target.machine != "virt" or harness_target.expect_el != 1:
        pytest.skip(
            "the --image round trip runs once, on the direct QEMU virt target at EL1 "
            "(qemu-virt): every other target takes the same --image path"
        )
    cfg = for_target(harness_target.machine, harness_target.expect_el)
    if isinstance(cfg, str):
        pytest.skip(cfg)
    return cfg


def built(cfg: Sel4Config, kind: str) -> Path:
    return build(Sel4Config(**{**cfg.__dict__, "early_mmu": kind == "early-mmu"})).elfloader


def outcomes(junit: Path) -> dict[str, str]:
    """test name -> 'passed', 'failed: ...' or 'skipped: REASON' from a JUnit file."""
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        skipped = case.find("skipped")
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            out[case.get("name", "?")] = f"failed: {bad.get('message', '')}"
        elif skipped is not None:
            out[case.get("name", "?")] = f"skipped: {skipped.get('message', '')}"
        else:
            out[case.get("name", "?")] = "passed"
    return out


def inner_pytest(target: Target, image: Path, tmp: Path) -> tuple[int, dict[str, str], str]:
    """`pytest -m boot --target T --image IMAGE` on the three tests, in its own session;
    stopped (SIGTERM, then SIGKILL) whatever happens here."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "HARNESS_TARGET", "LG_ENV")}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
        "-m",
        "boot",
        f"--target={target.path}",
        "--image",
        str(image),
        "--results",
        str(tmp / "results"),
        "--history",
        "off",
        "--junitxml",
        str(tmp / "junit.xml"),
        *INNER,
    ]
    log_path = tmp / "inner.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    processes.register(proc.pid, "inner pytest --image")
    try:
        rc = proc.wait(INNER_TIMEOUT)
    finally:
        processes.stop(proc)
    text = log_path.read_text(errors="replace")
    assert (tmp / "junit.xml").exists(), text[-3000:]
    return rc, outcomes(tmp / "junit.xml"), text


def test_the_image_says_whether_it_is_patched(sel4_cfg: Sel4Config) -> None:
    """The tell tests/test_sel4.py relies on, on the two builds: the patched elfloader has the
    early-MMU window's symbol, the stock one has not."""
    from harness.payload import from_user

    assert "early_mmu_begin" not in from_user(built(sel4_cfg, "stock")).loader.symbols
    assert "early_mmu_begin" in from_user(built(sel4_cfg, "early-mmu")).loader.symbols


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_pytest_image_runs_the_checks_of_its_kind(
    kind: str, sel4_cfg: Sel4Config, harness_target: Target, tmp_path: Path
) -> None:
    image = built(sel4_cfg, kind)
    rc, got, log = inner_pytest(harness_target, image, tmp_path)
    want = EXPECTED[kind]
    assert set(got) == set(want), (got, log[-3000:])
    for name, outcome in want.items():
        assert got[name].startswith(outcome), (name, got[name], log[-3000:])
    assert rc == 0, log[-3000:]

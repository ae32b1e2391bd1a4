"""The loader's CPIO/ELF parsers under libFuzzer + ASan + UBSan (fuzz/README.md).

A short run of each target (>= 100k executions, no crash), every kept regression input
replayed, and a negative control: the CPIO reader built with a planted off-by-one, which the
same short run must catch with a heap-buffer-overflow report in the parser.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness.testing import require_tool

from harness.images.cpio import write_newc

from helpers.elfgen import Elf, Seg

pytestmark = pytest.mark.host

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "build/fuzz/bin"
SEEDS = ROOT / "build/fuzz/seeds"
REGRESSIONS = ROOT / "fuzz/regressions"
TARGETS = ("cpio", "elf")
SHORT_RUNS = 100_000
MAX_LEN = 65536


@dataclass(frozen=True)
class Run:
    returncode: int
    log: str

    @property
    def executions(self) -> int:
        done = re.search(r"^Done (\d+) runs in", self.log, re.M)
        return int(done.group(1)) if done else 0


@pytest.fixture(scope="module")
def fuzzers() -> Path:
    """Build the fuzzers (make skips what is up to date) and cut seeds from real images."""
    require_tool(
        "clang", "the fuzzers are built with clang's libFuzzer", "make setup installs clang and libclang-rt-14-dev"
    )
    subprocess.run(["make", "-s", "-C", str(ROOT / "fuzz"), f"OUT={BIN}"], check=True)
    subprocess.run([sys.executable, str(ROOT / "fuzz/seeds.py"), str(SEEDS)], check=True, cwd=ROOT)
    return BIN


def synthetic_seeds(tmp: Path) -> dict[str, Path]:
    """One small kernel ELF and its archive, so a machine without built images still seeds."""
    seeds = {t: tmp / f"synthetic-{t}" for t in TARGETS}
    for d in seeds.values():
        d.mkdir(parents=True)
    elf = Elf(
        0x40200000,
        [Seg(0x40200000, b"\x1f\x20\x03\xd5" * 16, flags=5), Seg(0x40201000, b"data" * 4, memsz=4096, flags=6)],
    )
    kernel = elf.write(seeds["elf"] / "kernel.elf")
    write_newc([("kernel.elf", kernel)], seeds["cpio"] / "archive.cpio")
    return seeds


def fuzz(binary: Path, target: str, tmp: Path, runs: int = SHORT_RUNS, built_seeds: bool = True) -> Run:
    """A fresh corpus in tmp (written), then the seeds and regressions (read).

    `built_seeds=False` leaves out the seeds cut from this machine's images: what
    they are depends on what was built before the test ran, so a run that must
    reach a result within a fixed budget (the negative control) uses only the
    synthetic seeds and the regression inputs, which are the same everywhere."""
    corpus = tmp / f"corpus-{binary.name}"
    corpus.mkdir()
    synthetic = synthetic_seeds(tmp / binary.name)
    dirs = [corpus, synthetic[target], *([SEEDS / target] if built_seeds else []), REGRESSIONS / target]
    args = [
        str(binary),
        f"-runs={runs}",
        "-seed=1",
        f"-max_len={MAX_LEN}",
        "-rss_limit_mb=2048",
        "-timeout=10",
        f"-artifact_prefix={tmp}/",
        *[str(d) for d in dirs if d.is_dir()],
    ]
    env = dict(os.environ, ASAN_OPTIONS="quarantine_size_mb=64:malloc_context_size=10")
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=300)
    return Run(proc.returncode, proc.stdout.decode(errors="replace"))


@pytest.mark.parametrize("target", TARGETS)
def test_short_run_finds_nothing(fuzzers: Path, target: str, tmp_path: Path) -> None:
    run = fuzz(fuzzers / f"fuzz_{target}", target, tmp_path)
    tail = run.log[-3000:]
    assert run.returncode == 0, f"fuzz_{target} crashed:\n{tail}"
    assert "ERROR" not in run.log, tail
    assert run.executions >= SHORT_RUNS, f"fuzz_{target} ran {run.executions} times:\n{tail}"


@pytest.mark.parametrize("target", TARGETS)
def test_regressions_replay_clean(fuzzers: Path, target: str) -> None:
    inputs = sorted((REGRESSIONS / target).iterdir())
    assert inputs, f"no regression inputs under {REGRESSIONS / target}"
    proc = subprocess.run(
        [str(fuzzers / f"fuzz_{target}"), *map(str, inputs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    log = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    for path in inputs:
        assert f"Executed {path}" in log, f"{path.name} was not replayed:\n{log[-3000:]}"


def test_negative_control_is_caught(fuzzers: Path, tmp_path: Path) -> None:
    """fuzz_cpio_control: cpio.c built with FUZZ_CONTROL_CPIO_NAMESIZE (the name's NUL left
    out of its length); the short run must report the overflow it causes in cpio_next. Its
    corpus is the same on every machine (found at 18k-63k executions for -seed 1..6), so
    the verdict cannot follow which images happen to be built."""
    run = fuzz(fuzzers / "fuzz_cpio_control", "cpio", tmp_path, built_seeds=False)
    tail = run.log[-3000:]
    assert run.returncode != 0, f"the planted CPIO bug was not found:\n{tail}"
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in run.log, tail
    assert re.search(r"#0 0x[0-9a-f]+ in cpio_next \S*images/elfloader/cpio\.c:\d+", run.log), tail
    assert list(tmp_path.glob("crash-*")), "libFuzzer wrote no crash input"

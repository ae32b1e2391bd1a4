"""Target YAML validation and CLI bad-input handling: one clear line, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from harness.errors import HarnessError
from harness.targets import TARGETS_DIR, available, load

pytestmark = pytest.mark.host


@pytest.mark.parametrize("name", available())
def test_shipped_targets_validate(name: str) -> None:
    t = load(name)
    assert t.name == name and t.dram[1] > 0


def write_variant(tmp: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    data = yaml.safe_load((TARGETS_DIR / "qemu-virt.yaml").read_text())
    change(data)
    path = tmp / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "change,field,fix",
    [
        (lambda d: d["harness"].pop("machine"), "harness.machine", "add 'machine:"),
        (lambda d: d["harness"].__setitem__("machine", "rpi4"), "harness.machine", "virt | imx8mp"),
        (lambda d: d["harness"]["timeouts"].__setitem__("unpack", -1), "harness.timeouts.unpack", "seconds"),
        (
            lambda d: d["harness"]["memory_map"].__setitem__("dram_base", "lots"),
            "harness.memory_map.dram_base",
            "0x40000000",
        ),
        (lambda d: d["harness"].__setitem__("colour", "red"), "harness.colour", "remove it"),
        (lambda d: d["harness"]["expect"].__setitem__("el", 4), "harness.expect.el", "1 | 2 | 3"),
        (lambda d: d.pop("harness"), "harness", "add a 'harness:' section"),
        (lambda d: d.pop("targets"), "targets.main", "labgrid"),
        (lambda d: d["harness"].__setitem__("boot", "uboot"), "harness.uboot", "uboot:"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, change: Callable[[dict[str, Any]], object], field: str, fix: str) -> None:
    path = write_variant(tmp_path, change)
    with pytest.raises(HarnessError) as exc:
        load(str(path))
    msg = str(exc.value)
    assert str(path) in msg and field in msg and fix in msg, msg


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("targets:\n  main: [\nharness: {\n")
    with pytest.raises(HarnessError) as exc:
        load(str(path))
    assert "not valid YAML" in str(exc.value) and "line" in str(exc.value)


def test_unknown_target_lists_the_known_ones() -> None:
    with pytest.raises(HarnessError) as exc:
        load("qemu-nope")
    assert "unknown target 'qemu-nope'" in str(exc.value) and "qemu-virt" in str(exc.value)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["boot", "--target", "qemu-nope"], "unknown target 'qemu-nope'"),
        (["boot", "--image", "/nonexistent/elfloader.elf"], "no such file"),
        (["boot", "--image", __file__], "not an ELF file"),
    ],
)
def test_cli_bad_input_is_one_line(args: list[str], fragment: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert fragment in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_pytest_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--target=qemu-nope",
            "-q",
            str(Path(__file__).parent / "test_console_lines.py"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4
    assert "unknown target 'qemu-nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_qemu_binary_is_named(tmp_path: Path) -> None:
    from harness.session import BootSession

    path = write_variant(tmp_path, lambda d: d["tools"].__setitem__("qemu", "/opt/none/qemu-system-aarch64"))
    with pytest.raises(HarnessError) as exc:
        BootSession(load(str(path)), tmp_path)
    assert "tools.qemu" in str(exc.value) and "bookworm-backports" in str(exc.value)


def test_missing_cross_compiler_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.images import build

    monkeypatch.setattr(build, "CROSS", "no-such-triplet-")
    with pytest.raises(HarnessError) as exc:
        build._make("probe", True)
    assert "gcc-aarch64-linux-gnu" in str(exc.value)

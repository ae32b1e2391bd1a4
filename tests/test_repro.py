"""`harness repro RESULT`: a recorded boot rerun exactly, and told whether it reproduced.

Host tests: every bad input is one HarnessError line naming file, field and fix;
JUnit cases find their result folder; a board's result plans onto the QEMU target of
its SoC. Boot tests: a failing negative control and a passing boot, each recorded by
`harness boot` and rerun by `harness repro`, report "reproduced".
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.errors import HarnessError
from harness.history.document import sha256_of
from harness.images.build import Variant, build
from harness.repro import ReproOutcome, locate, plan, verdict_line
from harness.targets import Target, load


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=600)


def fake_result(folder: Path, target: Path, variant: Variant, **over: Any) -> Path:
    """A schema-2 result.json as a boot of `variant` on `target` writes it (the parts repro reads)."""
    b = build(variant)
    doc: dict[str, Any] = {
        "schema": 2,
        "ok": True,
        "failure_detail": None,
        "mode": variant.mode,
        "boot": {"id": f"x/y/{variant.name}"},
        "target_file": {
            "name": target.stem,
            "path": str(target),
            "sha256": sha256_of(target),
            "timeouts": {"kernel": 300.0},
            "verdict": {"expect": [], "fail_on": [], "silent_ok": None},
        },
        "payload": {
            "kind": "reference",
            "sha256": sha256_of(b.elfloader),
            "path": str(b.elfloader),
            "variant": {
                "machine": variant.machine,
                "mode": variant.mode,
                "bug": variant.bug,
                "pt_pages": None,
                "blob_bytes": variant.blob_bytes,
                "blob_seed": variant.blob_seed,
                "console": variant.console,
                "uart_base": variant.uart_base,
            },
        },
        "options": {"coherence": False, "verify": False, "until": "verdict", "extra": []},
        "checks": [{"name": "segments", "status": "pass", "message": ""}],
    }
    for dotted, value in over.items():
        *path, last = dotted.split("__")
        node = doc
        for key in path:
            node = node[key]
        node[last] = value
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(doc))
    return folder / "result.json"


@pytest.mark.host
def test_bad_results_are_one_line_naming_file_field_and_fix(tmp_path: Path) -> None:
    (tmp_path / "junk.json").write_text("{")
    (tmp_path / "old.json").write_text(json.dumps({"ok": True, "schema": 1}))
    for arg, field in (
        (tmp_path / "none", "RESULT"),
        (tmp_path / "junk.json", "RESULT"),
        (tmp_path / "old.json", "schema"),
        (tmp_path, "RESULT"),
    ):
        proc = harness("repro", str(arg))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1 and str(arg) in proc.stderr, proc.stderr
        assert f": {field}: " in proc.stderr and "(fix: " in proc.stderr, proc.stderr


@pytest.mark.host
def test_an_edited_target_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "targets" / "qemu-virt.yaml"
    target.parent.mkdir()
    shutil.copy(load("qemu-virt").path, target)
    src = fake_result(tmp_path / "r", target, Variant("virt", "early-mmu"))
    shutil.copy(target, src.parent / "target.yaml")
    target.write_text(target.read_text().replace("kernel: 300", "kernel: 301"))
    with pytest.raises(HarnessError) as exc:
        plan(str(src), tmp_path / "work")
    e = exc.value
    assert e.file == str(target) and e.field == "target_file.sha256" and "edited" in e.what
    assert e.fix is not None and f"cp {src.parent / 'target.yaml'} {target}" in e.fix


@pytest.mark.host
def test_a_changed_image_is_refused(tmp_path: Path) -> None:
    image = tmp_path / "my-image.elf"
    image.write_bytes(b"\x7fELF not the one")
    src = fake_result(
        tmp_path / "r",
        load("qemu-virt").path,
        Variant("virt", "early-mmu"),
        payload__kind="user",
        payload__path=str(image),
        payload__sha256="ab" * 32,
    )
    with pytest.raises(HarnessError) as exc:
        plan(str(src), tmp_path / "work")
    assert exc.value.file == str(image) and exc.value.field == "payload.sha256"
    assert "changed" in exc.value.what and "abababab" in str(exc.value.fix)
    src = fake_result(tmp_path / "r2", load("qemu-virt").path, Variant("virt", "early-mmu"), payload__sha256="cd" * 32)
    with pytest.raises(HarnessError) as exc:
        plan(str(src), tmp_path / "work")
    assert exc.value.field == "payload.sha256" and "rebuilt from its variant" in exc.value.what


@pytest.mark.host
def test_a_board_result_reruns_on_the_qemu_target_of_its_soc(tmp_path: Path) -> None:
    for board, uart in (("armstone-imx8mp", None), ("verdin-imx8mp", 0x30880000)):
        b = load(board)
        src = fake_result(tmp_path / board, b.path, Variant("imx8mp", "early-mmu", uart_base=uart))
        p = plan(str(src), tmp_path / "work")
        assert p.target.is_qemu and not p.target.remote and p.target.machine == "imx8mp"
        assert p.target.console_uart == uart
        assert p.notes and f"{board} is a board" in p.notes[0] and "same SoC" in p.notes[0]


@pytest.mark.host
def test_junit_cases_name_their_result_folder(tmp_path: Path) -> None:
    src = fake_result(tmp_path / "r", load("qemu-virt").path, Variant("virt", "early-mmu"))
    xml = tmp_path / "junit.xml"
    xml.write_text(f"""<testsuites><testsuite name="pytest">
      <testcase classname="tests.test_boot" name="test_boot_reaches_the_kernel">
        <properties><property name="result_dir" value="{src.parent}"/></properties></testcase>
      <testcase classname="tests.test_boot" name="test_quiet"/>
    </testsuite></testsuites>""")
    assert locate(f"{xml}::test_boot_reaches_the_kernel") == src
    assert locate(f"{xml}::tests/test_boot.py::test_boot_reaches_the_kernel") == src
    for test, words in (("test_quiet", "recorded no result folder"), ("nope", "no test case")):
        with pytest.raises(HarnessError) as exc:
            locate(f"{xml}::{test}")
        assert words in exc.value.what and exc.value.file == str(xml)


@pytest.mark.host
def test_the_verdict_compares_what_decides_a_boot() -> None:
    passed = ReproOutcome(True, None, ())
    control = ReproOutcome(True, None, ("segments",))
    assert verdict_line(control, control)[0] and verdict_line(passed, passed)[1].startswith("reproduced")
    same, line = verdict_line(control, ReproOutcome(True, None, ("bss",)))
    assert not same and "NOT reproduced" in line and "segments" in line and "bss" in line


@pytest.mark.boot
@pytest.mark.reference
@pytest.mark.parametrize(
    "mode,bug", [("mmu-off", "corrupt-segment"), ("early-mmu", "none")], ids=["negative-control", "passing"]
)
def test_repro_reruns_a_recorded_boot(harness_target: Target, tmp_path: Path, mode: str, bug: str) -> None:
    if harness_target.remote:
        pytest.skip("a lab target: its place is held by this run (repro holds its own)")
    first = harness(
        "boot",
        "--target",
        str(harness_target.path),
        "--mode",
        mode,
        "--bug",
        bug,
        "--results",
        str(tmp_path / "first"),
        "--history",
        "off",
    )
    assert ("[fail] segments" in first.stdout) == (bug != "none"), first.stdout + first.stderr
    again = harness("repro", str(tmp_path / "first"), "--results", str(tmp_path / "again"), "--history", "off")
    assert again.returncode == 0, again.stdout + again.stderr
    last = again.stdout.strip().splitlines()[-1]
    assert last.startswith("harness: reproduced: "), again.stdout
    assert ("failing checks: segments" in last) == (bug != "none"), last
    assert list((tmp_path / "again").glob("*/*/result.json"))


@pytest.mark.host
def test_an_early_map_boot_reruns_with_its_stop(tmp_path: Path) -> None:
    """`--early-map` is part of what a boot was: its rerun stops at the MMU enable too."""
    target = load("qemu-imx8mp").path
    variant = Variant("imx8mp", "early-mmu")
    plain = plan(str(fake_result(tmp_path / "a", target, variant)), tmp_path / "w1")
    assert "early_map" not in plain.options
    src = fake_result(tmp_path / "b", target, variant, options__early_map=True)
    assert plan(str(src), tmp_path / "w2").options["early_map"] is True

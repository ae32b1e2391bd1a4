"""Carve-outs in a target's memory map: valid ones load, each defect is one error naming
the file, the field and the fix; the i.MX8M Plus targets declare OP-TEE's with a source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import HarnessError
from harness.images.build import ROOT
from harness.memory_map import MACHINE_CONSOLE_UART
from harness.targets import TARGETS_DIR, load

pytestmark = pytest.mark.host

OPTEE = {"name": "optee", "base": 0x56000000, "size": 0x2000000, "source": "imx-atf BL32_BASE"}


def target_with(tmp: Path, carve_outs: Any) -> Path:
    data = yaml.safe_load((TARGETS_DIR / "qemu-imx8mp.yaml").read_text())
    data["harness"]["memory_map"]["carve_outs"] = carve_outs
    path = tmp / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_carve_out_loads(tmp_path: Path) -> None:
    second = {**OPTEE, "name": "late", "base": 0xBF000000, "size": "0x100_0000"}
    t = load(str(target_with(tmp_path, [second, OPTEE])))
    assert [(c.name, c.base, c.end) for c in t.carve_outs] == [
        ("optee", 0x56000000, 0x58000000),
        ("late", 0xBF000000, 0xC0000000),
    ]  # by address


@pytest.mark.parametrize(
    "change,field,words,fix",
    [
        ({"size": 0}, "carve_outs[0].size", "size 0", "give the region's size"),
        ({"base": 0x30000000, "size": 0x1000}, "carve_outs[0].base", "lies outside DRAM", "leave memory outside DRAM"),
        ({"base": 0x3FF00000, "size": 0x200000}, "carve_outs[0].base", "crosses the start of DRAM", "clip it to DRAM"),
        ({"base": 0xBFF00000, "size": 0x200000}, "carve_outs[0].size", "crosses the end of DRAM", "clip it to DRAM"),
        ({"base": 0x56000800}, "carve_outs[0].base", "not a multiple of 4 KiB", "round the base down"),
        ({"size": "lots"}, "carve_outs[0].size", "bad value 'lots'", "e.g. 0x56000000"),
        ({"source": ""}, "carve_outs[0].source", "non-empty string", "say where the figure comes from"),
        ({"colour": "red"}, "carve_outs[0].colour", "unknown field", "remove it"),
    ],
)
def test_each_defect_is_named(tmp_path: Path, change: dict[str, Any], field: str, words: str, fix: str) -> None:
    path = target_with(tmp_path, [{**OPTEE, **change}])
    with pytest.raises(HarnessError) as exc:
        load(str(path))
    msg = str(exc.value)
    assert str(path) in msg and f"harness.memory_map.{field}" in msg, msg
    assert words in msg and fix in msg, msg


def test_missing_source_and_overlap_and_list(tmp_path: Path) -> None:
    bare = {k: v for k, v in OPTEE.items() if k != "source"}
    for value, field, words in (
        ([bare], "carve_outs[0].source", "missing"),
        (
            [OPTEE, {**OPTEE, "name": "tee2", "base": 0x57000000}],
            "carve_outs[1].base",
            "overlaps carve-out 'optee' [0x56000000..0x58000000)",
        ),
        ([OPTEE, OPTEE], "carve_outs[1].name", "a second carve-out named 'optee'"),
        (OPTEE, "carve_outs", "must be a list"),
    ):
        path = target_with(tmp_path, value)
        with pytest.raises(HarnessError) as exc:
            load(str(path))
        msg = str(exc.value)
        assert f"harness.memory_map.{field}" in msg and words in msg, msg


@pytest.mark.parametrize("name", ["qemu-imx8mp", "qemu-imx8mp-el3", "qemu-imx8mp-uboot", "qemu-imx8mp-uboot-mmc"])
def test_imx8mp_qemu_targets_keep_optee_out(name: str) -> None:
    """The QEMU i.MX8M Plus targets stand for a firmware that runs OP-TEE where NXP's puts it,
    sourced, so every carve-out check has one to hold loaders to."""
    t = load(name)
    assert [(c.name, c.base, c.size) for c in t.carve_outs] == [("optee", 0x56000000, 0x2000000)]
    assert "BL32_BASE" in t.carve_outs[0].source, t.carve_outs[0].source


@pytest.mark.parametrize("name", ["armstone-imx8mp", "verdin-imx8mp"])
def test_boards_declare_no_carve_out_their_own_boots_ran_through(name: str) -> None:
    """The user's 596 MB boots on these boards unpacked through NXP's OP-TEE default and
    finished, so none is declared there; the file says how to check and what to declare."""
    t = load(name)
    assert t.carve_outs == ()
    text = t.path.read_text()
    assert "0x56000000" in text and "fdt print /reserved-memory" in text


def test_overlay_reserves_the_qemu_carve_out() -> None:
    """seL4's imx8mp build leaves out exactly the carve-out the QEMU target declares."""
    overlay = (ROOT / "harness/sel4/overlays/imx8mp-evk-2g.dts").read_text()
    node = re.search(r"optee@56000000 \{\s*reg = <0x0 (0x[0-9a-f]+) 0x0 (0x[0-9a-f]+)>;\s*no-map;", overlay)
    assert node is not None
    c = load("qemu-imx8mp").carve_outs[0]
    assert (int(node.group(1), 16), int(node.group(2), 16)) == (c.base, c.size)
    control = (ROOT / "harness/sel4/overlays/imx8mp-evk-2g-unreserved.dts").read_text()
    assert "reserved-memory" not in control.split("*/", 1)[1]


@pytest.mark.parametrize("machine", sorted(MACHINE_CONSOLE_UART))
def test_console_uart_matches_the_machine_makefile(machine: str) -> None:
    mk = (ROOT / "images" / "machines" / f"{machine}.mk").read_text()
    m = re.search(r"^UART_BASE\s*:=\s*(0x[0-9a-fA-F]+)", mk, re.M)
    assert m is not None and int(m.group(1), 16) == MACHINE_CONSOLE_UART[machine]

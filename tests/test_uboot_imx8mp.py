"""U-Boot proper on QEMU's imx8mp-evk (targets/qemu-imx8mp-uboot.yaml): host tests.

What the target asks of QEMU (the firmware stand-in as -kernel, U-Boot beside it with its
entry in the mailbox, the SoC's ENET as the NIC), what the poison leaves alone, how the
U-Boot build is found, and the config fragment's form. That U-Boot reaches its prompt,
fetches a package through the ENET and boots it is the boot suites' work
(`--target=qemu-imx8mp-uboot tests/test_uboot_boot.py tests/test_boot.py`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.errors import HarnessError
from harness.images.build import ROOT, build_firmware
from harness.images.elf import read_elf
from harness.qemu.firmware import Firmware, firmware_for
from harness.qemu.poison import UBOOT_IMAGE_WINDOW, qemu_reserved
from harness.targets import TARGETS_DIR, load
from harness.uboot import qemu_start, source_build

pytestmark = pytest.mark.host

FRAGMENT = ROOT / "images" / "uboot-imx8mp" / "imx8mp-qemu.config"


def test_target_is_uboot_behind_the_firmware_stand_in() -> None:
    t = load("qemu-imx8mp-uboot")
    assert (t.machine, t.boot, t.firmware, t.expect_el) == ("imx8mp", "uboot", "stand-in", 2)
    assert t.uboot is not None and t.uboot.prompt == "u-boot=> "
    images = t.env["images"]
    assert Path(images["uboot"]).name == source_build.OUTPUT
    assert Path(images["uboot"]).parent.name in source_build.SCRIPTS


def test_a_board_brings_its_own_firmware(tmp_path: Path) -> None:
    data: dict[str, Any] = yaml.safe_load((TARGETS_DIR / "qemu-imx8mp-uboot.yaml").read_text())
    data["harness"]["remote"] = True
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(HarnessError) as exc:
        load(str(path))
    assert "harness.firmware" in str(exc.value) and "board" in str(exc.value)


def test_the_nic_is_the_machines_own_where_it_has_one(tmp_path: Path) -> None:
    imx = qemu_start.network_args("imx8mp", tmp_path)
    assert imx[0] == "-nic" and "model=imx.enet" in imx[1]
    virt = qemu_start.network_args("virt", tmp_path)
    assert virt[0] == "-netdev" and "virtio-net-device,netdev=uboot-net" in virt
    for args in (imx, virt):
        assert f"tftp={tmp_path}" in " ".join(args) and "restrict=on" in " ".join(args)


def test_uboot_is_loaded_beside_the_firmware_and_entered_through_its_mailbox() -> None:
    firmware = firmware_for(load("qemu-imx8mp-uboot"))
    assert isinstance(firmware, Firmware)
    # any ELF serves for the placement: its entry is what goes into the mailbox
    elf = build_firmware("imx8mp")
    args = qemu_start.firmware_args(firmware, elf, 0x40000000)
    entry = read_elf(elf, "elf").entry_paddr
    assert args == [
        "-device",
        f"loader,file={elf}",
        "-device",
        f"loader,addr={firmware.mailbox:#x},data={entry:#x},data-len=8",
    ]


def test_poison_keeps_off_uboots_image_only() -> None:
    t = load("qemu-imx8mp-uboot")
    base = t.dram[0]
    assert qemu_reserved(t) == [(base + UBOOT_IMAGE_WINDOW[0], base + UBOOT_IMAGE_WINDOW[1])]
    assert qemu_reserved(load("qemu-imx8mp")) == []  # the loader itself is the image there


def test_a_uboot_image_from_elsewhere_must_exist(tmp_path: Path) -> None:
    with pytest.raises(HarnessError) as exc:
        source_build.built_uboot(tmp_path / "u-boot.bin")
    assert "images.uboot" in str(exc.value)
    given = tmp_path / "u-boot.elf"
    given.write_bytes(b"\x7fELF")
    assert source_build.built_uboot(given) == given


def fake_script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "build.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def test_the_build_goes_to_the_build_directory_wherever_the_target_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of the target file elsewhere names ../build/uboot-imx8mp/... relative to
    itself; the build still happens (once) in the harness's build directory."""
    script = fake_script(tmp_path, 'mkdir -p "$1" && echo built >> "$1/u-boot-qemu.elf"\n')
    monkeypatch.setitem(source_build.SCRIPTS, "uboot-imx8mp", script)
    monkeypatch.setenv("HARNESS_BUILD", str(tmp_path / "build"))
    elsewhere = tmp_path / "copy" / "uboot-imx8mp" / source_build.OUTPUT
    built = source_build.built_uboot(elsewhere)
    assert built == tmp_path / "build" / "uboot-imx8mp" / source_build.OUTPUT
    assert built.is_file() and not elsewhere.exists()


def test_a_failed_build_quotes_the_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = fake_script(tmp_path, 'echo "build-uboot-imx8mp: error: swig is missing" >&2\nexit 1\n')
    monkeypatch.setitem(source_build.SCRIPTS, "uboot-imx8mp", script)
    monkeypatch.setenv("HARNESS_BUILD", str(tmp_path / "build"))
    with pytest.raises(HarnessError) as exc:
        source_build.built_uboot(tmp_path / "uboot-imx8mp" / source_build.OUTPUT)
    assert "swig is missing" in str(exc.value) and str(script) in str(exc.value)


def test_the_fragment_is_only_settings_and_comments() -> None:
    """scripts/build-uboot-imx8mp.sh checks each setting survived Kconfig; a line it cannot
    read would escape that check."""
    setting = re.compile(r'^(CONFIG_[A-Z0-9_]+=(y|n|".*"|0x[0-9a-f]+|\d+)|# CONFIG_[A-Z0-9_]+ is not set)$')
    for line in FRAGMENT.read_text().splitlines():
        assert not line or line.startswith("# ") and not line.startswith("# CONFIG_") or setting.match(line), line
    assert "# CONFIG_SPL is not set" in FRAGMENT.read_text().splitlines()

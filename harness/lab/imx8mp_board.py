"""The lab's i.MX8M Plus place: QEMU imx8mp-evk with our U-Boot, TFTP from atftpd.

The machine starts as `qemu-imx8mp-uboot` starts it (harness/uboot/qemu_start.py): the
firmware stand-in is -kernel, U-Boot goes in beside it with its entry in the stand-in's
mailbox, the console is UART2 (`-serial null` takes UART1). Unlike the virt place, its
TFTP is not QEMU's: the lab runs atftpd (harness/lab/atftpd.py), which grants RFC 7440
windows, and U-Boot sends to it with `setenv tftpdstp PORT` (CONFIG_TFTP_PORT).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..images.build import FIRMWARE_MAILBOX, ROOT, build_firmware
from ..images.elf import read_elf
from ..qemu.command import ONE_TCG_THREAD
from ..qemu.firmware import Firmware
from ..uboot.qemu_start import ONBOARD_NICS, firmware_args
from ..uboot.source_build import built_uboot
from .host import garbage_file

#: The port the lab's TFTP server listens on, for the target's `setenv tftpdstp {{...}}`.
TFTP_PORT_ENV = "HARNESS_VB_TFTP_PORT"


def host_service_network(machine: str) -> list[str]:
    """User networking that lets the guest reach a host service: restrict=off, because
    atftpd listens on the host's 127.0.0.1, which the guest reaches as 10.0.2.2 (QEMU's
    user networking forwards it there; restrict=on would drop it). No `tftp=`: QEMU's own
    TFTP server stays off, so every block comes from atftpd."""
    return ["-nic", f"user,id=uboot-net,restrict=off,model={ONBOARD_NICS[machine]}"]


@dataclass(frozen=True)
class VirtualImx8mpBoard:
    """QEMU imx8mp-evk + U-Boot built from Debian's source, published like a lab board."""

    qemu: str = "/usr/bin/qemu-system-aarch64"
    machine: str = "imx8mp"
    cpu: str = "cortex-a53"
    memory: str = "2G"
    dram_base: int = 0x40000000
    uboot: Path = ROOT / "build" / "uboot-imx8mp" / "u-boot-qemu.elf"
    # Which TFTP server the lab starts for this board ("atftpd"; "" = QEMU's own).
    tftp_server: str = "atftpd"
    # DRAM that holds garbage at every power-on, as on the virt place: the probe kernel's
    # bss (linked at 0x40000000 on this SoC), below U-Boot at 0x40200000; the firmware
    # stand-in and the ROM API table are in OCRAM.
    garbage: tuple[int, int] = (0x40000000, 1 << 20)
    pattern: int = 0xA5

    def command(self, serial_port: int, tftp: Path, qmp: Path) -> list[str]:
        """The board's QEMU; firmware and U-Boot are built (or reused) first."""
        elf = build_firmware(self.machine)
        firmware = Firmware(elf, read_elf(elf, "firmware").symbol(FIRMWARE_MAILBOX))
        uboot = built_uboot(self.uboot)
        return [
            self.qemu,
            "-machine",
            "imx8mp-evk",
            "-cpu",
            self.cpu,
            "-m",
            self.memory,
            "-kernel",
            str(firmware.elf),
            *firmware_args(firmware, uboot, self.dram_base),
            *ONE_TCG_THREAD,
            "-display",
            "none",
            "-monitor",
            "none",
            # UART1 to nowhere: the console is UART2, the board's and U-Boot's
            "-serial",
            "null",
            "-serial",
            f"tcp:127.0.0.1:{serial_port},server=on,wait=off,nodelay=on",
            *host_service_network(self.machine),
            "-device",
            f"loader,file={garbage_file(self.pattern, self.garbage[1])},addr={self.garbage[0]:#x},force-raw=on",
            "-qmp",
            f"unix:{qmp},server=on,wait=off",
            "-S",
        ]  # powered off until the power switch says on

"""How QEMU starts U-Boot and connects it to the TFTP server, per machine.

virt: Debian's U-Boot is QEMU's -bios; the machine has no NIC of its own, so a virtio-mmio
one is added. imx8mp-evk: U-Boot proper is entered the way the board enters it, by
firmware at EL2 (`firmware: stand-in`, the stand-in playing BL31): the stand-in is
QEMU's -kernel, U-Boot goes in with `-device loader` and its entry into the stand-in's
mailbox; the network is the SoC's own ENET (QEMU's imx.enet), wired with -nic.
"""
from __future__ import annotations

from pathlib import Path

from ..qemu.firmware import Firmware, loader_placement

#: QEMU's model of each machine's own NIC; machines not named here get a virtio-mmio NIC.
ONBOARD_NICS = {"imx8mp": "imx.enet"}


def network_args(machine: str, tftp_root: Path) -> list[str]:
    """User networking sealed off from the host (restrict=on) whose TFTP server serves
    `tftp_root`, on the machine's own NIC or an added virtio-mmio one (no option ROM)."""
    user = f"user,id=uboot-net,tftp={tftp_root},restrict=on"
    nic = ONBOARD_NICS.get(machine)
    if nic is not None:
        return ["-nic", f"{user},model={nic}"]
    return ["-netdev", user, "-device", "virtio-net-device,netdev=uboot-net"]


def firmware_args(firmware: Firmware, uboot: Path, dram_base: int) -> list[str]:
    """U-Boot behind the firmware: loaded beside it, its entry in the firmware's mailbox
    (the firmware itself is QEMU's -kernel)."""
    load, entry = loader_placement(uboot, dram_base)
    return load + ["-device", f"loader,addr={firmware.mailbox:#x},data={entry:#x},data-len=8"]

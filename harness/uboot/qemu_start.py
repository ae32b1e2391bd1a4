"""How QEMU starts U-Boot and connects it to the TFTP server, per machine.

virt: Debian's U-Boot is QEMU's -bios; the machine has no NIC of its own, so a virtio-mmio
one is added. imx8mp-evk: U-Boot proper is entered the way the board enters it, by
firmware at EL2 (`firmware: stand-in`, the stand-in playing BL31): the stand-in is
QEMU's -kernel, U-Boot goes in with `-device loader` and its entry into the stand-in's
mailbox; the network is the SoC's own ENET (QEMU's imx.enet), wired with -nic, and an SD
card (`transport: mmc`) goes on the uSDHC U-Boot's `mmc DEV` names, with -drive if=sd.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import HarnessError
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


#: U-Boot's `mmc DEV` -> QEMU's `-drive if=sd,bus=N` per machine. imx8mp-evk: QEMU's SD bus N
#: is uSDHC N+1, and U-Boot's imx8mp-evk device tree aliases mmc1 = usdhc2 (the SD slot),
#: mmc2 = usdhc3 (the eMMC); usdhc1 is disabled there.
SD_BUSES = {"imx8mp": {1: 1, 2: 2}}


def sd_card_args(machine: str, mmc: str, card: Path) -> list[str]:
    """The card image on the host controller U-Boot reads as `mmc DEV` (`mmc` is DEV:PART)."""
    dev = int(mmc.split(":")[0])
    bus = SD_BUSES.get(machine, {}).get(dev)
    if bus is None:
        known = ", ".join(f"{d}:1" for d in SD_BUSES.get(machine, {})) or "none"
        raise HarnessError(
            f"QEMU's {machine} machine has no SD host U-Boot calls mmc {dev}",
            field="harness.uboot.mmc",
            fix=f"use one of: {known}, or 'transport: tftp'",
        )
    # QEMU's option syntax: a comma in a file name is written twice
    return ["-drive", f"if=sd,bus={bus},format=raw,file={str(card).replace(',', ',,')}"]


def firmware_args(firmware: Firmware, uboot: Path, dram_base: int) -> list[str]:
    """U-Boot behind the firmware: loaded beside it, its entry in the firmware's mailbox
    (the firmware itself is QEMU's -kernel)."""
    load, entry = loader_placement(uboot, dram_base)
    return load + ["-device", f"loader,addr={firmware.mailbox:#x},data={entry:#x},data-len=8"]

"""Packaging and TFTP staging: getting the boot file to where U-Boot fetches it.

The elfloader is packaged as a uImage or FIT (`package_for`), checked against
the board's DRAM, bootm's copy and U-Boot and placed (`check_layout`,
placement.py: in place where it fits), and put where the TFTP
server serves it: linked into a local TFTP root (QEMU's user-net TFTP, or an
exporter on this machine) or handed to labgrid's TFTPProviderDriver for a remote
one. That is file-system and lab work, not console work, so it lives apart from
the prompt dialogue; `TFTPStaging` is the strategy's part of it, `dry_run_offline`
the lab-free dry run built on the same packaging.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labgrid.resource.common import NetworkResource

from ..errors import BootFailure, HarnessError
from ..images.package import Package, package
from ..targets import Target, UBoot
from .commands import _uboot, dry_run_text
from ..destinations import Area, unpack_destinations
from .placement import Placement, place

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def check_layout(target: Target, pkg: Package, destinations: tuple[Area, ...] = ()) -> Placement:
    """Where the package goes (placement.place): in DRAM, clear of bootm's copy and
    U-Boot, booted in place where the target allows; HarnessError if it cannot."""
    return place(target, pkg, destinations)


def package_for(target: Target, boot_file: Path) -> tuple[Package, Placement]:
    """Package `boot_file` the way the target's U-Boot section asks, and place it."""
    u = _uboot(target)
    pkg = package(
        boot_file, u.package, target.dram[0], config=u.fit_config, hashes=u.fit_hashes, in_place=u.bootm != "copy"
    )
    return pkg, check_layout(target, pkg, unpack_destinations(boot_file))


def dry_run_offline(target: Target, boot_file: Path) -> str:
    """A lab target's dry run: no coordinator is contacted."""
    pkg, where = package_for(target, boot_file)
    return dry_run_text(target, pkg, pkg.name, where)


def staged_name(internal: str, external: str, name: str) -> str:
    """The path a TFTP client asks for, as labgrid's TFTPProviderDriver computes it."""
    return external + os.path.join(internal, name)[len(internal) :]


class TFTPStaging:
    """The staging half of `UBootBootStrategy`: its TFTP root, the name a client
    asks for, and putting the package there."""

    if TYPE_CHECKING:  # provided by UBootBootStrategy
        tftp: Any
        target: Any

        @property
        def harness(self) -> Target: ...

        @property
        def uboot(self) -> UBoot: ...

        @property
        def package(self) -> Package: ...

    def _tftp_root(self) -> Path:
        """The local TFTP root (a relative `internal` is relative to the env file)."""
        if self.tftp is None:
            raise HarnessError(
                "transport 'tftp' but no TFTPProvider in the environment",
                file=self.harness.path,
                field="targets.main.resources",
                fix="add 'TFTPProvider: {internal: ../build/tftp/, external: \"\"}' and 'TFTPProviderDriver: {}'",
            )
        internal = str(self.tftp.provider.internal)
        env = getattr(self.target, "env", None)
        root = Path(
            os.path.normpath(env.config.resolve_path(internal) if env is not None else os.path.abspath(internal))
        )
        root.mkdir(parents=True, exist_ok=True)
        return root

    def _predicted_name(self) -> str:
        pkg = self.package
        if self.uboot.transport != "tftp" or self.tftp is None:
            return pkg.name
        prov = self.tftp.provider
        return staged_name(str(prov.internal), str(prov.external), pkg.name)

    def _stage(self) -> str:
        """Put the package where the board's TFTP server serves it."""
        pkg = self.package
        if self.uboot.transport != "tftp":
            return pkg.name
        if self.tftp is None:
            raise BootFailure(
                "transport 'tftp' but the environment has no TFTPProvider/TFTPProviderDriver",
                kind="infrastructure",
                phase="load",
            )
        prov = self.tftp.provider
        host = getattr(prov, "host", "localhost")
        try:
            if not isinstance(prov, NetworkResource) or host in LOCAL_HOSTS or host == socket.gethostname():
                # The TFTP root is on this machine (local QEMU, or an exporter running
                # here): link the file in directly (labgrid would ssh to itself).
                internal = self._tftp_root()
                tmp = internal / f".{pkg.name}.{os.getpid()}"
                tmp.unlink(missing_ok=True)
                tmp.symlink_to(pkg.path.resolve())
                tmp.replace(internal / pkg.name)
                return staged_name(str(prov.internal), str(prov.external), pkg.name)
            self.target.activate(self.tftp)
            return str(self.tftp.stage(str(pkg.path)))  # labgrid: rsync/ssh + symlink
        except Exception as exc:  # noqa: BLE001
            raise BootFailure(
                f"staging {pkg.name} on the TFTP server ({host}) failed: {exc.__class__.__name__}: {exc}",
                kind="infrastructure",
                phase="load",
            ) from None

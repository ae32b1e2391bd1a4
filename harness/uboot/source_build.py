"""U-Boot built from Debian's u-boot source package on first use.

No Debian binary package has U-Boot for QEMU's imx8mp-evk; scripts/build-uboot-imx8mp.sh
builds U-Boot proper from the source package (imx8mp_evk_defconfig + our fragment) into
one ELF. A target names that ELF as its `uboot` image; the strategy asks for it here, and
the script runs (a no-op when its stamp says the build is current).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..atomic import lock_for, locked
from ..errors import HarnessError
from ..images.build import ROOT, build_root

#: The build scripts by their output directory's name; each writes OUTPUT there.
SCRIPTS = {"uboot-imx8mp": ROOT / "scripts" / "build-uboot-imx8mp.sh"}
OUTPUT = "u-boot-qemu.elf"


def built_uboot(path: Path) -> Path:
    """The U-Boot image `path` names, ready to boot. `<dir named in SCRIPTS>/u-boot-qemu.elf`
    is the build script's output: built (or brought up to date) in the harness's build
    directory, wherever the path points (a copy of the target file elsewhere, HARNESS_BUILD),
    and that build's path returned. Any other file must exist."""
    script = SCRIPTS.get(path.parent.name) if path.name == OUTPUT else None
    if script is None:
        if not path.is_file():
            raise HarnessError(
                "no such U-Boot image", file=path, field="images.uboot", fix="check the path in the target's 'images:'"
            )
        return path
    built = build_root() / path.parent.name / OUTPUT
    with locked(lock_for(built.parent)):
        proc = subprocess.run([str(script), str(built.parent)], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not built.is_file():
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise HarnessError(
            f"building U-Boot failed: {tail}",
            file=script,
            field="images.uboot",
            fix=f"run {script} by hand for the whole log",
        )
    return built

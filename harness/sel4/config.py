"""What a real-seL4 build is: the options a user picks and what CMake is told.

Options split in two: those that change the kernel's configuration (platform,
hypervisor mode, build type, the root CNode a payload needs) need a build directory
of their own; those that change only the elfloader (hash check, the early-MMU patch
and its negative controls) or the rootserver's data (a payload) are switched in one
build directory, so that a patched loader costs an elfloader rebuild and a payload a
relink, not a kernel and a test suite.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import HarnessError

PATCHES = Path(__file__).resolve().parents[2] / "patches"
OVERLAYS = Path(__file__).resolve().parent / "overlays"

# seL4 platform -> what its configuration needs beyond the common options.
PLATFORMS: dict[str, dict[str, str]] = {
    # Configure runs QEMU to dump the virt DTB (the wrapper adds -nic none); seL4's default
    # is a 1 GiB machine, our targets have 2 GiB: the kernel's DTB must say what QEMU has.
    "qemu-arm-virt": {"cpu": "cortex-a53", "machine": "virt", "memory_mib": "2048", "clean": "setway"},
    # seL4's DTS describes 6 GiB; our QEMU target has 2 GiB and OP-TEE's carve-out: an overlay
    # says so ("unreserved": the same without the carve-out, the early-map check's control).
    "imx8mp-evk": {
        "overlay": "imx8mp-evk-2g.dts",
        "unreserved": "imx8mp-evk-2g-unreserved.dts",
        "machine": "imx8mp",
        "clean": "setway",
    },
}
# How the early-MMU window is closed (ElfloaderEarlyMMUClean): by VA, range by range, or by
# set/way over the whole hierarchy. "clean" above is the platform's default, the series' own:
# set/way where no system cache sits beyond the point of coherency, VA elsewhere.
CLEAN_METHODS = ("va", "setway")
HASHES = {"sha": "hash_sha", "md5": "hash_md5"}
# Negative controls of the early-MMU patch: patches/seL4_tools/controls/KIND.patch.
EARLY_MMU_BUGS = (
    "no-clean",
    "clean-short",
    "no-icache-inv",
    "uart-normal",
    "store-after-clean",
    "mmu-left-on",
    "no-inv-before-enable",
    "icache-before-clean",
    "no-dsb",
    "setway-levels-loui",
    "setway-skip-l2",
    "setway-sets-short",
    "setway-ways-short",
    "setway-clean-only",
    "setway-unordered",
    "setway-csselr-no-isb",
)
# Controls whose defect lives in one close method's code only: built with that method.
BUG_CLEAN = {
    "no-clean": "va",
    "clean-short": "va",
    "store-after-clean": "va",
    **{b: "setway" for b in EARLY_MMU_BUGS if b.startswith("setway-")},
}
PAGE = 4096
BASE_CNODE_BITS = 13  # sel4test's own value


def root_cnode_bits(payload_bytes: int) -> int:
    """Root CNode size for a rootserver carrying `payload_bytes` more data.

    The kernel gives the rootserver one slot per 4 KiB frame of its image; keep
    at least the half of sel4test's default CNode (4096 slots) that its own
    image, untypeds and bookkeeping use today free on top of the payload.
    """
    need = payload_bytes // PAGE + (1 << (BASE_CNODE_BITS - 1))
    return max(BASE_CNODE_BITS, need.bit_length())


@dataclass(frozen=True)
class Sel4Config:
    """One sel4test image: platform, seL4 mode, build type, payload, loader options."""

    platform: str = "qemu-arm-virt"
    hyp: bool = False
    release: bool = False
    payload_mib: int = 0
    hash: str | None = None
    early_mmu: bool = False
    early_mmu_bug: str | None = None
    # ElfloaderEarlyMMUClean; None: the control's own method, else the platform's default.
    early_mmu_clean: str | None = None
    # Every archive member's data 16-byte aligned (patches/seL4_tools/archive-align), on the
    # stock or the patched loader: the MMU-off copy unit no longer depends on member names/sizes.
    align_archive: bool = False
    # Further seL4_tools patches applied last, on the stock or the patched loader (mutants,
    # stock-loader controls): switched in the same build directory, like the controls.
    extra_patches: tuple[Path, ...] = ()
    # NEGATIVE CONTROL: the platform's DTS overlay without its reserved-memory carve-outs, so
    # seL4's memory description (and the early-MMU map) covers them. A kernel-level option:
    # a build directory of its own.
    unreserved: bool = False

    def __post_init__(self) -> None:
        checks = (
            (
                self.platform in PLATFORMS,
                "--platform",
                f"unknown platform '{self.platform}'",
                f"use one of: {', '.join(PLATFORMS)}",
            ),
            (
                self.hash is None or self.hash in HASHES,
                "--hash",
                f"unknown hash '{self.hash}'",
                f"use one of: {', '.join(HASHES)}",
            ),
            (
                0 <= self.payload_mib <= 1024,
                "--payload-mib",
                f"{self.payload_mib} MiB is out of range",
                "give 0..1024 (the QEMU targets have 2 GiB of RAM for the image and its copy)",
            ),
            (
                self.early_mmu_bug is None or self.early_mmu_bug in EARLY_MMU_BUGS,
                "--early-mmu-bug",
                f"unknown negative control '{self.early_mmu_bug}'",
                f"use one of: {', '.join(EARLY_MMU_BUGS)}",
            ),
            (
                self.early_mmu_clean is None or self.early_mmu_clean in CLEAN_METHODS,
                "--early-mmu-clean",
                f"unknown clean method '{self.early_mmu_clean}'",
                f"use one of: {', '.join(CLEAN_METHODS)}",
            ),
            (
                self.early_mmu_clean is None
                or self.early_mmu_bug is None
                or BUG_CLEAN.get(self.early_mmu_bug, self.early_mmu_clean) == self.early_mmu_clean,
                "--early-mmu-clean",
                f"the control '{self.early_mmu_bug}' lives in the {BUG_CLEAN.get(self.early_mmu_bug or '')} close only",
                f"give --early-mmu-clean {BUG_CLEAN.get(self.early_mmu_bug or '')} or leave it out",
            ),
        )
        for ok, field, what, fix in checks:
            if not ok:
                raise HarnessError(what, field=field, fix=fix)
        if not isinstance(self.align_archive, bool):
            raise HarnessError(
                f"align_archive must be True or False, not {self.align_archive!r}",
                field="--align-archive",
                fix="give the flag (or align_archive=True) to align the archive, leave it out for seL4's own layout",
            )
        if self.unreserved and "unreserved" not in PLATFORMS[self.platform]:
            raise HarnessError(
                f"platform '{self.platform}' declares no carve-out to leave out",
                field="--unreserved",
                fix="leave it out, or use --platform "
                + ", ".join(p for p, v in PLATFORMS.items() if "unreserved" in v),
            )
        for extra in self.extra_patches:
            if not Path(extra).is_file():
                raise HarnessError(
                    "elfloader patch not found",
                    file=Path(extra),
                    field="--elfloader-patch",
                    fix="give an existing patch file",
                )

    @property
    def patched(self) -> bool:
        return self.early_mmu or self.early_mmu_bug is not None

    @property
    def clean(self) -> str:
        """The close method this image is built with (the patched loader's only)."""
        if self.early_mmu_clean:
            return self.early_mmu_clean
        if self.early_mmu_bug in BUG_CLEAN:
            return BUG_CLEAN[self.early_mmu_bug]
        return PLATFORMS[self.platform].get("clean", "va")

    def _kernel_name(self, payload_part: str | None) -> str:
        """platform-el-buildtype[-payload_part][-unreserved]: the names below differ only in
        what they say of the payload."""
        parts = [self.platform, "hyp" if self.hyp else "el1", "release" if self.release else "debug"]
        parts += [payload_part] if payload_part else []
        parts += ["unreserved"] if self.unreserved else []
        return "-".join(parts)

    @property
    def base_name(self) -> str:
        """The image's name without its loader options (kernel, rootserver, payload)."""
        return self._kernel_name(f"p{self.payload_mib}M" if self.payload_mib else None)

    @property
    def work_name(self) -> str:
        """Name of the build directory: only what changes the kernel's configuration.

        A payload is rodata of the rootserver alone, so payloads that fit the same root
        CNode share one directory, and switching between them relinks the rootserver instead
        of building a kernel and a test suite again (about 50 s of compiling on 2 cores). A
        payload that needs a bigger root CNode changes the kernel's configuration: its own."""
        bits = root_cnode_bits(self.payload_mib << 20)
        return self._kernel_name(f"cnode{bits}" if bits != BASE_CNODE_BITS else None)

    @property
    def name(self) -> str:
        """Name of the image: the base plus the loader options."""
        parts = [self.base_name]
        if self.hash:
            parts.append(f"hash-{self.hash}")
        if self.early_mmu_bug:
            parts.append(f"early-mmu-bug-{self.early_mmu_bug}")
        elif self.early_mmu:
            parts.append("early-mmu")
        if (
            self.patched
            and self.early_mmu_clean
            and self.early_mmu_clean != PLATFORMS[self.platform].get("clean", "va")
        ):
            parts.append(f"clean-{self.clean}")
        if self.align_archive:
            parts.append("align-archive")
        if self.extra_patches:
            parts.append(f"x{self.extra_digest()}")
        return "-".join(parts)

    def extra_digest(self) -> str:
        """Twelve hex digits naming the extra patches by their contents."""
        h = hashlib.sha256()
        for extra in self.extra_patches:
            h.update(Path(extra).read_bytes())
            h.update(b"\0")
        return h.hexdigest()[:12]

    def loader_patches(self) -> list[Path]:
        """seL4_tools patches for this image, in the order they apply: the early-MMU series and
        its control, the archive alignment (independent of both), then the extra patches."""
        series = _series("early-mmu", "early-MMU") if self.patched else []
        if self.early_mmu_bug:
            control = PATCHES / "seL4_tools" / "controls" / f"{self.early_mmu_bug}.patch"
            if not control.is_file():
                raise HarnessError("negative control patch missing", file=control, fix="restore it from git")
            series.append(control)
        if self.align_archive:
            series += _series("archive-align", "archive-alignment")
        return series + [Path(p) for p in self.extra_patches]

    def base_cmake_args(self, qemu_wrapper: Path, payload_file: Path | None, hook: bool = True) -> list[str]:
        """Arguments for init-build.sh: everything that needs its own build directory.

        `hook`: the tree has our sel4test patch (settable root CNode, payload).
        """
        plat = PLATFORMS[self.platform]
        args = [
            f"-DPLATFORM={self.platform}",
            "-DAARCH64=1",
            "-DSIMULATION=TRUE",
            f"-DRELEASE={'TRUE' if self.release else 'FALSE'}",
            f"-DARM_HYP={'ON' if self.hyp else 'OFF'}",
            f"-DQEMU_BINARY={qemu_wrapper}",
        ]
        if "cpu" in plat:
            args.append(f"-DARM_CPU={plat['cpu']}")
        if "memory_mib" in plat:
            args.append(f"-DQEMU_MEMORY={plat['memory_mib']}")
        overlay = self.overlay()
        if overlay is not None:
            args.append(f"-DKernelCustomDTSOverlay={overlay}")
        if hook:
            args.append(f"-DSel4testRootCNodeSizeBits={root_cnode_bits(self.payload_mib << 20)}")
            args.append(f"-DSel4testPayloadFile={payload_file or ''}")
        return args

    def overlay(self) -> Path | None:
        """The DTS overlay seL4's configure appends to the platform's DTS, if any. Its text is
        part of the build's identity (harness/sel4/build.py): CMake sees only its path."""
        plat = PLATFORMS[self.platform]
        name = plat.get("unreserved" if self.unreserved else "overlay")
        if name is None:
            return None
        overlay = OVERLAYS / name
        if not overlay.is_file():
            raise HarnessError("DTS overlay missing", file=overlay, fix="restore it from git")
        return overlay

    def loader_cmake_args(self, elfloader_dir: Path) -> list[str]:
        """Arguments that only change the elfloader: applied by a reconfigure."""
        args = [
            f"-DELFLOADER_CURRENT_DIR={elfloader_dir}",
            f"-DElfloaderHashInstructions={HASHES[self.hash] if self.hash else 'hash_none'}",
            f"-DElfloaderEarlyMMU={'ON' if self.patched else 'OFF'}",
        ]
        if self.patched:  # explicit: one build directory serves every loader, its cache remembers
            args.append(f"-DElfloaderEarlyMMUClean={self.clean}")
        return args


def _series(directory: str, what: str) -> list[Path]:
    """A git format-patch series under patches/seL4_tools/, in order; never empty."""
    where = PATCHES / "seL4_tools" / directory
    series = sorted(where.glob("*.patch"))
    if not series:
        raise HarnessError(
            f"no {what} patch series", file=where, fix=f"restore patches/seL4_tools/{directory}/*.patch from git"
        )
    return series


def for_target(machine: str, loader_el: int | None) -> Sel4Config | str:
    """The sel4test configuration that matches a target, or why none does.

    seL4's elfloader runs at EL2 or EL1: a target entering the loader at EL2
    gets a hypervisor build (seL4 stays at EL2, as on the seed's armStone), one
    at EL1 a plain build. Nothing runs seL4 at EL3.
    """
    platform = next((p for p, v in PLATFORMS.items() if v["machine"] == machine), None)
    if platform is None:
        return f"no seL4 platform for machine '{machine}'"
    if loader_el not in (1, 2):
        return f"seL4's elfloader runs at EL2 or EL1; this target enters it at EL{loader_el}"
    return Sel4Config(platform=platform, hyp=loader_el == 2)

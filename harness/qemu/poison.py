"""Memory poison: bss ranges filled with a pattern before a QEMU guest starts.

QEMU's RAM starts zeroed, which would hide a loader that forgets to zero bss; real
DRAM holds garbage after reset. The poison goes in through `-device loader` and is
clipped so it never overlaps what QEMU or the image place themselves.
"""

from __future__ import annotations

from ..errors import HarnessError
from ..images.build import build_root
from ..payload import Payload
from ..targets import Target
from .verify import image_offsets


# With an ELF given to -kernel, QEMU places the DTB it generates at the base of RAM
# (1 MiB on virt); anything else loaded there stops QEMU ("Some ROM regions are
# overlapping"). seL4's kernel is linked there too, its bss is zeroed by the loader.
QEMU_DTB_BYTES = 1 << 20


def _clip(start: int, end: int, holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[start, end) less every hole, as sorted ranges."""
    out, pos = [], start
    for lo, hi in sorted(holes):
        if hi <= pos or lo >= end:
            continue
        if lo > pos:
            out.append((pos, lo))
        pos = max(pos, hi)
    if pos < end:
        out.append((pos, end))
    return out


# U-Boot proper entered in DRAM by the firmware stand-in (imx8mp-evk): QEMU loads its
# image at CONFIG_TEXT_BASE (RAM base + 2 MiB, 0.7 MiB long), so poison there stops QEMU
# ("overlapping"); scripts/build-uboot-imx8mp.sh checks that it ends inside this window.
# Its early stack and heap (the RAM base's first 512 KiB) may be poisoned: U-Boot sets up
# what it reads there, and a loader's bss below keeps the poison U-Boot never touched.
UBOOT_IMAGE_WINDOW = (2 << 20, 4 << 20)


def qemu_reserved(target: Target) -> list[tuple[int, int]]:
    """What QEMU itself writes into the target's RAM, never to be poisoned: the DTB
    the virt machine generates at the RAM base; U-Boot's image where firmware enters it
    in DRAM. The i.MX machines generate no DTB (the firmware stand-in or the loader's
    archive has it)."""
    base = target.dram[0]
    if target.machine == "virt":
        return [(base, base + QEMU_DTB_BYTES)]
    if target.boot == "uboot" and target.firmware is not None:
        return [(base + UBOOT_IMAGE_WINDOW[0], base + UBOOT_IMAGE_WINDOW[1])]
    return []


def poison_ranges(
    payload: Payload, dram: tuple[int, int], limit: int = 64 << 20, reserved: list[tuple[int, int]] | None = None
) -> list[tuple[int, int]]:
    """The bss ranges to poison, where each image will land (seL4's loader moves user
    images: `verify.image_offsets`, the placement the out-of-band dump uses too),
    clipped so they never overlap what QEMU or the image place: the loader's own
    PT_LOADs, every image's file bytes, and `reserved` (the caller's: e.g. the DTB
    QEMU's virt machine puts at the RAM base). A user image whose place only the
    run can tell (a boot loader's DTB is copied before it) is not poisoned."""
    try:
        images = payload.images
        loader = [(s.paddr, s.paddr + s.memsz) for s in payload.loader.segments]
        offsets = image_offsets(payload)
    except HarnessError:
        return []  # an archive the loader itself will reject: nothing to poison
    placed = [img for img in images if img.name in offsets]
    holes = [*loader, *(reserved or [])]
    holes += [
        (s.paddr + offsets[img.name], s.paddr + offsets[img.name] + s.filesz) for img in placed for s in img.segments
    ]
    lo_ram, hi_ram = dram[0], dram[0] + dram[1]
    out: list[tuple[int, int]] = []
    for img in placed:
        for seg in img.segments:
            start, end = (a + offsets[img.name] for a in seg.bss)
            end = min(end, start + limit, hi_ram)
            if end <= start or not lo_ram <= start < hi_ram:
                continue  # nothing to zero, or not DRAM
            out += _clip(start, end, holes)
    return out


def poison_args(
    payload: Payload,
    dram: tuple[int, int],
    pattern: int = 0xA5,
    limit: int = 64 << 20,
    reserved: list[tuple[int, int]] | None = None,
) -> list[str]:
    """QEMU loader devices that fill every bss range with a pattern before boot.

    Real DRAM holds garbage after reset; QEMU's is zero, which would hide a loader
    that forgets to zero. Ranges above `limit` bytes are poisoned in their first
    `limit` bytes only; see `poison_ranges` for what is never touched.
    """
    args: list[str] = []
    pdir = build_root() / "poison"
    pdir.mkdir(parents=True, exist_ok=True)
    for start, end in poison_ranges(payload, dram, limit, reserved):
        size = end - start
        f = pdir / f"{pattern:02x}-{size}.bin"
        if not f.exists() or f.stat().st_size != size:
            f.write_bytes(bytes([pattern]) * size)
        args += ["-device", f"loader,file={f},addr={start:#x},force-raw=on"]
    return args

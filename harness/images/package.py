"""Package a boot file for U-Boot: a legacy uImage or a FIT image, through `mkimage`.

U-Boot's `bootm` takes the elfloader in one of two wrappers (and `bootelf` takes the
ELF itself: kind `elf`, no wrapper, U-Boot copies the PT_LOADs to their physical
addresses and jumps to e_entry):

* legacy uImage (`mkimage -A arm64 -O linux -T kernel -C none -a LOAD -e ENTRY`):
  a 64-byte header with a CRC-32 of the data, which bootm verifies;
* FIT (`mkimage -f x.its x.itb`): a device tree holding the image, its load and
  entry addresses and hash nodes (crc32 and sha256 here) that bootm verifies
  before it boots the configuration named on its command line (`ADDR#conf-1`).

Both need the raw bytes and where they go. An ELF is flattened here from its
PT_LOAD segments (pyelftools); an arm64 `Image` (the reference loader's
`elfloader.Image`) loads where booti would put it: DRAM base + text_offset.

Everything lands under `build/packages/<key>/`, named after a key of the input
(path, size, mtime, addresses, kind), so the file a TFTP server hands out has a
name that changes whenever the image does, and packaging an unchanged image
again costs nothing. `SOURCE_DATE_EPOCH` makes mkimage's output reproducible.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..atomic import tmp_beside
from ..errors import HarnessError
from .build import build_root
from .elf import checked_file, read_elf

KINDS = ("uimage", "fit", "elf")
SUFFIX = {"uimage": ".uimg", "fit": ".itb", "elf": ".elf"}
ARM64_MAGIC = b"ARM\x64"
FIT_CONFIG = "conf-1"
FIT_HASHES = ("crc32", "sha256")
MAX_FLAT = 2 << 30  # a flattened ELF larger than this is a mistake (segments far apart)
UIMAGE_NAME_MAX = 31  # IH_NMLEN - 1
UIMAGE_HEADER = 64  # sizeof(legacy image header): the data follows it
# An in-place FIT keeps its data outside the device tree at this fixed offset
# (`mkimage -E -p`), so the data's address is the FIT's address plus this, whatever
# the tree's size; the tree of one image with two hash nodes is well under it.
FIT_DATA_POSITION = 0x1000


@dataclass(frozen=True)
class Flat:
    """Raw bytes to load at `load`, entered at `entry`."""

    path: Path
    load: int
    entry: int
    size: int


@dataclass(frozen=True)
class Package:
    """A packaged boot file: what U-Boot is given and how to boot it."""

    kind: str  # uimage | fit | elf
    path: Path
    load: int  # where bootm puts the data
    entry: int  # where bootm jumps
    data_bytes: int  # the payload inside the wrapper
    config: str | None = None  # FIT configuration to boot
    hashes: tuple[str, ...] = ()  # FIT hash algorithms
    # Where the data starts inside the file (uImage: after its header; FIT: its static
    # external data position), None when it moves with the tree (an embedded-data FIT):
    # staged at `load - data_offset`, bootm finds the data at its load address.
    data_offset: int | None = None

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def name(self) -> str:
        return self.path.name


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise HarnessError(f"'{name}' not found", field="packaging", fix=f"apt-get install {package}")
    return path


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
        raise HarnessError(
            f"{what} failed: {' '.join(cmd)}\n{tail}", field="packaging", fix="see mkimage's output above"
        )
    return proc.stdout


def _key(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()


# Bumped whenever flatten() lays bytes out differently (2: bss zero-filled): a package
# cached under the old layout must not be served again.
FLAT_LAYOUT = 2


def _stamp(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def image_header(path: Path) -> int | None:
    """text_offset of an arm64 Linux Image header, None if the file has none."""
    with open(path, "rb") as f:
        head = f.read(64)
    if len(head) < 64 or head[0x38:0x3C] != ARM64_MAGIC:
        return None
    return int(struct.unpack_from("<Q", head, 8)[0])


def is_elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def flatten(boot_file: Path, dram_base: int, out_dir: Path | None = None) -> Flat:
    """The raw bytes of a boot file and where they load and start.

    ELF: PT_LOAD bytes from the lowest to the highest physical address, gaps and
    bss (memsz beyond filesz) zero-filled, entered at e_entry: the ELF's own
    semantics, which bootm of a flat image does not add. seL4's ELF-format
    elfloader relies on them: only its binary/uImage forms clear their own .bss
    (crt0, CONFIG_IMAGE_BINARY), and DRAM after a reset holds garbage.
    arm64 Image: the file itself, at DRAM base + text_offset, entered at its
    first byte (booti's placement).
    """
    checked_file(boot_file)
    if not is_elf(boot_file):
        text_offset = image_header(boot_file)
        if text_offset is None:
            raise HarnessError(
                "neither an ELF nor an arm64 Image: its load address is unknown",
                file=boot_file,
                field="boot file",
                fix="give the elfloader ELF (or a binary with an arm64 Image header)",
            )
        load = dram_base + text_offset
        return Flat(boot_file, load, load, boot_file.stat().st_size)
    elf = read_elf(boot_file, boot_file.name)
    segs = sorted((s for s in elf.segments if s.memsz > 0), key=lambda s: s.paddr)
    if not any(s.filesz for s in segs):
        raise HarnessError(
            "no PT_LOAD segment with file bytes",
            file=boot_file,
            field="program headers",
            fix="link the image with a loadable segment",
        )
    load = segs[0].paddr
    end = max(s.paddr + s.memsz for s in segs)
    if end - load > MAX_FLAT:
        raise HarnessError(
            f"segments span {(end - load) >> 20} MiB ({load:#x}..{end:#x}): a flat image would be that large",
            file=boot_file,
            field="program headers",
            fix="link the loader's segments contiguously",
        )
    out_dir = out_dir or build_root() / "packages" / _key("flat", FLAT_LAYOUT, *_stamp(boot_file))[:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / (boot_file.stem + ".bin")
    if not out.exists() or out.stat().st_mtime_ns < boot_file.stat().st_mtime_ns or out.stat().st_size != end - load:
        tmp = tmp_beside(out)  # two suites may package the same image at once
        with open(tmp, "wb") as f:
            for s in segs:
                f.seek(s.paddr - load)
                for chunk in s.data.chunks():
                    f.write(chunk)
            f.truncate(end - load)
        tmp.replace(out)
    return Flat(out, load, elf.entry_paddr, end - load)


def _env(source: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(int(source.stat().st_mtime))
    return env


def _fits_uimage(flat: Flat, source: Path) -> None:
    """The legacy header's ih_load/ih_ep are 32 bits: mkimage would keep the low half silently."""
    if max(flat.load, flat.entry) > 0xFFFFFFFF:
        raise HarnessError(
            f"load {flat.load:#x} / entry {flat.entry:#x}: above 4 GiB, a legacy uImage header holds 32-bit addresses",
            file=source,
            field="harness.uboot.package",
            fix="use 'package: fit'",
        )


def make_uimage(flat: Flat, out: Path, name: str = "seL4 elfloader") -> Package:
    """A legacy uImage: arm64, Linux, kernel, uncompressed, header CRC + data CRC."""
    _fits_uimage(flat, flat.path)
    mkimage = _tool("mkimage", "u-boot-tools")
    tmp = tmp_beside(out)
    _run(
        [
            mkimage,
            "-A",
            "arm64",
            "-O",
            "linux",
            "-T",
            "kernel",
            "-C",
            "none",
            "-a",
            f"{flat.load:#x}",
            "-e",
            f"{flat.entry:#x}",
            "-n",
            name[:UIMAGE_NAME_MAX],
            "-d",
            str(flat.path),
            str(tmp),
        ],
        "mkimage (uImage)",
        _env(flat.path),
    )
    tmp.replace(out)
    return Package("uimage", out, flat.load, flat.entry, flat.size, data_offset=UIMAGE_HEADER)


def _cells(value: int, cells: int) -> str:
    if cells == 1:
        return f"<{value:#x}>"
    return f"<{value >> 32:#x} {value & 0xFFFFFFFF:#x}>"


def its_source(flat: Flat, name: str, config: str = FIT_CONFIG, hashes: tuple[str, ...] = FIT_HASHES) -> str:
    """The FIT source: one kernel image with hash nodes, one configuration."""
    cells = 2 if max(flat.load, flat.entry) > 0xFFFFFFFF else 1
    data = str(flat.path.resolve()).replace("\\", "\\\\").replace('"', '\\"')
    text = name.replace("\\", "\\\\").replace('"', '\\"')
    hash_nodes = "".join(
        f"""
                hash-{i} {{
                    algo = "{algo}";
                }};"""
        for i, algo in enumerate(hashes, 1)
    )
    return f"""/dts-v1/;

/ {{
    description = "{text}";
    #address-cells = <{cells}>;

    images {{
        kernel-1 {{
            description = "{text}";
            data = /incbin/("{data}");
            type = "kernel";
            arch = "arm64";
            os = "linux";
            compression = "none";
            load = {_cells(flat.load, cells)};
            entry = {_cells(flat.entry, cells)};{hash_nodes}
        }};
    }};

    configurations {{
        default = "{config}";
        {config} {{
            description = "{text}";
            kernel = "kernel-1";
        }};
    }};
}};
"""


def make_fit(
    flat: Flat,
    out: Path,
    name: str = "seL4 elfloader",
    config: str = FIT_CONFIG,
    hashes: tuple[str, ...] = FIT_HASHES,
    in_place: bool = False,
) -> Package:
    """A FIT image with `hashes` over the kernel data, booted as `ADDR#config`.

    `in_place`: the data outside the tree at FIT_DATA_POSITION (`mkimage -E -p`), so a
    FIT staged FIT_DATA_POSITION below the load address has its data exactly there."""
    mkimage = _tool("mkimage", "u-boot-tools")
    _tool("dtc", "device-tree-compiler")
    its = out.with_suffix(".its")
    its_tmp = tmp_beside(its)
    its_tmp.write_text(its_source(flat, name, config, hashes))
    its_tmp.replace(its)
    tmp = tmp_beside(out)
    external = ["-E", "-p", f"{FIT_DATA_POSITION:#x}"] if in_place else []
    _run([mkimage, *external, "-f", str(its), str(tmp)], "mkimage (FIT)", _env(flat.path))
    tmp.replace(out)
    return Package(
        "fit", out, flat.load, flat.entry, flat.size, config, tuple(hashes), FIT_DATA_POSITION if in_place else None
    )


def package(
    boot_file: Path,
    kind: str,
    dram_base: int,
    name: str = "seL4 elfloader",
    config: str = FIT_CONFIG,
    hashes: tuple[str, ...] = FIT_HASHES,
    out_root: Path | None = None,
    in_place: bool = False,
) -> Package:
    """Package `boot_file` as `kind` (uimage | fit | elf); reuse an earlier identical package.
    `in_place` matters for FIT only (a uImage's data is always 64 bytes in)."""
    if kind not in KINDS:
        raise HarnessError(
            f"unknown package kind '{kind}'", field="harness.uboot.package", fix=f"use one of: {', '.join(KINDS)}"
        )
    fit_in_place = kind == "fit" and in_place
    key = _key(
        kind,
        FLAT_LAYOUT,
        *_stamp(boot_file),
        dram_base,
        name,
        config,
        ",".join(hashes),
        *(["in-place"] if fit_in_place else []),
    )
    out_dir = (out_root or build_root() / "packages") / key[:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    if kind == "elf":
        return _elf_package(boot_file, out_dir / f"sel4-{key[:12]}{SUFFIX[kind]}")
    flat = flatten(boot_file, dram_base, out_dir)
    if kind == "uimage":
        _fits_uimage(flat, boot_file)
    out = out_dir / f"sel4-{key[:12]}{SUFFIX[kind]}"
    if out.exists():
        if kind == "uimage":
            return Package(kind, out, flat.load, flat.entry, flat.size, data_offset=UIMAGE_HEADER)
        return Package(
            kind,
            out,
            flat.load,
            flat.entry,
            flat.size,
            config,
            tuple(hashes),
            FIT_DATA_POSITION if fit_in_place else None,
        )
    if kind == "uimage":
        return make_uimage(flat, out, name)
    return make_fit(flat, out, name, config, hashes, fit_in_place)


def _elf_package(boot_file: Path, out: Path) -> Package:
    """The ELF as `bootelf -p` takes it: the file itself under a keyed name (a link), its
    PT_LOAD span as the load range (what bootelf overwrites), entered at e_entry."""
    checked_file(boot_file)
    if not is_elf(boot_file):
        raise HarnessError(
            "'package: elf' needs an ELF boot file (bootelf)",
            file=boot_file,
            field="harness.uboot.package",
            fix="give the elfloader ELF, or set 'image_format: elf' in the target",
        )
    elf = read_elf(boot_file, boot_file.name)
    segs = [s for s in elf.segments if s.memsz > 0]
    if not segs:
        raise HarnessError(
            "no PT_LOAD segment", file=boot_file, field="program headers", fix="link the image with a loadable segment"
        )
    load, end = min(s.paddr for s in segs), max(s.paddr + s.memsz for s in segs)
    if not out.exists():
        tmp = tmp_beside(out)
        tmp.symlink_to(boot_file.resolve())
        tmp.replace(out)
    return Package("elf", out, load, elf.entry_paddr, end - load)


def describe(path: Path) -> str:
    """`mkimage -l`: U-Boot's own view of a package (header, addresses, hashes)."""
    return _run([_tool("mkimage", "u-boot-tools"), "-l", str(path)], "mkimage -l")

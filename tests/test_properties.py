"""Property tests for the harness's readers (Hypothesis).

Every reader of something a user hands the harness must give a valid parse or one
HarnessError naming the file and what is wrong -- never another exception, never
memory in proportion to what a header claims:

* elfloader images (ELF + embedded newc CPIO), mutated from real and synthesised
  ones: truncations, header fields set to huge values, archive headers rewritten;
* newc archives on their own, and arm64 Image headers;
* what the harness writes for U-Boot (uImage / FIT): `mkimage -l` agrees with it;
* target YAML: any document, and every known field set to a bad value, is a
  HarnessError naming the file and that field;
* console byte streams (invalid UTF-8, NULs, CR/CRLF, 1 MB lines, U-Boot and
  loader lines interleaved, any chunking): no exception, no invented phases.

Examples found by these properties are pinned with @example (or a plain test).

Profiles: the default `quick` keeps this file under a minute; `HYPOTHESIS_PROFILE=nightly`
runs many more examples of each property.
"""

from __future__ import annotations

import copy
import math
import os
import re
import struct
import subprocess
import tracemalloc
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.console import ConsoleLine, ConsoleRecorder, load_log, save_log
from harness.errors import HarnessError
from harness.images.build import ROOT
from harness.images.cpio import read_newc, write_newc
from harness.images.elf import read_elf
from harness.images.package import describe, flatten, image_header, package
from harness.images.file_window import FileRange
from harness.payload import from_user
from harness.phases import Timeline
from harness.console_lines import DEFAULT_PATTERNS, Patterns, parse_record
from harness.targets import TARGETS_DIR, load

from helpers.elfgen import Elf, Seg
from helpers.fakes import ScriptedConsole

pytestmark = pytest.mark.host

_COMMON: dict[str, Any] = dict(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("quick", max_examples=150, **_COMMON)
settings.register_profile("nightly", max_examples=3000, **_COMMON)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


def profile(scale: float = 1.0) -> settings:
    """The run's profile with `scale` times its examples (slow properties run fewer)."""
    return settings(PROFILE, max_examples=max(5, int(PROFILE.max_examples * scale)))


needs_mkimage = pytest.mark.requires_tool(
    "mkimage", "dtc", why="U-Boot packages are built with them", fix="apt-get install u-boot-tools device-tree-compiler"
)

MiB = 1 << 20
HUGE = [0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 1 << 32, 1 << 40, 1 << 63, (1 << 64) - 1]


# -- one checker for every reader ------------------------------------------------------


def bounded(fn: Callable[[], Any], cap: int) -> tuple[Any, HarnessError | None]:
    """Run a reader: (result, None) or (None, its HarnessError); anything else fails the
    test, and so does a traced allocation peak above `cap` bytes."""
    tracemalloc.start()
    try:
        return fn(), None
    except HarnessError as exc:
        return None, exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= cap, f"peak {peak} bytes > cap {cap} bytes"


def assert_names(exc: HarnessError, path: Path, field: bool = True) -> None:
    """The error names the file (as given or resolved), says what is wrong, and where."""
    assert exc.file is not None and (str(path) in exc.file or str(path.resolve()) in exc.file), exc
    assert exc.what.strip(), exc
    if field:
        assert exc.field, f"no field in: {exc}"
    assert str(path.name) in str(exc)


# -- elfloader images ---------------------------------------------------------------------


def kernel_elf(tag: int = 0) -> Elf:
    return Elf(
        0x40000000,
        [
            Seg(0x40000000, bytes([0x1F, 0x20, 0x03, 0xD5]) * 16 + bytes([tag]) * 8, flags=5),
            Seg(0x40001000, b"kdata" * 5, memsz=0x2000, flags=6),
        ],
    )


def synthetic_loader(tmp: Path, stripped: bool = False, hashed: bool = False, archive_end: int | None = None) -> bytes:
    """An seL4-style elfloader made on the host: one segment holding a newc archive
    (kernel.elf, a rootserver, optionally a SHA-256 hash member), with or without the
    `_archive_start` symbols."""
    k = kernel_elf().write(tmp / "kernel.elf")
    r = Elf(0x400000, [Seg(0x400000, bytes(range(64)), flags=5)]).write(tmp / "rootserver")
    members = [("kernel.elf", k), ("rootserver", r)]
    if hashed:
        import hashlib

        (tmp / "kernel.bin").write_bytes(hashlib.sha256(k.read_bytes()).digest())
        members.append(("kernel.bin", tmp / "kernel.bin"))
    write_newc(members, tmp / "archive.cpio")
    archive = (tmp / "archive.cpio").read_bytes()
    base = 0x80000000
    code = b"\x00\x00\x00\x14" * 8  # the loader's "text"
    end = base + len(code) + len(archive) if archive_end is None else archive_end
    symbols = {} if stripped else {"_archive_start": base + len(code), "_archive_start_end": end}
    return Elf(
        base, [Seg(base, code + archive, flags=5), Seg(base + 0x100000, b"", memsz=0x1000, flags=6)], symbols=symbols
    ).bytes()


REAL = {
    "reference-sel4like": ROOT / "build/images/virt/mmu-off-none-1M-sel4console-sel4like/elfloader.elf",
    "sel4": ROOT / "build/sel4/images/qemu-arm-virt-el1-debug/elfloader.elf",
}


class Seeds:
    """Valid elfloader images to mutate, and where their interesting headers are."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.data: dict[str, bytes] = {
            "synthetic": synthetic_loader(tmp),
            "synthetic-stripped": synthetic_loader(tmp, stripped=True),
            "synthetic-hashed": synthetic_loader(tmp, hashed=True),
        }
        for name, path in REAL.items():
            if path.is_file() and path.stat().st_size < 16 * MiB:
                self.data[name] = path.read_bytes()

    def anchors(self, name: str) -> dict[str, int]:
        b = self.data[name]
        phoff, shoff = struct.unpack_from("<QQ", b, 32)
        cpio = [m.start() for m in re.finditer(rb"070701[0-9A-Fa-f]{104}", b)]
        return {
            "ehdr": 0,
            "phdrs": phoff,
            "shdrs": shoff,
            "end": len(b),
            **{f"cpio{i}": off for i, off in enumerate(cpio[:4])},
        }


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return Seeds(tmp_path_factory.mktemp("seeds"))


EHDR_FIELDS = [24, 32, 40, 52, 54, 56, 58, 60, 62]  # entry, phoff, shoff, sizes, counts
PHDR_FIELDS = [0, 4, 8, 16, 24, 32, 40, 48]  # type flags offset vaddr paddr filesz memsz align
SHDR_FIELDS = [0, 4, 8, 16, 24, 32, 40, 44, 48, 56]  # name type flags addr offset size link info align entsize

# A mutation is a plain tuple, so failures print (and @example pins) in readable form:
#   ("truncate", fraction)               cut the file there
#   ("int", anchor, offset, width, value) write a little-endian integer
#   ("hex", anchor, field, text)         rewrite one 8-character field of a newc header
#   ("bytes", fraction, data)            overwrite bytes anywhere
int_op = st.one_of(
    st.tuples(
        st.just("int"),
        st.just("ehdr"),
        st.sampled_from(EHDR_FIELDS),
        st.sampled_from([2, 4, 8]),
        st.sampled_from(HUGE) | st.integers(0, (1 << 64) - 1),
    ),
    st.tuples(
        st.just("int"),
        st.just("phdrs"),
        st.builds(lambda i, f: 56 * i + f, st.integers(0, 5), st.sampled_from(PHDR_FIELDS)),
        st.sampled_from([4, 8]),
        st.sampled_from(HUGE) | st.integers(0, (1 << 64) - 1),
    ),
    st.tuples(
        st.just("int"),
        st.just("shdrs"),
        st.builds(lambda i, f: 64 * i + f, st.integers(0, 40), st.sampled_from(SHDR_FIELDS)),
        st.sampled_from([4, 8]),
        st.sampled_from(HUGE) | st.integers(0, (1 << 64) - 1),
    ),
)
HEX_TEXTS = [b"FFFFFFFF", b"-0000001", b" 0000001", b"0000_001", b"00000000", b"7FFFFFFF", b"0000000G", b"+0000010"]
hex_op = st.tuples(
    st.just("hex"),
    st.sampled_from([f"cpio{i}" for i in range(4)]),
    st.integers(0, 12),
    st.sampled_from(HEX_TEXTS) | st.binary(min_size=8, max_size=8),
)
mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    int_op,
    int_op,
    hex_op,
    hex_op,
    st.tuples(st.just("bytes"), st.floats(0, 1), st.binary(min_size=1, max_size=16)),
)


def mutate(b: bytes, anchors: dict[str, int], ops: list[tuple[Any, ...]]) -> bytes:
    out = bytearray(b)
    for op in ops:
        if op[0] == "truncate":
            del out[int(len(out) * op[1]) :]
        elif op[0] == "int":
            _, anchor, off, width, value = op
            at = anchors.get(anchor, 0) + off
            out[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        elif op[0] == "hex":
            _, anchor, field, text = op
            if anchor in anchors:
                at = anchors[anchor] + 6 + 8 * field
                out[at : at + 8] = text
        elif op[0] == "bytes":
            at = int(len(out) * op[1])
            out[at : at + len(op[2])] = op[2]
    return bytes(out)


def exercise_payload(path: Path) -> tuple[int, ...]:
    """What a session does with a user's image before it boots: parse, then read."""
    payload = from_user(path)
    crcs = tuple(s.crc32 for img in payload.images for s in img.segments)
    _ = payload.contract, payload.archive_bytes, payload.unpacked_bytes
    for h in payload.hashes:
        h.describe()
    payload.locate(payload.images[0].segments[0].paddr)
    return crcs


@profile(1.0)
@given(
    seed=st.sampled_from(["synthetic", "synthetic-stripped", "synthetic-hashed", *REAL]),
    ops=st.lists(mutation, min_size=1, max_size=3),
)
# a CPIO member claiming 4 GiB; a name size of 4 GiB (was: a 4 GiB allocation); a size of
# "-0000001" (was: ValueError from FileRange.sub)
@example(seed="synthetic", ops=[("hex", "cpio0", 6, b"FFFFFFFF")])
@example(seed="synthetic", ops=[("hex", "cpio1", 11, b"FFFFFFF0")])
@example(seed="synthetic", ops=[("hex", "cpio0", 6, b"-0000001")])
@example(seed="synthetic-stripped", ops=[("hex", "cpio0", 11, b"-0000001")])
# e_phnum 65535 (PN_XNUM), program headers beyond EOF, a PT_LOAD's filesz of 2^64-1
@example(seed="synthetic", ops=[("int", "ehdr", 56, 2, 0xFFFF)])
@example(seed="synthetic", ops=[("int", "ehdr", 32, 8, 1 << 40)])
@example(seed="synthetic", ops=[("int", "phdrs", 32, 8, (1 << 64) - 1)])
# the symbol table's entry size 0, its size huge
@example(seed="synthetic", ops=[("int", "shdrs", 64 + 56, 8, 0)])
@example(seed="synthetic", ops=[("int", "shdrs", 64 + 32, 8, 1 << 40)])
@example(seed="synthetic", ops=[("truncate", 0.5)])
def test_elfloader_image_any_mutation(seeds: Seeds, seed: str, ops: list[tuple[Any, ...]]) -> None:
    if seed not in seeds.data:
        return  # a real image that is not built here
    data = mutate(seeds.data[seed], seeds.anchors(seed), ops)
    path = seeds.tmp / f"mutated-{seed}.elf"
    path.write_bytes(data)
    crcs, exc = bounded(lambda: exercise_payload(path), 2 * len(data) + 16 * MiB)
    if exc is not None:
        assert_names(exc, path)
    else:
        assert crcs


def test_unmutated_seeds_parse(seeds: Seeds) -> None:
    for name, data in seeds.data.items():
        path = seeds.tmp / f"seed-{name}.elf"
        path.write_bytes(data)
        payload = from_user(path)
        assert payload.images[0].name == "kernel", name
        if name.startswith("synthetic"):
            assert [i.name for i in payload.images] == ["kernel", "rootserver"]
            assert payload.images[0].segments[0].crc32 == zlib.crc32(kernel_elf().segs[0].data)
        if name == "synthetic-hashed":
            assert [h.ok for h in payload.hashes] == [True]


def test_archive_symbols_beyond_the_file(seeds: Seeds) -> None:
    """`_archive_start_end` 4 GiB past `_archive_start` (was: accepted, the members then
    read past the end of the file)."""
    for end in (0x80000000 + 32 + (1 << 32), 0x80000000):  # 4 GiB long; negative
        path = seeds.tmp / "sym.elf"
        path.write_bytes(synthetic_loader(seeds.tmp, archive_end=end))
        with pytest.raises(HarnessError) as exc:
            from_user(path)
        assert exc.value.field == "_archive_start_end", str(exc.value)
        assert_names(exc.value, path)


# -- item 5: --image given a directory ----------------------------------------------------


def test_image_directory_says_is_a_directory(tmp_path: Path) -> None:
    d = tmp_path / "images"
    d.mkdir()
    with pytest.raises(HarnessError) as exc:
        from_user(d)
    assert exc.value.what == "is a directory" and exc.value.file == str(d)
    assert "pass the elfloader image file inside it" in str(exc.value)
    (d / "elfloader.elf").write_bytes(synthetic_loader(tmp_path))
    with pytest.raises(HarnessError) as exc:
        from_user(d)
    assert f"e.g. {d / 'elfloader.elf'}" in str(exc.value)
    with pytest.raises(HarnessError, match="no such file"):
        from_user(tmp_path / "nope.elf")


def test_cli_image_directory_is_one_line(tmp_path: Path) -> None:
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "inspect", str(tmp_path)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"harness: error: {tmp_path}: is a directory (fix: pass the elfloader image file inside it)"
    )


# -- newc archives on their own -------------------------------------------------------------

member_names = st.text(st.characters(codec="utf-8", exclude_characters="\0/"), min_size=1, max_size=24).filter(
    lambda n: n != "TRAILER!!!"
)


@profile(1.0)
@given(
    members=st.lists(st.tuples(member_names, st.binary(max_size=64)), max_size=4),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("truncate"), st.floats(0, 1)),
            hex_op,
            st.tuples(st.just("bytes"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
        ),
        max_size=3,
    ),
)
@example(members=[("kernel.elf", b"x")], ops=[("hex", "cpio0", 6, b"FFFFFFFF")])
@example(members=[("kernel.elf", b"x")], ops=[("hex", "cpio0", 11, b"FFFFFFFF")])
@example(members=[("kernel.elf", b"x")], ops=[("hex", "cpio0", 6, b"-0000001")])
@example(members=[("0000\x80\x80", b"")], ops=[])  # was: the writer counted characters
def test_newc_reader(
    tmp_path_factory: pytest.TempPathFactory, members: list[tuple[str, bytes]], ops: list[tuple[Any, ...]]
) -> None:
    tmp = tmp_path_factory.mktemp("cpio")
    files = []
    for i, (name, data) in enumerate(members):
        (tmp / f"m{i}").write_bytes(data)
        files.append((name, tmp / f"m{i}"))
    write_newc(files, tmp / "a.cpio")
    valid = (tmp / "a.cpio").read_bytes()
    anchors = {f"cpio{i}": m.start() for i, m in enumerate(re.finditer(rb"070701[0-9A-Fa-f]{104}", valid))}
    data = mutate(valid, anchors, ops)
    path = tmp / "b.cpio"
    path.write_bytes(data)
    got, exc = bounded(
        lambda: [(m.name, m.data.read()) for m in read_newc(FileRange(path, 0, len(data)))], 2 * len(data) + MiB
    )
    if exc is not None:
        assert_names(exc, path)
        assert exc.field == "cpio archive"
    elif data == valid:
        assert got == members  # the round trip
    # a window claiming more than the file: members past the end are an error, not EOFError
    _, exc2 = bounded(lambda: [m.data.read() for m in read_newc(FileRange(path, 0, 1 << 32))], 2 * len(data) + MiB)
    if exc2 is not None:
        assert_names(exc2, path)


# -- ELF images and what the harness writes for U-Boot -------------------------------------

segments = st.lists(
    st.builds(
        Seg,
        paddr=st.integers(0, (1 << 34) - 1).map(lambda a: a & ~0xF),
        data=st.binary(max_size=96),
        memsz=st.none() | st.integers(0, 0x4000),
        flags=st.sampled_from([4, 5, 6, 7]),
    ),
    min_size=1,
    max_size=4,
)


def elf_spec(segs: list[Seg]) -> list[Seg]:
    """elfgen writes memsz as given: keep filesz <= memsz (a valid ELF)."""
    return [Seg(s.paddr, s.data, None if s.memsz is None else max(s.memsz, len(s.data)), s.flags) for s in segs]


@profile(1.0)
@given(segs=segments, entry=st.integers(0, (1 << 64) - 1))
def test_elf_round_trip(tmp_path_factory: pytest.TempPathFactory, segs: list[Seg], entry: int) -> None:
    segs = elf_spec(segs)
    path = Elf(entry, segs).write(tmp_path_factory.mktemp("elf") / "x.elf")
    elf = read_elf(path)
    assert elf.entry == entry
    assert [(s.paddr, s.filesz, s.memsz, s.crc32) for s in elf.segments] == [
        (s.paddr, len(s.data), s.memsz if s.memsz is not None else len(s.data), zlib.crc32(s.data)) for s in segs
    ]


# Packages are real files mkimage reads: segments close together (a flat image spans them).
close_segments = st.builds(
    lambda base, segs: [Seg(base + s.paddr, s.data, s.memsz, s.flags) for s in segs],
    st.sampled_from([0x40000000, 0x80000000, 0xFFFF0000, 0x1_4000_0000]),
    st.lists(
        st.builds(
            Seg,
            paddr=st.integers(0, 0x10000).map(lambda a: a & ~0xF),
            data=st.binary(max_size=96),
            memsz=st.none() | st.integers(0, 0x2000),
            flags=st.sampled_from([5, 6, 7]),
        ),
        min_size=1,
        max_size=3,
    ),
)


@needs_mkimage
@profile(0.3)
@given(segs=close_segments, kind=st.sampled_from(["uimage", "fit"]), entry_in=st.integers(0, 3))
@example(segs=[Seg(0x1_4000_0000, b"hi")], kind="uimage", entry_in=0)  # was: mkimage kept the low 32 bits
@example(segs=[Seg(0x1_4000_0000, b"hi")], kind="fit", entry_in=0)
def test_uboot_package_round_trip(
    tmp_path_factory: pytest.TempPathFactory, segs: list[Seg], kind: str, entry_in: int
) -> None:
    """What the harness writes, U-Boot's `mkimage -l` reads back with the same addresses,
    size and checksum -- or the harness refused with a HarnessError naming the file."""
    tmp = tmp_path_factory.mktemp("pkg")
    segs = elf_spec(segs)
    entry = sorted(segs, key=lambda s: s.paddr)[min(entry_in, len(segs) - 1)].paddr
    path = Elf(entry, segs).write(tmp / "loader.elf")
    try:
        pkg = package(path, kind, 0x40000000, out_root=tmp / "out")
    except HarnessError as exc:
        assert_names(exc, path)
        return
    flat = pkg.path.parent / "loader.bin"
    data = flat.read_bytes()
    assert len(data) == pkg.data_bytes
    info = describe(pkg.path)
    if kind == "uimage":
        head = pkg.path.read_bytes()[:64]
        magic, _hcrc, _time, size, load, ep, dcrc = struct.unpack_from(">7I", head)
        assert (magic, size, load, ep, dcrc) == (0x27051956, len(data), pkg.load, pkg.entry, zlib.crc32(data))
        assert f"Load Address: {pkg.load:08x}" in info and f"Entry Point:  {pkg.entry:08x}" in info
    else:
        assert f"Load Address: {pkg.load:#010x}" in info, info
        assert f"Entry Point:  {pkg.entry:#010x}" in info, info
        assert re.search(r"Hash algo:\s+crc32\s+Hash value:\s+" + f"{zlib.crc32(data):08x}", info), info


@profile(1.0)
@given(head=st.binary(max_size=80), magic=st.booleans())
def test_arm64_image_header_and_flatten_of_any_bytes(
    tmp_path_factory: pytest.TempPathFactory, head: bytes, magic: bool
) -> None:
    if magic and len(head) >= 64:
        head = head[:0x38] + b"ARM\x64" + head[0x3C:]
    tmp = tmp_path_factory.mktemp("img")
    path = tmp / "Image"
    path.write_bytes(head)
    offset = image_header(path)
    assert offset is None or (len(head) >= 64 and offset == struct.unpack_from("<Q", head, 8)[0])
    try:
        flat = flatten(path, 0x40000000, tmp / "out")
    except HarnessError as exc:
        assert_names(exc, path)
    else:
        assert offset is not None and flat.load == 0x40000000 + offset and flat.size == len(head)


# -- target YAML ---------------------------------------------------------------------------

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(1 << 70), 1 << 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["(", "a{99999999999}", "virt", "0x40000000", "uboot", "fit", "1", "[", "*", "\\", ".nan"]),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans()), inner, max_size=3)
    ),
    max_leaves=8,
)

# Every field the harness reads, as a path into the document.
KNOWN_FIELDS = [
    "harness",
    "harness.machine",
    "harness.boot",
    "harness.image_format",
    "harness.memory_map",
    "harness.memory_map.dram_base",
    "harness.memory_map.dram_size",
    "harness.expect",
    "harness.expect.el",
    "harness.expect.handoff",
    "harness.phases",
    "harness.phases.loader.banner",
    "harness.phases.image",
    "harness.poison",
    "harness.remote",
    "harness.timeouts",
    *[f"harness.timeouts.{k}" for k in ("power_on", "uboot", "load", "loader", "unpack", "unpack_per_mib", "kernel")],
    "harness.uboot",
    *[
        f"harness.uboot.{k}"
        for k in (
            "prompt",
            "autoboot",
            "interrupt",
            "load_addr",
            "transport",
            "package",
            "fdt",
            "setup",
            "retries",
            "fit_config",
            "fit_hashes",
            "bootm",
            "uboot_reserve",
            "tftpblocksize",
            "tftpwindowsize",
        )
    ],
    "harness.timing_profile",
    "harness.console_uart",
    "harness.lab",
    "harness.firmware",
    "harness.verdict",
    "harness.verdict.expect",
    "harness.verdict.fail_on",
    "harness.verdict.silent_ok",
]
BASES = {name: yaml.safe_load((TARGETS_DIR / f"{name}.yaml").read_text()) for name in ("qemu-virt", "qemu-virt-uboot")}
# Errors that are about two fields together name one of them.
CROSS_FIELD = {"harness.uboot", "harness.firmware", "harness.boot"}


def set_field(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `dotted` (phase names contain dots: the rest after `phases.` is one key)."""
    head, _, phase = dotted.partition(".phases.")
    keys = head.split(".") + (["phases", phase] if phase else [])
    node = doc
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[keys[-1]] = value


def target_error(path: Path) -> HarnessError | None:
    _, exc = bounded(lambda: load(str(path)), 64 * MiB)
    return exc


@profile(2.0)
@given(base=st.sampled_from(sorted(BASES)), field=st.sampled_from(KNOWN_FIELDS), value=yaml_values)
@example(base="qemu-virt", field="harness.timeouts.unpack", value=math.nan)  # was: accepted
@example(base="qemu-virt", field="harness.timeouts.kernel", value=math.inf)  # was: accepted
@example(base="qemu-virt", field="harness.phases.loader.banner", value="(")  # was: re.error
@example(base="qemu-virt", field="harness.phases.image", value="a{99999999999}")  # OverflowError
@example(base="qemu-virt-uboot", field="harness.uboot.autoboot", value="((")  # was: re.error
@example(base="qemu-virt-uboot", field="harness.uboot.prompt", value=[1])  # was: accepted "[1]"
@example(base="qemu-virt", field="harness.verdict.expect", value="a{99999999999}")
@example(base="qemu-virt", field="harness.timing_profile", value={"a": 1})
def test_target_known_field_any_value(
    tmp_path_factory: pytest.TempPathFactory, base: str, field: str, value: Any
) -> None:
    doc = copy.deepcopy(BASES[base])
    set_field(doc, field, value)
    path = tmp_path_factory.mktemp("t") / "target.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    exc = target_error(path)
    if exc is not None:
        assert_names(exc, path)
        named = exc.field
        assert named is not None, exc
        assert (
            named == field or named in CROSS_FIELD or field.startswith(named + ".") or named.startswith(field + ".")
        ), f"{field} set to {value!r}: {exc}"


@profile(1.0)
@given(
    base=st.sampled_from(sorted(BASES)),
    where=st.sampled_from(
        ["harness", "harness.uboot", "harness.timeouts", "harness.verdict", "harness.memory_map", "harness.expect"]
    ),
    keys=st.lists(
        st.one_of(st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=6)),
        min_size=2,
        max_size=4,
    ),
)
@example(base="qemu-virt", where="harness", keys=[1, "zz"])  # was: TypeError sorting the keys
def test_target_unknown_keys_of_any_type(
    tmp_path_factory: pytest.TempPathFactory, base: str, where: str, keys: list[Any]
) -> None:
    doc = copy.deepcopy(BASES[base])
    node = doc
    for k in where.split("."):
        node = node.setdefault(k, {})
    for k in keys:
        node.setdefault(k, 1)
    path = tmp_path_factory.mktemp("t") / "target.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    exc = target_error(path)
    if exc is not None:
        assert_names(exc, path)
        assert exc.field and exc.field.startswith(where.split(".")[0])


def alias_bomb(levels: int = 8) -> str:
    text = "a1: &a1 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(2, levels + 1):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n"
    return text


QEMU_VIRT_TEXT = (TARGETS_DIR / "qemu-virt.yaml").read_text()


@profile(2.0)
@given(
    doc=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        yaml_values.map(lambda v: yaml.safe_dump(v)),
        st.builds(lambda v: yaml.safe_dump({"targets": {"main": {}}, "harness": v}), yaml_values),
    )
)
@example(doc=b"harness: {machine: \xe9}\n")  # was: UnicodeDecodeError
@example(doc="a: " + "[" * 500 + "]" * 500)  # was: RecursionError
@example(doc="3")  # no field named
@example(
    doc=alias_bomb() + QEMU_VIRT_TEXT.replace("harness:\n  machine: virt", "harness:\n  machine: *a8")
)  # 10^8 items in a message
@example(
    doc="targets: {main: {}}\nharness: {machine: virt, memory_map: {dram_base: 1, dram_size: 2}, phases: {nope: x}}"
)  # was: accepted, failed at boot
def test_target_any_document(tmp_path_factory: pytest.TempPathFactory, doc: str | bytes) -> None:
    path = tmp_path_factory.mktemp("t") / "target.yaml"
    if isinstance(doc, bytes):
        path.write_bytes(doc)
    else:
        path.write_text(doc)
    exc = target_error(path)
    if exc is not None:
        assert_names(exc, path)
        assert len(str(exc)) < 2000, f"{len(str(exc))} characters"


def test_alias_bomb_field_is_named_quickly(tmp_path: Path) -> None:
    assert "harness:\n  machine: virt" in QEMU_VIRT_TEXT
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb() + QEMU_VIRT_TEXT.replace("harness:\n  machine: virt", "harness:\n  machine: *a8"))
    exc = target_error(path)
    assert exc is not None and exc.field == "harness.machine" and len(str(exc)) < 1000


# -- the console -----------------------------------------------------------------------------

UBOOT_LINES = [
    "U-Boot 2023.01+dfsg-2+deb12u1 (Apr 18 2024 - 22:00:42 +0000)",
    "Hit any key to stop autoboot:  2 ",
    "TFTP from server 10.0.2.2; our IP address is 10.0.2.15",
    "Bytes transferred = 1237240 (12e0f8 hex)",
    "\t 21.9 MiB/s",
    "## Booting kernel from Legacy Image at 48000000 ...",
    "   Verifying Checksum ... OK",
    "Starting kernel ...",
]
LOADER_LINES = [line for line in (Path(__file__).parent / "data/sel4-new-form.log").read_text().split("\n") if line] + [
    "@h mark name=unpack.begin ticks=0x100 freq=62500000",
    "@h seg image=kernel idx=0 paddr=0x40000000 filesz=16 memsz=16 crc32=0x1234 ok",
    "@h mark name=unpack.end ticks=0x200 freq=62500000",
    "Early MMU: cleaned 3 ranges (4096 bytes) to PoC, MMU and caches off",
]
MARKERS = UBOOT_LINES + LOADER_LINES
PATTERNS = Patterns.for_target()
# For each event, text its line must contain.
EVENT_TEXT = {
    "loader.banner": "ELF-loader started on CPU: ",
    "uboot.banner": "U-Boot ",
    "uboot.autoboot": "Hit any key to stop autoboot",
    "image": "ELF-loading image '",
    "handoff": "entry point...",
    "handoff.mmu": "MMU and paging",
    "uboot.starting": "Starting kernel ...",
    "uboot.loaded": "Bytes transferred = ",
    "uboot.tftp": "TFTP from server ",
    "kernel.success": "All is well in the universe",
    "kernel.bootstrap": "Bootstrapping kernel",
    "kernel.userspace": "Booting all finished",
    "loader.abort": "abort() called.",
    "paddr": "paddr=[",
    "vaddr": "vaddr=[",
    "virt_entry": "virt_entry=",
    "uboot.rate": "/s",
    "uboot.read": " bytes read in ",
    "earlymmu.clean": "Early MMU: cleaned ",
    "uboot.booting": " kernel from ",
    "uboot.verify": "Verifying ",
}
assert set(EVENT_TEXT) <= set(DEFAULT_PATTERNS)


def record(chunks: list[bytes]) -> list[str]:
    rec = ConsoleRecorder(ScriptedConsole(chunks=chunks))
    while rec.poll(0):
        pass
    rec.close()
    return [line.text for line in rec.lines]


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:]) if b > a]


def timeline(lines: list[str]) -> Timeline:
    tl = Timeline(0)
    for i, text in enumerate(lines):
        tl.feed(ConsoleLine(i * 1000, text))
    # the queries a report makes
    tl.phases()
    tl.to_json()
    tl.seed_window()
    tl.kernel_end()
    return tl


def visible(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r", "").replace("\0", "")


noise_line = st.binary(max_size=40).filter(lambda b: b"\n" not in b) | st.sampled_from(
    [
        b"\xff\xfe\x00",
        b"\x00U-Boot",
        b"\r",
        b"ELF-loader started on CPU",
        b"  paddr=[zz..1]",
        b"@h mark name=x ticks=zz freq=1",
        b"@h",
        b"@h mark name=x ticks=" + b"9" * 5000 + b" freq=1",
        "é€😀".encode(),
        b"\x1b[0m",
        b"\x0c",
        b"\xe2\x82",
        b"Bytes transferred = " + b"1" * 5000,
    ]
)
stream_items = st.lists(st.one_of(st.sampled_from(MARKERS).map(str.encode), noise_line), max_size=30)
line_ends = st.sampled_from([b"\n", b"\r\n", b"\r\r\n", b"\n\r"])


@profile(2.0)
@given(
    items=stream_items, ends=st.lists(line_ends, min_size=1), cuts=st.lists(st.integers(0, 1 << 20)), tail=st.booleans()
)
@example(items=["é".encode()], ends=[b"\n"], cuts=[1], tail=False)  # was: "\ufffd\ufffd" when split
@example(items=[b"@h mark name=a ticks=zz freq=1"], ends=[b"\n"], cuts=[], tail=False)  # ValueError
@example(items=[b"Bytes transferred = " + b"1" * 5000], ends=[b"\n"], cuts=[], tail=False)
@example(items=[b"\x00U-Boot 2023.01 (Apr 18 2024)"], ends=[b"\r\n"], cuts=[], tail=False)
def test_console_stream(items: list[bytes], ends: list[bytes], cuts: list[int], tail: bool) -> None:
    """Any stream, cut anywhere: the same lines as in one piece, no exception, and only
    events whose marker text is in the stream, one per line that carries it."""
    data = b"".join(item + ends[i % len(ends)] for i, item in enumerate(items))
    if tail:
        data = data.rstrip(b"\r\n")
    whole = record([data] if data else [])
    assert record(chunked(data, cuts)) == whole
    tl = timeline(whole)
    text = visible(data)
    lines = text.split("\n")
    for ev in tl.events:
        assert ev.text in lines
        key = EVENT_TEXT.get(ev.name)
        if key is not None:
            assert key in ev.text, (ev.name, ev.text)
    for name, key in EVENT_TEXT.items():
        if key not in text:
            assert tl.first(name) is None, name
    # the lines that are markers in the input come out as their events, in order
    expected = [m[0] for line in whole if parse_record(line) is None and (m := PATTERNS.match(line))]
    assert [e.name for e in tl.events] == expected


def test_banner_only_from_its_line() -> None:
    """A stream without 'ELF-loader started' has no loader.banner; with the words inside
    another line neither."""
    tl = timeline(record([b"xx ELF-loader started on CPU: A53\r\nELF-loader\r\n started\n"]))
    assert tl.first("loader.banner") is None
    tl = timeline(record([b"\x00\x00ELF-loader started on CPU: A53\r\n"]))
    assert tl.first("loader.banner") is not None  # NULs a UART glitch put there are dropped


def test_one_megabyte_line() -> None:
    """1 MiB without a newline, read 4 KiB at a time, then a banner: one long line (no event,
    no quadratic re-splitting) and the banner still found."""
    big = b"U" * MiB
    chunks = chunked(big, list(range(0, MiB, 4096))) + [b"\r\nELF-loader started on CPU: X\r\n"]
    import time

    t = time.monotonic()
    tracemalloc.start()
    lines = record(chunks)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.monotonic() - t < 5
    assert peak < 16 * MiB
    assert [len(line) for line in lines] == [MiB, len("ELF-loader started on CPU: X")]
    tl = timeline(lines)
    assert [e.name for e in tl.events] == ["loader.banner"]


@profile(1.0)
@given(texts=st.lists(st.text(st.characters(exclude_characters="\n\r\0", codec="utf-8")), max_size=8))
@example(texts=["junk\x0c[1.0] ELF-loader started on CPU: X"])  # was: two lines, one a banner
@example(texts=["a\x0b[zz] b"])  # was: ValueError from float()
def test_log_round_trip(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> None:
    path = tmp_path_factory.mktemp("log") / "console.log"
    save_log([ConsoleLine(i * 1000, t) for i, t in enumerate(texts)], path, 0)
    back = load_log(path)
    assert [line.text for line in back] == texts
    assert [e.name for e in timeline([line.text for line in back]).events] == [e.name for e in timeline(texts).events]


def _iter_fields(doc: Any, prefix: str = "") -> Iterator[str]:  # used by a sanity test below
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield f"{prefix}{k}"
            yield from _iter_fields(v, f"{prefix}{k}.")


def test_known_fields_cover_the_shipped_targets() -> None:
    """KNOWN_FIELDS lists every field the shipped targets use (so the mutations reach them)."""
    used = {f for doc in BASES.values() for f in _iter_fields(doc.get("harness", {}), "harness.")}
    assert used <= set(KNOWN_FIELDS) | {"harness.uboot.setup", "harness.phases"}, used - set(KNOWN_FIELDS)

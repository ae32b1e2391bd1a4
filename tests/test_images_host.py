"""ELF and CPIO inspection on host-made files: segments, CRCs, archives, errors."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable

import pytest
from harness.testing import require_tool

from harness.errors import HarnessError
from harness.images.cpio import read_newc, write_newc
from harness.images.elf import read_elf
from harness.images.file_window import FileRange, crc32_with_zeros
from harness.payload import from_user

from helpers.elfgen import Elf, Seg

pytestmark = pytest.mark.host


def kernel(tmp: Path) -> Path:
    return Elf(
        0x40200000,
        [Seg(0x40200000, b"\x1f\x20\x03\xd5" * 64, flags=5), Seg(0x40201000, b"data" * 10, memsz=4096, flags=6)],
    ).write(tmp / "k.elf")


def test_segments_and_crc(tmp_path: Path) -> None:
    elf = read_elf(kernel(tmp_path))
    assert [(s.paddr, s.filesz, s.memsz, s.flag_str) for s in elf.segments] == [
        (0x40200000, 256, 256, "rx"),
        (0x40201000, 40, 4096, "rw"),
    ]
    assert elf.segments[0].crc32 == zlib.crc32(b"\x1f\x20\x03\xd5" * 64)
    assert elf.segments[1].bss == (0x40201028, 0x40202000)
    assert elf.entry_paddr == 0x40200000
    assert elf.segment_at(0x40201FFF) is elf.segments[1]
    assert elf.segment_at(0x40202000) is None


def test_entry_paddr_follows_segment_offset(tmp_path: Path) -> None:
    path = Elf(0xFFFFFF8000000000, [Seg(0x40000000, b"x" * 16, vaddr=0xFFFFFF8000000000)]).write(tmp_path / "v.elf")
    assert read_elf(path).entry_paddr == 0x40000000


def test_crc_with_zeros_matches_zlib() -> None:
    assert crc32_with_zeros(zlib.crc32(b"abc"), 100_000) == zlib.crc32(b"abc" + bytes(100_000))


def test_newc_round_trip(tmp_path: Path) -> None:
    k = kernel(tmp_path)
    app = tmp_path / "app"
    app.write_bytes(b"hello")
    write_newc([("kernel.elf", k), ("app", app)], tmp_path / "a.cpio")
    members = read_newc(FileRange(tmp_path / "a.cpio", 0, (tmp_path / "a.cpio").stat().st_size))
    assert [m.name for m in members] == ["kernel.elf", "app"]
    assert members[1].data.read() == b"hello"
    assert members[0].data.read() == k.read_bytes()


def test_an_unchanged_archive_keeps_its_file_and_age(tmp_path: Path) -> None:
    """Rewriting the same bytes (a member file made again, newer) leaves the archive as it
    was, so make relinks nothing; new bytes replace it by rename."""
    app = tmp_path / "app"
    app.write_bytes(b"hello")
    out = tmp_path / "a.cpio"
    assert write_newc([("app", app)], out)
    before = out.stat()
    app.unlink()
    app.write_bytes(b"hello")
    assert not write_newc([("app", app)], out)
    after = out.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    app.write_bytes(b"hello, again")
    assert write_newc([("app", app)], out)
    assert out.stat().st_ino != before.st_ino, "replaced in place: a reader would see it change"
    assert read_newc(FileRange(out, 0, out.stat().st_size))[0].data.read() == b"hello, again"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.requires_tool("aarch64-linux-gnu-gcc", why="the reference loader is built here", fix="make setup")
def test_a_loader_built_again_from_the_same_files_is_not_relinked(tmp_path: Path) -> None:
    """Suites on one machine build the same tagged loader from their own (equal) files while
    another suite boots it: a relink would rewrite the ELF under that boot's QEMU."""
    from harness.images.build import Variant, build

    def loader() -> tuple[int, int]:
        blob = tmp_path / "not-a-kernel"
        blob.unlink(missing_ok=True)
        blob.write_bytes(b"just data")
        st = build(Variant("virt", "mmu-off"), members=[("app", blob)], tag="same-files").elfloader.stat()
        return st.st_ino, st.st_mtime_ns

    assert loader() == loader()


def test_newc_matches_gnu_cpio(tmp_path: Path) -> None:
    """Our writer's archive lists the same with GNU cpio, when it is installed."""
    import subprocess

    require_tool("cpio", "our newc writer is compared with GNU cpio", "apt-get install cpio")
    k = kernel(tmp_path)
    write_newc([("kernel.elf", k)], tmp_path / "a.cpio")
    out = subprocess.run(["cpio", "-it"], input=(tmp_path / "a.cpio").read_bytes(), capture_output=True, check=True)
    assert out.stdout.decode().split() == ["kernel.elf"]


def loader_with_archive(tmp: Path, members: list[tuple[str, Path]], symbols: bool) -> Path:
    write_newc(members, tmp / "arch.cpio")
    archive = (tmp / "arch.cpio").read_bytes()
    code = b"\x00" * 0x100
    syms = {"_archive_start": 0x80000100, "_archive_start_end": 0x80000100 + len(archive)} if symbols else {}
    return Elf(0x80000000, [Seg(0x80000000, code + archive, flags=5)], syms).write(tmp / "loader.elf")


@pytest.mark.parametrize("symbols", [True, False], ids=["by-symbol", "stripped-scan"])
def test_find_archive_in_elfloader(tmp_path: Path, symbols: bool) -> None:
    k = kernel(tmp_path)
    app = Elf(0x40400000, [Seg(0x40400000, b"app!" * 8, flags=5)]).write(tmp_path / "app.elf")
    loader = loader_with_archive(tmp_path, [("kernel.elf", k), ("rootserver", app)], symbols)
    payload = from_user(loader)
    assert [i.name for i in payload.images] == ["kernel", "rootserver"]
    assert payload.images[1].segments[0].crc32 == zlib.crc32(b"app!" * 8)
    assert payload.locate(0x40201010) == "image 'kernel' segment 1 (paddr=0x40201000, rw)"


@pytest.mark.parametrize(
    "make,fragment",
    [
        (lambda p: p / "missing.elf", "no such file"),
        (lambda p: (p / "t.txt").write_text("hello") and p / "t.txt", "not an ELF file"),
        (lambda p: Elf(0, [Seg(0, b"x")], machine=62).write(p / "x86.elf"), "not EM_AARCH64"),
    ],
)
def test_bad_images_name_file_and_fix(tmp_path: Path, make: Callable[[Path], Path], fragment: str) -> None:
    path = make(tmp_path)
    with pytest.raises(HarnessError) as exc:
        from_user(path)
    assert fragment in str(exc.value) and str(path.name) in str(exc.value) and "fix:" in str(exc.value)


def test_truncated_image_is_reported(tmp_path: Path) -> None:
    k = kernel(tmp_path)
    data = k.read_bytes()
    cut = tmp_path / "cut.elf"
    cut.write_bytes(data[:300])
    with pytest.raises(HarnessError) as exc:
        read_elf(cut)
    assert "truncated" in str(exc.value) or "unreadable" in str(exc.value)


def test_loader_without_archive(tmp_path: Path) -> None:
    path = Elf(0x80000000, [Seg(0x80000000, b"\0" * 64)]).write(tmp_path / "plain.elf")
    with pytest.raises(HarnessError) as exc:
        from_user(path)
    assert "no CPIO archive" in str(exc.value)

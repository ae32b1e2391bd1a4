"""The archive-alignment patch (patches/seL4_tools/archive-align): every member's data in the
elfloader's archive starts 16-byte aligned, so seL4's MMU-off memcpy copies every image 8 bytes
at a time, whatever the names and sizes of the members before it.

The proof is structural, read from the built image itself (the archive between
`_archive_start` and `_archive_start_end` in the elfloader ELF): `misaligned` lists each member
whose data's load address is not a multiple of 16. It fails on the stock build (cpio(1) always
puts kernel.elf's data 12 bytes past a 16-byte boundary: 110-byte header + "kernel.elf\\0" = 121,
rounded to 124) and on a crafted archive with exactly one member moved by 4 bytes. Then the
aligned image must still boot: sel4test's verdict and the out-of-band memory check, and under the
cache model its copies from the archive are 8 bytes wide.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Callable

import pytest

from harness.coherence.run import run_to_handoff
from harness.errors import HarnessError
from harness.images.cpio import HEADER, find_archive, read_newc
from harness.images.elf import read_elf
from harness.images.file_window import FileRange
from harness.payload import Payload
from harness.sel4 import cli as sel4_cli
from harness.sel4.build import Sel4Build, build, sel4_venv
from harness.sel4.config import PATCHES, Sel4Config, for_target
from harness.sel4.sources import TARBALL, upstream_dir
from harness.session import Outcome
from harness.targets import Target
from harness.testing import missing_input, require_tool

ALIGN = 16
SERIES_DIR = PATCHES / "seL4_tools" / "archive-align"
EARLY_MMU_DIR = PATCHES / "seL4_tools" / "early-mmu"
SUCCESS = "All is well in the universe"
# tarball -> the directory inside it that is the seL4_tools root (the patch root)
TREES = {
    "pinned": ("sel4test-src.tar.xz", "sel4test-src/tools/seL4"),
    "master": ("seL4_tools-master.tar.xz", "seL4_tools-master"),
}


def misaligned(archive: FileRange, base: int, align: int = ALIGN) -> list[str]:
    """Each member whose data does not start on `align` bytes at its load address
    (`base`: the archive's own address), named with its address and residue."""
    out = []
    for m in read_newc(archive):
        at = base + m.data.offset - archive.offset
        if at % align:
            out.append(f"member '{m.name}': data at {at:#x} is {at % align} bytes past a {align}-byte boundary")
    return out


def misaligned_in_image(elfloader: Path) -> list[str]:
    """`misaligned` for the archive linked into an elfloader ELF (at `_archive_start`)."""
    return misaligned(find_archive(elfloader), read_elf(elfloader).symbols["_archive_start"])


def move_one_member(archive: bytes, name: str, by: int = 4) -> bytes:
    """A copy of a newc archive whose member `name` has its data `by` bytes later (its name
    field grows by NULs): exactly one defect, every other member where it was."""
    pos = 0
    while True:
        namesize = int(archive[pos + 94 : pos + 102], 16)
        size = int(archive[pos + 54 : pos + 62], 16)
        field = archive[pos + HEADER : pos + HEADER + namesize]
        data_at = pos + HEADER + namesize + (-(pos + HEADER + namesize) % 4)
        end = data_at + size + (-size % 4)
        if field.split(b"\0", 1)[0] == name.encode():
            break
        pos = end
    head = archive[pos : pos + 94] + b"%08X" % (namesize + by) + archive[pos + 102 : pos + HEADER]
    member = head + field + b"\0" * by
    member += b"\0" * (-(pos + len(member)) % 4) + archive[data_at : data_at + size]
    member += b"\0" * (-(pos + len(member)) % 4)
    return archive[:pos] + member + archive[end:]


def series() -> list[Path]:
    return sorted(SERIES_DIR.glob("[0-9][0-9][0-9][0-9]-*.patch"))


# --- the option: names, patches, errors (host) ---------------------------------------------------


@pytest.mark.host
def test_option_names_the_image_and_adds_the_series_after_the_early_mmu_one() -> None:
    stock, aligned = Sel4Config(), Sel4Config(align_archive=True)
    assert aligned.work_name == stock.work_name  # same kernel, same build directory
    assert aligned.name == "qemu-arm-virt-el1-debug-align-archive" != stock.name
    assert aligned.loader_patches() == series()
    both = Sel4Config(hyp=True, early_mmu=True, align_archive=True)
    assert both.name == "qemu-arm-virt-hyp-debug-early-mmu-align-archive"
    patches = both.loader_patches()
    assert patches[-len(series()) :] == series() and patches[0].parent == EARLY_MMU_DIR
    extra = PATCHES / "seL4_tools" / "stock-controls" / "skip-user-bss.patch"
    mutant = Sel4Config(align_archive=True, extra_patches=(extra,))
    assert mutant.loader_patches() == [*series(), extra]  # the extra patch applies last
    assert mutant.name != Sel4Config(extra_patches=(extra,)).name


@pytest.mark.host
def test_a_value_that_is_not_a_flag_names_the_option() -> None:
    with pytest.raises(HarnessError) as exc:
        Sel4Config(align_archive="yes")  # type: ignore[arg-type]
    assert exc.value.field == "--align-archive" and exc.value.fix and "'yes'" in str(exc.value)


@pytest.mark.host
def test_a_missing_series_names_the_directory_and_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.sel4 import config

    monkeypatch.setattr(config, "PATCHES", tmp_path)
    with pytest.raises(HarnessError) as exc:
        Sel4Config(align_archive=True).loader_patches()
    assert exc.value.file == str(tmp_path / "seL4_tools" / "archive-align")
    assert exc.value.fix and "archive-align" in exc.value.fix


@pytest.mark.host
def test_cli_flag_combines_with_the_others(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[Sel4Config] = []

    class Built:
        image = elfloader = tmp_path / "image"

    def fake_build(cfg: Sel4Config, project: Path | None = None) -> Built:
        seen.append(cfg)
        return Built()

    monkeypatch.setattr(sel4_cli, "build", fake_build)
    parser = argparse.ArgumentParser()
    sel4_cli.add_parser(parser.add_subparsers(dest="cmd"))
    extra = PATCHES / "seL4_tools" / "stock-controls" / "skip-user-bss.patch"
    args = parser.parse_args(
        ["sel4", "build", "--align-archive", "--early-mmu", "--hyp", "--elfloader-patch", str(extra)]
    )
    assert sel4_cli.run(args) == 0
    assert seen == [Sel4Config(hyp=True, early_mmu=True, align_archive=True, extra_patches=(extra,))]
    assert sel4_cli.run(parser.parse_args(["sel4", "build"])) == 0
    assert seen[-1].align_archive is False


# --- the patch: style, applies, and its writer (host) --------------------------------------------


@pytest.mark.host
def test_series_is_format_patch_style() -> None:
    patches = series()
    assert [p.name[:4] for p in patches] == [f"{i:04d}" for i in range(1, len(patches) + 1)]
    for p in patches:
        text = p.read_text()
        assert text.startswith("From ") and "Signed-off-by: " in text, p.name
        assert re.search(r"^Subject: \[PATCH \d+/\d+\] elfloader: ", text, re.M), p.name
        for new in re.findall(r"^diff --git a/(\S+) .*\nnew file mode", text, re.M):
            block = text.split(f"+++ b/{new}", 1)[1]
            assert "Copyright 2026, sel4-boot-harness contributors" in block[:400], new
            assert "SPDX-License-Identifier: BSD-2-Clause" in block[:400], new


def _extract(tarball: Path, root: str, dest: Path) -> Path:
    """`root`/elfloader-tool of `tarball` under `dest`: the patch root (seL4_tools)."""
    prefix = f"{root}/elfloader-tool/"
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(dest, members=members, filter="data")
    return dest / root


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Pristine seL4_tools (pinned and master), their elfloader-tool only."""
    require_tool("git", "the patches are applied with git apply", "apt-get install git")
    missing = [t for t, _ in TREES.values() if not (upstream_dir() / t).is_file()]
    if missing:
        missing_input(
            f"upstream tarballs in {upstream_dir()}",
            f"{', '.join(missing)} absent: the patch cannot be applied to the pinned sources",
            "put shared/ beside the repository",
        )
    base = tmp_path_factory.mktemp("align-trees")
    return {name: _extract(upstream_dir() / t, root, base / name) for name, (t, root) in TREES.items()}


def _apply(tree: Path, patches: list[Path]) -> None:
    proc = subprocess.run(["git", "apply", *map(str, patches)], cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 0, f"{[p.name for p in patches]} do not apply in {tree}: {proc.stderr}"


@pytest.mark.host
@pytest.mark.parametrize("order", ["alone", "after early-mmu", "before early-mmu"])
@pytest.mark.parametrize("tree", sorted(TREES))
def test_patch_applies_alone_and_with_the_early_mmu_series(
    trees: dict[str, Path], tree: str, order: str, tmp_path: Path
) -> None:
    copy = tmp_path / "seL4_tools"
    shutil.copytree(trees[tree], copy)
    early = sorted(EARLY_MMU_DIR.glob("*.patch"))
    steps = {"alone": [series()], "after early-mmu": [early, series()], "before early-mmu": [series(), early]}[order]
    for patches in steps:
        _apply(copy, patches)
    cmake = (copy / "elfloader-tool" / "CMakeLists.txt").read_text()
    assert "make_archive.py" in cmake and "MakeCPIO(archive.o" not in cmake
    assert ("ElfloaderEarlyMMU ELFLOADER_EARLY_MMU" in cmake) == (order != "alone")


@pytest.fixture(scope="module")
def writer(trees: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The patch's archive writer, from the pinned tree with the patch applied."""
    copy = tmp_path_factory.mktemp("writer") / "seL4_tools"
    shutil.copytree(trees["pinned"], copy)
    _apply(copy, series())
    return copy / "elfloader-tool" / "make_archive.py"


def _members(where: Path) -> list[Path]:
    """Names of 1..17 characters and sizes 0..40 bytes: every residue of header + name and of
    the data before each member, as the build's real names and sizes only sample them."""
    where.mkdir()
    paths = []
    for i in range(17):
        path = where / ("m" * (i + 1))
        path.write_bytes(bytes((i * 7 + k) % 251 for k in range((i * 5) % 41)))
        paths.append(path)
    return paths


def _write(writer: Path, files: list[Path], out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(writer),
            "--cpio",
            str(out / "a.cpio"),
            "--asm",
            str(out / "a.S"),
            *extra,
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        cwd=out,
    )


@pytest.mark.host
def test_writer_aligns_every_member_and_keeps_names_and_bytes(writer: Path, tmp_path: Path) -> None:
    files = _members(tmp_path / "in")
    proc = _write(writer, files, tmp_path)
    assert proc.returncode == 0, proc.stderr
    cpio = tmp_path / "a.cpio"
    archive = FileRange(cpio, 0, cpio.stat().st_size)
    members = read_newc(archive)
    assert [m.name for m in members] == [f.name for f in files]
    assert all(m.data.read() == f.read_bytes() for m, f in zip(members, files))
    assert misaligned(archive, 0) == []
    asm = (tmp_path / "a.S").read_text()
    assert ".balign 16" in asm and '.incbin "' in asm and "_archive_start_end:" in asm
    # GNU cpio (what seL4's build used to write it with) reads the same names and bytes
    require_tool("cpio", "the archive is read back with GNU cpio", "apt-get install cpio")
    listed = subprocess.run(["cpio", "-it", "--quiet"], stdin=cpio.open("rb"), capture_output=True)
    assert listed.stdout.decode().split() == [f.name for f in files]


@pytest.mark.host
def test_writer_refuses_an_alignment_newc_cannot_keep(writer: Path, tmp_path: Path) -> None:
    proc = _write(writer, _members(tmp_path / "in"), tmp_path, "--align", "12")
    assert proc.returncode != 0 and "--align 12" in proc.stderr


@pytest.mark.host
def test_check_names_the_one_member_a_crafted_archive_misplaces(writer: Path, tmp_path: Path) -> None:
    """Negative control: the writer's aligned archive with exactly one member (the last: nothing
    after it moves) 4 bytes later."""
    files = _members(tmp_path / "in")
    assert _write(writer, files, tmp_path).returncode == 0
    last = files[-1].name
    moved = tmp_path / "moved.cpio"
    moved.write_bytes(move_one_member((tmp_path / "a.cpio").read_bytes(), last))
    archive = FileRange(moved, 0, moved.stat().st_size)
    assert [m.name for m in read_newc(archive)] == [f.name for f in files]  # still a valid archive
    assert read_newc(archive)[-1].data.read() == files[-1].read_bytes()
    at = _data_at(archive, last)
    assert misaligned(archive, 0) == [f"member '{last}': data at {at:#x} is 4 bytes past a 16-byte boundary"]
    assert len(misaligned(archive, 4)) == len(files)  # the archive's own address counts too


def _data_at(archive: FileRange, name: str) -> int:
    return next(m.data.offset - archive.offset for m in read_newc(archive) if m.name == name)


# --- real builds: the image itself, its boot, its copy unit (sel4 suite) ------------------------


def _built(cfg: Sel4Config) -> Sel4Build:
    """`cfg` built (cached); a missing input is `missing_input`."""
    if not (upstream_dir() / TARBALL).is_file():
        missing_input(
            str(upstream_dir() / TARBALL),
            "sel4test is built from the pinned sources",
            "put shared/ beside the repository",
        )
    if not (sel4_venv() / "bin" / "python").exists():
        missing_input(str(sel4_venv()), "seL4's build needs its Python tools", "make setup")
    return build(cfg)


@pytest.fixture(scope="module")
def cfg(harness_target: Target, user_payload: Payload | None) -> Sel4Config:
    """The aligned stock build for a direct-QEMU virt target (qemu-virt, qemu-virt-el2)."""
    if user_payload is not None:
        pytest.skip("--image given: these tests build the aligned image themselves")
    if not harness_target.is_qemu or harness_target.machine != "virt" or harness_target.uboot:
        pytest.skip("the aligned archive is proven on the direct-QEMU virt targets (qemu-virt[-el2])")
    made = for_target(harness_target.machine, harness_target.expect_el)
    if isinstance(made, str):
        pytest.skip(made)
    return Sel4Config(platform=made.platform, hyp=made.hyp, align_archive=True)


@pytest.mark.boot
@pytest.mark.sel4
@pytest.mark.parametrize("early_mmu", [False, True], ids=["stock", "early-mmu"])
def test_every_member_of_the_built_archive_starts_on_16_bytes(cfg: Sel4Config, early_mmu: bool) -> None:
    """Read from the image: the aligned build (stock or patched loader) has no misaligned
    member; the same build without the patch has, so the check can fail on real images."""
    aligned = _built(Sel4Config(**{**cfg.__dict__, "early_mmu": early_mmu})).elfloader
    assert misaligned_in_image(aligned) == []
    assert len(read_newc(find_archive(aligned))) >= 3  # kernel, DTB, rootserver
    stock = misaligned_in_image(
        _built(Sel4Config(**{**cfg.__dict__, "early_mmu": early_mmu, "align_archive": False})).elfloader
    )
    assert any(m.startswith("member 'kernel.elf': ") and "12 bytes past" in m for m in stock), stock


def _payload(cfg: Sel4Config) -> Payload:
    return _built(cfg).payload()


@pytest.mark.boot
@pytest.mark.sel4
def test_aligned_sel4test_passes(cfg: Sel4Config, boot: Callable[..., Outcome]) -> None:
    """sel4test's own success line decides; every check that ran passes."""
    outcome = boot(_payload(cfg), name="sel4-align-archive")
    assert outcome.result.ok, str(outcome.result.failure)
    assert [(c.name, c.message) for c in outcome.checks if c.failed] == []
    kernel = outcome.check("kernel")
    assert kernel.status == "pass" and SUCCESS in kernel.message, kernel.message


@pytest.mark.boot
@pytest.mark.sel4
def test_aligned_images_land_intact(cfg: Sel4Config, boot: Callable[..., Outcome]) -> None:
    """Out of band: at the kernel entry every image's bytes equal its ELF (QMP memory dump)."""
    outcome = boot(_payload(cfg), name="sel4-align-archive", verify=True, until="handoff")
    assert outcome.result.ok, str(outcome.result.failure)
    check = outcome.check("out-of-band")
    assert check.status == "pass", check.message


def _copies(image: Path, el2: bool, out: Path) -> dict[int, int]:
    """Uncached loads from the archive by size, from `load_images` to the hand-off (the kernel's
    copy included: the "unpack" window), counted by the cache model (deterministic)."""
    require_tool("qemu-system-aarch64", "the copy unit is counted under QEMU's cache model")
    report, _, _ = run_to_handoff(image, out, el2=el2, scope="unpack")
    assert not report.kinds(), f"{image}: hazards {sorted(report.kinds())}"
    return dict(report.counts.by_target["source"].loads.uncached)


@pytest.mark.boot
@pytest.mark.sel4
def test_the_stock_loader_copies_the_aligned_archive_8_bytes_at_a_time(
    cfg: Sel4Config, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    """The effect the alignment is for, on seL4's own memcpy with the MMU off: unaligned, the
    kernel's file bytes are read 4 at a time (kernel.elf's data sits at 12 mod 16); aligned,
    every image's file bytes are read 8 at a time and no copy reads 4-byte words."""
    loads, files = {}, {}
    for name, aligned in (("stock", False), ("aligned", True)):
        b = _built(Sel4Config(**{**cfg.__dict__, "align_archive": aligned}))
        files[name] = {i.name: sum(s.filesz for s in i.segments) for i in b.payload().images}
        loads[name] = _copies(b.image, cfg.hyp, tmp_path / f"{name}.json")
        record_property(f"archive_loads_{name}", str(loads[name]))
    assert files["stock"] == files["aligned"]  # the same images, only placed differently
    assert loads["stock"].get(4, 0) >= files["stock"]["kernel"] // 4, loads
    assert loads["aligned"].get(4, 0) < 64, loads  # ELF header fields, not copies
    assert loads["aligned"].get(8, 0) >= sum(files["aligned"].values()) // 8, loads

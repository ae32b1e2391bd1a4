"""`harness sel4 build` without building: names, CMake arguments, caches, errors.

The real builds run in the `sel4` suite (tests/test_sel4.py); here every
decision the driver makes is checked in milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest
from harness.testing import missing_input

from harness.errors import HarnessError
from harness.sel4 import build as sel4_build
from harness.sel4.config import EARLY_MMU_BUGS, Sel4Config, root_cnode_bits
from harness.sel4.sources import SourceTree, memoizable_musl, sel4test_patches, upstream_dir

pytestmark = pytest.mark.host


def test_names_separate_build_directory_from_loader_options() -> None:
    stock = Sel4Config()
    patched = Sel4Config(early_mmu=True)
    control = Sel4Config(early_mmu_bug="no-clean", hyp=True)
    assert stock.name == "qemu-arm-virt-el1-debug"
    assert patched.work_name == stock.work_name  # same kernel, same build directory
    assert patched.name == "qemu-arm-virt-el1-debug-early-mmu"
    assert control.name == "qemu-arm-virt-hyp-debug-early-mmu-bug-no-clean"
    assert Sel4Config(payload_mib=590, release=True).base_name == "qemu-arm-virt-el1-release-p590M"


def test_payloads_share_a_build_directory_while_the_root_cnode_fits() -> None:
    """A payload is rootserver data: switching it relinks; only a bigger root CNode (a
    kernel configuration option) needs a directory, and so a kernel, of its own."""
    stock, small = Sel4Config(), Sel4Config(payload_mib=8)
    assert small.work_name == stock.work_name == "qemu-arm-virt-el1-debug"
    assert small.name != stock.name  # the images stay apart
    big = Sel4Config(payload_mib=590)
    assert big.work_name == "qemu-arm-virt-el1-debug-cnode18" == Sel4Config(payload_mib=596).work_name


def test_cmake_arguments(tmp_path: Path) -> None:
    cfg = Sel4Config(hyp=True, payload_mib=256)
    args = cfg.base_cmake_args(tmp_path / "qemu", tmp_path / "blob.bin")
    assert "-DPLATFORM=qemu-arm-virt" in args and "-DARM_HYP=ON" in args
    assert "-DARM_CPU=cortex-a53" in args and "-DRELEASE=FALSE" in args
    assert "-DSel4testRootCNodeSizeBits=17" in args  # 256 MiB: one slot per 4 KiB frame
    assert f"-DSel4testPayloadFile={tmp_path / 'blob.bin'}" in args
    assert not any("Sel4test" in a for a in cfg.base_cmake_args(tmp_path / "q", None, hook=False))
    imx = Sel4Config(platform="imx8mp-evk").base_cmake_args(tmp_path / "q", None)
    assert any(a.startswith("-DKernelCustomDTSOverlay=") and a.endswith("imx8mp-evk-2g.dts") for a in imx)
    loader = Sel4Config(hash="sha", early_mmu=True).loader_cmake_args(tmp_path)
    assert "-DElfloaderHashInstructions=hash_sha" in loader and "-DElfloaderEarlyMMU=ON" in loader


@pytest.mark.parametrize("mib,bits", [(0, 13), (16, 14), (256, 17), (590, 18)])
def test_root_cnode_grows_with_the_payload(mib: int, bits: int) -> None:
    assert root_cnode_bits(mib << 20) == bits
    assert (1 << bits) > (mib << 20) // 4096  # room for every frame


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"platform": "pc99"}, "--platform"),
        ({"hash": "crc"}, "--hash"),
        ({"payload_mib": 4096}, "--payload-mib"),
        ({"early_mmu_bug": "typo"}, "--early-mmu-bug"),
    ],
)
def test_bad_options_name_the_option_and_the_fix(kw: dict[str, object], field: str) -> None:
    with pytest.raises(HarnessError) as exc:
        Sel4Config(**kw)  # type: ignore[arg-type]
    assert exc.value.field == field and exc.value.fix


def test_every_negative_control_has_its_patch() -> None:
    for bug in EARLY_MMU_BUGS:
        patches = Sel4Config(early_mmu_bug=bug).loader_patches()
        assert patches[-1].name == f"{bug}.patch"
        assert all(p.is_file() for p in patches)
    assert Sel4Config().loader_patches() == []


def test_payload_is_deterministic_and_every_mib_differs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_BUILD", str(tmp_path))
    blob = sel4_build.payload_file(3).read_bytes()
    assert len(blob) == 3 << 20
    blocks = [blob[i << 20 : (i + 1) << 20] for i in range(3)]
    assert len(set(blocks)) == 3 and blocks[1].startswith(b"payload 00000001")
    (tmp_path / "sel4" / "payload" / "payload-3M-s1.bin").unlink()
    assert sel4_build.payload_file(3).read_bytes() == blob


def test_missing_upstream_sources_say_where_to_put_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_SEL4_UPSTREAM", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HARNESS_BUILD", str(tmp_path / "build"))
    (tmp_path / "build" / "sel4-venv" / "bin").mkdir(parents=True)
    (tmp_path / "build" / "sel4-venv" / "bin" / "python").touch()
    with pytest.raises(HarnessError) as exc:
        sel4_build.build(Sel4Config())
    assert "sel4test-src.tar.xz" in str(exc.value) and "--project" in str(exc.value)


def test_project_must_be_a_seL4_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_BUILD", str(tmp_path / "build"))
    (tmp_path / "build" / "sel4-venv" / "bin").mkdir(parents=True)
    (tmp_path / "build" / "sel4-venv" / "bin" / "python").touch()
    with pytest.raises(HarnessError) as exc:
        sel4_build.build(Sel4Config(), project=tmp_path)
    assert exc.value.field == "--project" and "init-build.sh" in str(exc.value)


def test_sel4test_patch_applies_to_the_pinned_sources(tmp_path: Path) -> None:
    tarball = upstream_dir() / "sel4test-src.tar.xz"
    if not tarball.is_file():
        missing_input(
            str(tarball),
            "the sel4test patches are checked against the pinned sources",
            "put shared/ beside the repository",
        )
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith("sel4test-src/projects/sel4test/")]
        tar.extractall(tmp_path, members=members, filter="tar")
    for patch in sel4test_patches():
        proc = subprocess.run(
            ["git", "apply", "--check", "--directory=projects/sel4test", str(patch)],
            cwd=tmp_path / "sel4test-src",
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, f"{patch.name}: {proc.stderr}"


def _musl_tree(root: Path, text: str) -> SourceTree:
    musl = root / "sel4test-src" / "projects" / "musllibc"
    musl.mkdir(parents=True)
    (musl / "VERSION").write_text(text)
    (musl / ".gitignore").write_text("VERSION\n")  # ignored files are sources too
    return SourceTree(root / "sel4test-src", "t", bundled=True)


def _git(musl: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=musl, capture_output=True, text=True)


def test_extracted_musl_is_a_clean_checkout_with_a_key_of_its_sources(tmp_path: Path) -> None:
    """seL4's memoize reuses musl's libc only from a clean git checkout, keyed by its
    commit: the same sources must give the same commit, other sources another."""
    heads = []
    for name, text in (("a", "1.1.24\n"), ("b", "1.1.24\n"), ("c", "1.1.25\n")):
        tree = _musl_tree(tmp_path / name, text)
        memoizable_musl(tree)
        memoizable_musl(tree)  # a second call finds it done
        musl = tree.root / "projects" / "musllibc"
        assert (musl / ".git").is_file()  # a gitfile, as in a `repo` checkout
        assert _git(musl, "diff", "--exit-code", "HEAD", "--").returncode == 0
        assert _git(musl, "ls-files").stdout.split() == [".gitignore", "VERSION"]
        heads.append(_git(musl, "rev-parse", "HEAD").stdout.strip())
    assert heads[0] == heads[1] != heads[2]
    (musl / "VERSION").write_text("edited\n")  # memoize must then build from source
    assert _git(musl, "diff", "--exit-code", "HEAD", "--").returncode == 1


def test_reconfigure_keeps_the_age_of_headers_it_rewrote_unchanged(tmp_path: Path) -> None:
    """Only a header whose bytes changed may look new to ninja after a reconfigure; else an
    elfloader-only option recompiles the kernel."""
    same = tmp_path / "kernel" / "gen_headers" / "plat" / "devices_gen.h"
    moved = tmp_path / "elfloader" / "gen_config" / "elfloader" / "gen_config.h"
    other = tmp_path / "kernel" / "kernel.dtb"  # not a generated header: left alone
    for path in (same, moved, other):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("old\n")
        os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    with sel4_build.unchanged_headers_keep_their_age(tmp_path):
        same.write_text("old\n")  # what seL4's configure does
        moved.write_text("new\n")
        other.write_text("old\n")
    assert same.stat().st_mtime_ns == 1_000_000_000
    assert moved.stat().st_mtime_ns > 1_000_000_000
    assert other.stat().st_mtime_ns > 1_000_000_000


def test_the_unreserved_control_has_its_own_build_and_overlay(tmp_path: Path) -> None:
    """The early-map check's control: the imx8mp overlay without OP-TEE's reserved-memory
    node, a kernel-level option (its own build directory and image name)."""
    normal = Sel4Config(platform="imx8mp-evk", hyp=True, early_mmu=True)
    control = Sel4Config(platform="imx8mp-evk", hyp=True, early_mmu=True, unreserved=True)
    assert control.work_name == "imx8mp-evk-hyp-debug-unreserved" != normal.work_name
    assert control.name == "imx8mp-evk-hyp-debug-unreserved-early-mmu"
    assert [getattr(c.overlay(), "name", None) for c in (normal, control)] == [
        "imx8mp-evk-2g.dts",
        "imx8mp-evk-2g-unreserved.dts",
    ]
    assert f"-DKernelCustomDTSOverlay={control.overlay()}" in control.base_cmake_args(tmp_path, None)
    with pytest.raises(HarnessError) as exc:
        Sel4Config(unreserved=True)  # virt declares no carve-out
    assert exc.value.field == "--unreserved" and "imx8mp-evk" in str(exc.value.fix)


def test_an_edited_overlay_reconfigures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CMake sees the overlay's path only: its text is in the state a reconfigure compares."""
    (tmp_path / "build.ninja").write_text("")
    ran: list[list[str]] = []
    monkeypatch.setattr(sel4_build, "_run", lambda cmd, *a: ran.append(cmd))
    tree = SourceTree(tmp_path, "x", bundled=True)
    for stamp in (["overlay-sha256=1"], ["overlay-sha256=1"], ["overlay-sha256=2"]):
        sel4_build._configure(tree, tmp_path, ["-DA=1"], tmp_path / "log", lambda m: None, stamp)
    # the first call reconfigures (no state yet), the same text does not, an edit does
    assert [c[0] for c in ran] == ["cmake", "cmake"]


def test_the_compiler_cache_is_seL4s_own_launcher_kept_in_the_build_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """seL4's toolchain file launches compiles through CCACHE when it finds one: the harness
    names its own wrapper, whose cache lives under the build root, never in $HOME."""
    monkeypatch.setenv("HARNESS_BUILD", str(tmp_path))
    monkeypatch.setattr("harness.sel4.build.shutil.which", lambda name: f"/usr/bin/{name}")
    (arg,) = sel4_build.compiler_cache()
    wrapper = Path(arg.removeprefix("-DCCACHE="))
    assert arg.startswith("-DCCACHE=") and wrapper.is_relative_to(tmp_path)
    assert f'CCACHE_DIR="{tmp_path / "ccache"}" exec ccache "$@"' in wrapper.read_text()
    assert wrapper.stat().st_mode & 0o111
    monkeypatch.setattr("harness.sel4.build.shutil.which", lambda name: None)
    assert sel4_build.compiler_cache() == []  # no ccache: seL4 compiles directly

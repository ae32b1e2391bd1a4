"""Our seL4_tools early-MMU patch series and its negative controls apply to both upstream trees.

The series (patches/seL4_tools/early-mmu/) must apply with ``git apply`` to the
pinned seL4_tools of the sel4test manifest and to seL4_tools master; each
control (patches/seL4_tools/controls/) must apply on top of it. The trees come
from the tarballs in ../shared/upstream/ (only their elfloader-tool directory is
extracted, into a temporary directory: the tarballs are never modified).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from harness.testing import missing_input, require_tool

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = (REPO / ".." / "shared" / "upstream").resolve()
SERIES_DIR = REPO / "patches" / "seL4_tools" / "early-mmu"
CONTROLS_DIR = REPO / "patches" / "seL4_tools" / "controls"

# tarball -> the directory inside it that holds elfloader-tool/ (the patch root)
TREES = {
    "pinned": ("sel4test-src.tar.xz", "sel4test-src/tools/seL4"),
    "master": ("seL4_tools-master.tar.xz", "seL4_tools-master"),
}
from harness.sel4.config import EARLY_MMU_BUGS as CONTROLS  # noqa: E402  every control, one list

# The console lines the harness parses (hex without 0x, like the elfloader).
CONSOLE_FORMATS = (
    # the opening and closing lines end in the timer field (harness/target_timer.py)
    'Early MMU: caches on for unpack, DRAM [%p..%p) Normal WB, UART %p Device-nGnRnE",',
    "Early MMU: no page tables (%s), unpacking with the MMU off\\n",
    'Early MMU: cleaned %u ranges (%zu bytes) to PoC by %s, MMU and caches off",',
    '", CNTPCT %llu at %llu Hz\\n"',
)


def series() -> list[Path]:
    return sorted(SERIES_DIR.glob("[0-9][0-9][0-9][0-9]-*.patch"))


def _extract(tarball: Path, root: str, dest: Path) -> Path:
    """Extract only ``root``/elfloader-tool from ``tarball`` under ``dest``."""
    prefix = f"{root}/elfloader-tool/"
    with tarfile.open(tarball, "r:xz") as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix) and (m.isfile() or m.isdir())]
        if not members:
            raise AssertionError(f"{tarball.name} has no {prefix}")
        tar.extractall(dest, members=members, filter="data")
    return dest / root


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_tool("git", "the patches are applied with git apply", "apt-get install git")
    missing = [t for t, _ in TREES.values() if not (UPSTREAM / t).is_file()]
    if missing:
        missing_input(
            f"upstream tarballs in {UPSTREAM}",
            f"{', '.join(missing)} absent: the patches cannot be applied to the pinned sources",
            "put shared/ beside the repository",
        )
    base = tmp_path_factory.mktemp("sel4-trees")
    return {name: _extract(UPSTREAM / tarball, root, base / name) for name, (tarball, root) in TREES.items()}


def _git_apply(tree: Path, patches: list[Path], *, check: bool) -> subprocess.CompletedProcess[str]:
    args = ["git", "apply", "--verbose"] + (["--check"] if check else [])
    return subprocess.run(args + [str(p) for p in patches], cwd=tree, capture_output=True, text=True)


@pytest.fixture(scope="module")
def patched(trees: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A copy of each tree with the series applied (for the controls)."""
    out: dict[str, Path] = {}
    for name, tree in trees.items():
        copy = tmp_path_factory.mktemp(f"patched-{name}") / "tree"
        shutil.copytree(tree, copy)
        res = _git_apply(copy, series(), check=False)
        assert res.returncode == 0, f"series does not apply to {name}:\n{res.stderr}"
        out[name] = copy
    return out


def test_series_is_format_patch_style() -> None:
    patches = series()
    assert [p.name[:4] for p in patches] == [f"{i:04d}" for i in range(1, len(patches) + 1)]
    assert len(patches) >= 2
    for p in patches:
        text = p.read_text()
        assert text.startswith("From "), p.name
        assert re.search(r"^Subject: \[PATCH \d+/\d+\] elfloader: ", text, re.M), p.name
        assert "Signed-off-by: " in text, p.name


@pytest.mark.parametrize("tree", sorted(TREES))
def test_series_applies(trees: dict[str, Path], tree: str) -> None:
    res = _git_apply(trees[tree], series(), check=True)
    assert res.returncode == 0, f"series does not apply to {tree}:\n{res.stderr}"


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("tree", sorted(TREES))
def test_control_applies_on_top(patched: dict[str, Path], tree: str, control: str) -> None:
    patch = CONTROLS_DIR / f"{control}.patch"
    assert patch.is_file(), f"missing control {patch}"
    res = _git_apply(patched[tree], [patch], check=True)
    assert res.returncode == 0, f"{control} does not apply on the series in {tree}:\n{res.stderr}"


@pytest.mark.parametrize("control", CONTROLS)
def test_control_is_marked(control: str) -> None:
    """Every changed spot of a control says which control it is."""
    text = (CONTROLS_DIR / f"{control}.patch").read_text()
    hunks = re.findall(r"^@@ ", text, re.M)
    assert hunks, control
    assert text.count("CONTROL " + control) == len(hunks), control


def test_option_and_console_lines(patched: dict[str, Path]) -> None:
    for name, tree in patched.items():
        cmake = (tree / "elfloader-tool" / "CMakeLists.txt").read_text()
        assert re.search(r"ElfloaderEarlyMMU ELFLOADER_EARLY_MMU", cmake), name
        assert re.search(r"ElfloaderEarlyMMU[^)]*DEFAULT OFF", cmake, re.S), name
        # the close method: a choice of two, set/way by default where nothing caches past PoC
        assert re.search(r'"va;ElfloaderEarlyMMUCleanVA;ELFLOADER_EARLY_MMU_CLEAN_VA;', cmake), name
        assert re.search(r'"setway;ElfloaderEarlyMMUCleanSetWay;ELFLOADER_EARLY_MMU_CLEAN_SETWAY;', cmake), name
        source = (tree / "elfloader-tool" / "src" / "arch-arm" / "64" / "early_mmu.c").read_text()
        for fmt in CONSOLE_FORMATS:
            assert fmt in source, (name, fmt)


def test_option_off_leaves_stock_code_alone() -> None:
    """Every line the series adds to existing files is under the option's #ifdef."""
    for p in series():
        for block in re.split(r"^diff --git ", p.read_text(), flags=re.M)[1:]:
            path = block.split()[1][2:]
            if path.endswith("CMakeLists.txt") or "new file mode" in block.split("@@")[0]:
                continue
            depth = 0
            for line in block.splitlines():
                if not line.startswith(("+", " ")) or line.startswith("+++"):
                    continue
                code = line[1:].strip()
                if code.startswith("#ifdef CONFIG_ELFLOADER_EARLY_MMU"):
                    depth += 1
                elif code.startswith("#endif") and depth and line.startswith("+"):
                    depth -= 1
                elif line.startswith("+") and code and not depth:
                    pytest.fail(f"{p.name}: {path}: added outside the #ifdef: {code}")


@pytest.mark.parametrize("tree", sorted(TREES))
def test_route_patches_apply_on_top(patched: dict[str, Path], tree: str) -> None:
    """The routing table's extra routes (bench/sel4_routes.py) apply on the series."""
    routes = sorted((REPO / "patches" / "seL4_tools" / "routes").glob("*.patch"))
    assert routes
    for patch in routes:
        res = _git_apply(patched[tree], [patch], check=True)
        assert res.returncode == 0, f"{patch.name} does not apply on the series in {tree}:\n{res.stderr}"

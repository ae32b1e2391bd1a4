"""Real seL4 images judged right, without a boot.

The workload's verdict decides a user kernel's boot; hash-enabled archives are
read and checked before boot; memory poison never overlaps what QEMU or the
image place; the hand-off is judged against the booted loader's contract.
Console lines are fed through the real boot logic (`follow`, `run_boot`) with a
fake console and strategy (tests/helpers/fakes.py); images are synthetic ELFs
(tests/helpers/elfgen.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.boot import BootResult, KernelVerdict, follow, run_boot
from harness.checks import archive_hash_check, check_handoff, check_kernel, check_timeline, run_checks
from harness.console import ConsoleLine, ConsoleRecorder
from harness.errors import BootFailure, HarnessError
from harness.images.build import Variant
from harness.images.cpio import write_newc
from harness.payload import Payload, from_user
from harness.phases import Event, Timeline
from harness.qemu.poison import poison_ranges
from harness.qemu.verify import VerifyReport
from harness.result_folder import summary
from harness.targets import Target, load, parse_timeout, with_overrides

from helpers.elfgen import Elf, Seg
from helpers.fakes import FakeStrategy, ScriptedConsole

pytestmark = pytest.mark.host

LOADER_BASE = 0x40640000
KERNEL_VENTRY = 0xFFFFFF8040000000

SEL4_LOADER = [
    "",
    "ELF-loader started on CPU: ARM Ltd. Cortex-A53 r0p4",
    "  paddr=[40640000..40935090]",
    "No DTB passed in from boot loader.",
    "ELF-loading image 'kernel' to 40000000",
    "  paddr=[40000000..4023afff]",
    "  vaddr=[ffffff8040000000..ffffff804023afff]",
    "  virt_entry=ffffff8040000000",
    "ELF-loading image 'rootserver' to 4023d000",
    "  paddr=[4023d000..40622fff]",
    "  vaddr=[400000..5e5fff]",
    "  virt_entry=40e508",
    "Enabling MMU and paging",
    "Jumping to kernel-image entry point...",
    "Bootstrapping kernel",
    "Booting all finished, dropped to user space",
]
SEL4TEST_OK = [
    "Starting test 1: TEST0001",
    "Test TEST0001 passed",
    "Test suite passed. 121 tests passed. 52 tests disabled.",
    "All is well in the universe",
]
SEL4TEST_FAIL = ["Starting test 1: TEST0001", "Test TEST0001 failed", "*** FAILURES DETECTED ***"]


def elfloader(
    tmp: Path, members: list[tuple[str, bytes]], symbols: dict[str, int] | None = None, name: str = "image"
) -> Path:
    """An seL4-style elfloader ELF: one PT_LOAD with a newc archive inside."""
    files = []
    for mname, data in members:
        f = tmp / f"member-{mname}"
        f.write_bytes(data)
        files.append((mname, f))
    archive = tmp / f"{name}.cpio"
    write_newc(files, archive)
    code = b"\x1f\x20\x03\xd5" * 64
    blob = code + archive.read_bytes()
    syms = {"_archive_start": LOADER_BASE + len(code), "_archive_start_end": LOADER_BASE + len(blob), **(symbols or {})}
    return Elf(LOADER_BASE, [Seg(LOADER_BASE, blob, memsz=len(blob) + 0x1000, flags=7)], symbols=syms).write(tmp / name)


def kernel_elf(paddr: int = 0x40000000, bss: int = 0x200000) -> bytes:
    return Elf(
        KERNEL_VENTRY, [Seg(paddr, b"\x1f\x20\x03\xd5" * 1024, memsz=4096 + bss, flags=7, vaddr=KERNEL_VENTRY)]
    ).bytes()


def rootserver_elf() -> bytes:
    return Elf(0x400000, [Seg(0x400000, bytes(range(256)) * 16, memsz=0x2000, flags=5)]).bytes()


@pytest.fixture
def sel4_payload(tmp_path: Path) -> Payload:
    return from_user(elfloader(tmp_path, [("kernel.elf", kernel_elf()), ("rootserver", rootserver_elf())]))


@pytest.fixture
def target() -> Target:
    return load("qemu-virt")


def boot_lines(target: Target, payload: Payload, lines: list[str]) -> BootResult:
    return run_boot(FakeStrategy(lines), target, payload, None)


def quick(target: Target, **kw: Any) -> Target:
    return with_overrides(target, timeouts=["kernel=0.6"], **kw)


# -- the workload's verdict decides --------------------------------------------
def test_sel4test_success_passes_and_says_what_decided(target: Target, sel4_payload: Payload) -> None:
    r = boot_lines(target, sel4_payload, SEL4_LOADER + SEL4TEST_OK)
    assert r.ok, str(r.failure)
    v = r.extras["verdict"]
    assert isinstance(v, KernelVerdict) and v.status == "pass" and v.what == "sel4test"
    c = check_kernel(r)
    assert c.status == "pass" and c.message.startswith("sel4test: 'All is well in the universe' at ")
    end = r.timeline.kernel_end()
    assert isinstance(end, Event) and end.name == "workload.verdict"


def test_sel4test_failures_detected_fails(target: Target, sel4_payload: Payload) -> None:
    """Negative control for the kernel check: sel4test's failure line fails the boot."""
    r = boot_lines(target, sel4_payload, SEL4_LOADER + SEL4TEST_FAIL)
    assert r.failure is not None and r.failure.kind == "product" and r.failure.phase == "kernel"
    assert "*** FAILURES DETECTED ***" in r.failure.message
    c = check_kernel(r)
    assert c.failed and "sel4test: '*** FAILURES DETECTED ***'" in c.message


def test_no_verdict_fails_with_last_lines(target: Target, sel4_payload: Payload) -> None:
    """A kernel that goes quiet mid-test is not a pass: no success line -> product failure."""
    r = boot_lines(quick(target), sel4_payload, SEL4_LOADER + SEL4TEST_OK[:2])
    f = r.failure
    assert f is not None and f.kind == "product" and f.phase == "kernel"
    assert "no success line was seen within 0.6 s after the hand-off" in f.message
    assert "All is well in the universe" in f.message and "--silent-ok" in f.message
    assert f.last_lines[-1] == "Test TEST0001 passed"
    assert check_kernel(r).failed


def test_silent_ok_declared_passes_and_says_so(target: Target, sel4_payload: Payload) -> None:
    r = boot_lines(with_overrides(target, silent_ok=0.3), sel4_payload, SEL4_LOADER)
    assert r.ok, str(r.failure)
    c = check_kernel(r)
    assert c.status == "pass" and c.message == "declared silent-ok after 0.3 s quiet after the hand-off"


def test_expect_and_fail_on_for_other_workloads(target: Target, sel4_payload: Payload) -> None:
    ok = boot_lines(
        quick(target, expect=[r"^my app: done$"]), sel4_payload, SEL4_LOADER + ["my app: working", "my app: done"]
    )
    assert ok.ok and check_kernel(ok).message.startswith("/^my app: done$/: 'my app: done' at ")
    bad = boot_lines(
        quick(target, expect=["done"], fail_on=["^PANIC"]), sel4_payload, SEL4_LOADER + ["PANIC: out of memory", "done"]
    )
    assert bad.failure is not None and "/^PANIC/: 'PANIC: out of memory'" in bad.failure.message
    # a failure line wins over a success line when both come: the first decides
    assert check_kernel(bad).failed


def test_probe_verdict_inside_a_user_image_decides(target: Target, sel4_payload: Payload) -> None:
    r = boot_lines(quick(target), sel4_payload, SEL4_LOADER + ["@h probe verdict ok"])
    assert r.ok and r.extras["verdict"].what == "probe"


def test_reference_probe_path_is_unchanged(target: Target, tmp_path: Path) -> None:
    """The reference probe still ends the kernel phase with its `@h probe verdict`."""
    payload = Payload(tmp_path / "x", tmp_path / "x", Variant("virt", "mmu-off"))
    rec = ConsoleRecorder(
        ScriptedConsole(SEL4_LOADER[:4] + ["Jumping to kernel-image entry point...", "@h probe verdict ok"])
    )
    tl = Timeline(0)
    object.__setattr__(payload, "archive_bytes", 0)  # cached_property: no archive needed
    follow(rec, tl, target, payload)
    assert tl.verdict is not None


# -- options -------------------------------------------------------------------
def test_timeout_option_parsing() -> None:
    assert parse_timeout("kernel=300") == ("kernel", 300.0)
    with pytest.raises(
        HarnessError,
        match=r"--timeout: bad value 'kernal=3': unknown phase 'kernal'.*"
        r"fix: write PHASE=SECONDS with PHASE one of: power_on",
    ):
        parse_timeout("kernal=3")
    with pytest.raises(HarnessError, match="not a positive number of seconds"):
        parse_timeout("kernel=-1")
    with pytest.raises(HarnessError, match="no ="):
        parse_timeout("300")


def test_default_kernel_timeout_is_generous(target: Target) -> None:
    assert target.timeouts.kernel >= 180
    assert with_overrides(target, timeouts=["kernel=400"]).timeouts.kernel == 400


def test_bad_regex_options_are_one_clear_error(target: Target) -> None:
    with pytest.raises(HarnessError, match=r"--fail-on: /\[/ is not a regular expression"):
        with_overrides(target, fail_on=["["])


def yaml_target(tmp: Path, verdict: str) -> Path:
    text = (
        Path(load("qemu-virt").path).read_text().replace("  poison: true\n", f"  poison: true\n  verdict:\n{verdict}")
    )
    path = tmp / "t.yaml"
    path.write_text(text.replace("../build", str(Path(load("qemu-virt").path).parent.parent / "build")))
    return path


def test_yaml_verdict_section(tmp_path: Path) -> None:
    t = load(str(yaml_target(tmp_path, "    expect: ['^done$']\n    fail_on: '^PANIC'\n    silent_ok: 5\n")))
    assert t.verdict.expect == ("^done$",) and t.verdict.fail_on == ("^PANIC",)
    assert t.verdict.silent_ok == 5.0


@pytest.mark.parametrize(
    "body,field",
    [
        ("    expect: ['(']\n", "harness.verdict.expect"),
        ("    silent_ok: soon\n", "harness.verdict.silent_ok"),
        ("    expcet: ['x']\n", "harness.verdict.expcet"),
    ],
)
def test_yaml_verdict_errors_name_file_field_fix(tmp_path: Path, body: str, field: str) -> None:
    path = yaml_target(tmp_path, body)
    with pytest.raises(HarnessError) as exc:
        load(str(path))
    assert exc.value.file == str(path) and exc.value.field == field and exc.value.fix


# -- hash members --------------------------------------------------------------
def test_hash_members_match(tmp_path: Path) -> None:
    k, root = kernel_elf(), rootserver_elf()
    img = elfloader(
        tmp_path,
        [
            ("kernel.elf", k),
            ("rootserver", root),
            ("kernel.bin", hashlib.sha256(k).digest()),
            ("app.bin", hashlib.sha256(root).digest()),
        ],
    )
    p = from_user(img)
    assert [i.name for i in p.images] == ["kernel", "rootserver"]  # digests are not ELFs
    assert [(h.member, h.algorithm, h.covers, h.ok) for h in p.hashes] == [
        ("kernel.bin", "sha256", "kernel.elf", True),
        ("app.bin", "sha256", "rootserver", True),
    ]
    c = archive_hash_check(p)
    assert c is not None and c.status == "pass"


def test_hash_mismatch_is_reported_before_boot(tmp_path: Path) -> None:
    """Negative control for archive-hash: the digest of an unstripped kernel (as the
    upstream build writes it) against the archived one."""
    k = kernel_elf()
    unstripped = k + b"\0.symtab and friends"
    img = elfloader(
        tmp_path,
        [
            ("kernel.elf", k),
            ("rootserver", rootserver_elf()),
            ("kernel.bin", hashlib.md5(unstripped).digest()),
            ("app.bin", hashlib.md5(rootserver_elf()).digest()),
        ],
    )
    p = from_user(img)
    c = archive_hash_check(p)
    assert c is not None and c.failed
    assert (
        f"kernel.elf: md5 of the archived file is {hashlib.md5(k).hexdigest()}, "
        f"kernel.bin says {hashlib.md5(unstripped).hexdigest()}"
    ) in c.message
    assert "rootserver" not in c.message and "Hashes are different" in c.message


def test_hash_member_of_a_wrong_size_is_a_clear_error(tmp_path: Path) -> None:
    img = elfloader(tmp_path, [("kernel.elf", kernel_elf()), ("kernel.bin", b"x" * 20)])
    c = archive_hash_check(from_user(img))
    assert c is not None and c.failed and "20 bytes, not a SHA-256 (32) or MD5 (16)" in c.message


def test_inspect_shows_hash_members(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    k = kernel_elf()
    img = elfloader(tmp_path, [("kernel.elf", k), ("kernel.bin", hashlib.sha256(b"other").digest())])
    assert main(["inspect", str(img)]) == 0
    out = capsys.readouterr().out
    assert "hash member 'kernel.bin' (sha256) for 'kernel.elf': MISMATCH" in out
    assert "hand-off contract 'sel4'" in out


# -- poison --------------------------------------------------------------------
def test_poison_never_overlaps_qemu_dtb_or_loader(tmp_path: Path) -> None:
    dram = (0x40000000, 0x80000000)
    # kernel at the RAM base (seL4's place on virt) with a bss running into the loader
    k = Elf(
        KERNEL_VENTRY,
        [Seg(0x40000000, b"k" * 0x1000, memsz=LOADER_BASE + 0x2000 - 0x40000000, flags=7, vaddr=KERNEL_VENTRY)],
    ).bytes()
    p = from_user(elfloader(tmp_path, [("kernel.elf", k), ("rootserver", rootserver_elf())]))
    qemu_dtb = [(dram[0], dram[0] + (1 << 20))]  # what the session reserves on virt
    ranges = poison_ranges(p, dram, reserved=qemu_dtb)
    lo, hi = p.loader.span
    assert ranges and all(s >= dram[0] + (1 << 20) for s, _ in ranges)  # QEMU's DTB
    assert all(e <= lo or s >= hi for s, e in ranges)  # the loader
    assert ranges == [(0x40100000, LOADER_BASE)]
    # negative control: without clipping the kernel's bss would start inside the DTB
    assert p.images[0].segments[0].bss[0] < dram[0] + (1 << 20)
    # a machine with no generated DTB (imx8mp) keeps the RAM base poisoned
    assert poison_ranges(p, dram)[0][0] < dram[0] + (1 << 20)


def fdt(size: int) -> bytes:
    """A DTB as far as seL4's loader reads it: magic and totalsize (then padding)."""
    return b"\xd0\x0d\xfe\xed" + size.to_bytes(4, "big") + bytes(size - 8)


def rootserver_with_bss(bss: int = 0x3000) -> bytes:
    return Elf(0x400000, [Seg(0x400000, bytes(range(256)) * 16, memsz=0x1000 + bss, flags=7)]).bytes()


KERNEL_END = 0x40000000 + 4096 + 0x200000  # kernel_elf(): one page of code, 2 MiB bss


def test_poison_reaches_the_user_images_where_seL4_places_them(tmp_path: Path) -> None:
    """With the DTB in the archive, seL4's loader puts the rootserver at a place known
    before the boot: the first page after the kernel, then the DTB's pages. Its bss is
    poisoned there, and the out-of-band dump reads that same place."""
    from harness.qemu.verify import compare, sel4_places

    p = from_user(
        elfloader(
            tmp_path, [("kernel.elf", kernel_elf()), ("kernel.dtb", fdt(7697)), ("rootserver", rootserver_with_bss())]
        )
    )
    place = KERNEL_END + 0x2000  # 7697 bytes of DTB: two pages
    assert sel4_places(p) == {"rootserver": place}
    dtb = [(0x40000000, 0x40100000)]
    ranges = poison_ranges(p, (0x40000000, 0x80000000), reserved=dtb)
    assert ranges == [(0x40100000, KERNEL_END), (place + 0x1000, place + 0x4000)]
    # the dump asks for the same place (the loader's line, which says the same, is not needed)
    asked: list[tuple[int, int]] = []

    def dump(addr: int, size: int) -> bytes:
        asked.append((addr, size))
        return bytes(size)

    report = compare(p, Timeline(0), dump)
    assert (place, 0x4000) in asked and report.misplaced == ()
    # a loader that copied the file bytes and left the poison in the bss (the
    # skip-user-bss control on a real boot): named with the image and the bss range
    root = p.images[1].segments[0]
    landed = root.data.read() + b"\xa5" * 0x3000
    report = compare(p, Timeline(0), lambda addr, size: landed if addr == place else bytes(size))
    assert [m.describe() for m in report.mismatches if m.segment.image == "rootserver"] == [
        f"image 'rootserver' segment 0 (paddr=0x400000, rwx) at {place:#x}: bss "
        f"[{place + 0x1000:#x}..{place + 0x4000:#x}) is not zero from {place + 0x1000:#x} "
        "(12288 byte(s) in that 32 MiB chunk)"
    ]


def test_a_loader_placing_elsewhere_than_the_rule_fails_out_of_band(tmp_path: Path) -> None:
    """Negative control: the loader says it put the rootserver elsewhere than where its
    bss was poisoned and its memory dumped: the out-of-band check fails naming both."""
    from harness.checks import check_out_of_band
    from harness.qemu.verify import compare

    p = from_user(
        elfloader(
            tmp_path, [("kernel.elf", kernel_elf()), ("kernel.dtb", fdt(0x800)), ("rootserver", rootserver_with_bss())]
        )
    )
    place = KERNEL_END + 0x1000
    lines = [t.replace("4023d000", f"{place + 0x1000:x}") for t in SEL4_LOADER]
    r = sel4_result(load("qemu-virt"), p, lines)
    r.extras["verify"] = compare(p, r.timeline, lambda addr, size: bytes(size))
    c = check_out_of_band(r)
    assert (
        c.failed
        and (f"image 'rootserver': the loader placed it at {place + 0x1000:#x}, seL4's placement rule") in c.message
        and f"says {place:#x}" in c.message
    )


def test_poison_skips_user_images_placed_after_a_boot_loaders_dtb(sel4_payload: Payload) -> None:
    """No DTB in the archive: U-Boot's may be copied before the user images, and its
    size is known only at run time, so their bss is not poisoned (and not guessed)."""
    ranges = poison_ranges(sel4_payload, (0x40000000, 0x80000000), reserved=[(0x40000000, 0x40100000)])
    assert ranges == [(0x40100000, KERNEL_END)]


# -- contracts -----------------------------------------------------------------
def test_contract_selection(tmp_path: Path, sel4_payload: Payload) -> None:
    assert Payload(tmp_path, tmp_path, Variant("virt", "mmu-off")).contract == "mmu-off"
    assert sel4_payload.contract == "sel4"
    ours = from_user(
        elfloader(tmp_path, [("kernel.elf", kernel_elf())], symbols={"unpack_window_begin": LOADER_BASE}, name="ours")
    )
    assert ours.contract == "mmu-off"  # our loader in CONSOLE=sel4 form: still MMU off
    assert replace(sel4_payload, contract_override="mmu-off").contract == "mmu-off"


def sel4_result(target: Target, payload: Payload, lines: list[str], **extras: Any) -> BootResult:
    tl = Timeline(0)
    for i, text in enumerate(lines):
        tl.feed(ConsoleLine(i * 1_000_000, text))
    return BootResult(target, payload, tl, [], 0, None, None, dict(extras))


def coherence(sctlr: int, el: int) -> Any:
    from harness.coherence import CoherenceReport

    report = object.__new__(CoherenceReport)
    for k, v in dict(handoff_seen=True, sctlr_at_handoff=sctlr, el_at_handoff=el, hazards=(), complete=True).items():
        object.__setattr__(report, k, v)
    return report


def test_sel4_handoff_passes_with_mmu_and_caches_on(target: Target, sel4_payload: Payload) -> None:
    r = sel4_result(
        target,
        sel4_payload,
        SEL4_LOADER,
        coherence=coherence(0xC5183D, 1),
        verify=VerifyReport(KERNEL_VENTRY, 0, (), el=1, sctlr=0xC5183D),
    )
    c = check_handoff(r)
    assert c.status == "pass", c.message
    assert "seL4 contract, EL1 expected" in c.message and "SCTLR_EL1=0xc5183d" in c.message


def test_sel4_handoff_fails_with_mmu_off(target: Target, sel4_payload: Payload) -> None:
    """Negative control: MMU off at the entry breaks seL4's contract."""
    r = sel4_result(target, sel4_payload, SEL4_LOADER, coherence=coherence(0x30D00800, 1))
    c = check_handoff(r)
    assert c.failed and "SCTLR_EL1=0x30d00800" in c.message and "M=0 (MMU off)" in c.message


def test_sel4_handoff_wrong_el_for_hypervisor_build(target: Target, sel4_payload: Payload) -> None:
    """Negative control: a hypervisor hand-off line promises EL2; EL1 fails."""
    lines = [t.replace("Enabling MMU", "Enabling hypervisor MMU") for t in SEL4_LOADER]
    c = check_handoff(sel4_result(target, sel4_payload, lines, coherence=coherence(0xC5183D, 1)))
    assert c.failed and "kernel entered at EL1, expected EL2" in c.message
    c = check_handoff(sel4_result(target, sel4_payload, lines, verify=VerifyReport(0x40000000, 0, (), el=2)))
    assert c.failed and "not the kernel's virtual entry" in c.message


SEL4_ON = 0xC5183D  # SCTLR_EL1 as seL4's loader leaves it: M, C and I set
EVIDENCE_PATHS = ("cache model", "gdbstub")


def entry_evidence(path: str, sctlr: int | None, el: int | None) -> dict[str, Any]:
    """The extras one evidence path leaves at the kernel's virtual entry."""
    if path == "cache model":
        return {"coherence": coherence(sctlr, el)}  # type: ignore[arg-type]
    return {"verify": VerifyReport(KERNEL_VENTRY, 0, (), el=el, sctlr=sctlr)}


@pytest.mark.parametrize("path", EVIDENCE_PATHS)
def test_sel4_handoff_evidence_names_exactly_the_bits_read(target: Target, sel4_payload: Payload, path: str) -> None:
    c = check_handoff(sel4_result(target, sel4_payload, SEL4_LOADER, **entry_evidence(path, SEL4_ON, 1)))
    assert c.status == "pass", c.message
    assert (f"{path}: EL1, SCTLR_EL1={SEL4_ON:#x} (M=1 (MMU on), C=1 (D-cache on), I=1 (I-cache on))") in c.message, (
        c.message
    )


@pytest.mark.parametrize("path", EVIDENCE_PATHS)
@pytest.mark.parametrize("bit,mask,what", [("M", 1 << 0, "MMU"), ("C", 1 << 2, "D-cache"), ("I", 1 << 12, "I-cache")])
def test_sel4_handoff_each_path_fails_on_each_bit(
    target: Target, sel4_payload: Payload, path: str, bit: str, mask: int, what: str
) -> None:
    """Negative controls, one bit each: the cache model and the gdbstub demand the same
    M, C and I (the gdbstub path once passed with the I-cache off)."""
    sctlr = SEL4_ON & ~mask
    c = check_handoff(sel4_result(target, sel4_payload, SEL4_LOADER, **entry_evidence(path, sctlr, 1)))
    assert c.failed, c.message
    assert f"{path}: SCTLR_EL1={sctlr:#x} at the kernel entry" in c.message, c.message
    assert f"{bit}={0} ({what} off)" in c.message and f"): {bit} clear;" in c.message, c.message


@pytest.mark.parametrize("path", EVIDENCE_PATHS)
def test_sel4_handoff_same_el_rule_on_each_path(target: Target, sel4_payload: Payload, path: str) -> None:
    """A wrong EL, or an EL or SCTLR the path could not read, fails on either path."""
    wrong = check_handoff(sel4_result(target, sel4_payload, SEL4_LOADER, **entry_evidence(path, SEL4_ON, 2)))
    assert wrong.failed and f"{path}: kernel entered at EL2, expected EL1" in wrong.message
    no_el = check_handoff(sel4_result(target, sel4_payload, SEL4_LOADER, **entry_evidence(path, SEL4_ON, None)))
    assert no_el.failed and f"{path}: no EL read at the kernel entry" in no_el.message
    no_sctlr = check_handoff(sel4_result(target, sel4_payload, SEL4_LOADER, **entry_evidence(path, None, 1)))
    assert no_sctlr.failed, no_sctlr.message
    assert f"{path}: SCTLR_EL1 not read at the kernel entry: M, C and I unchecked" in no_sctlr.message


def probe_result(target: Target, tmp_path: Path, sctlr: str, on: tuple[str, ...] = ()) -> BootResult:
    payload = from_user(
        elfloader(tmp_path, [("kernel.elf", kernel_elf())], symbols={"unpack_window_begin": LOADER_BASE}, name="ours")
    )
    bits = " ".join(f"{k}={'on' if k in on else 'off'}" for k in ("mmu", "dcache", "icache"))
    return sel4_result(target, payload, [f"@h probe entry el=1 sctlr={sctlr} {bits} x0=0x0"])


def test_mmu_off_handoff_claims_only_what_the_probe_read(target: Target, tmp_path: Path) -> None:
    judged = check_handoff(probe_result(target, tmp_path, "0x30d00800"))
    assert judged.status == "pass" and "the probe read MMU, D-cache, I-cache off" in judged.message
    control = check_handoff(probe_result(target, tmp_path, "0x30d01800", on=("icache",)))
    assert control.failed and "icache still on at kernel entry" in control.message
    anything = replace(target, expect_handoff="any")
    c = check_handoff(probe_result(anything, tmp_path, "0x30d01800", on=("icache",)))
    assert c.status == "pass" and "I-cache off" not in c.message, c.message
    assert "MMU and caches not judged" in c.message, c.message


def test_sel4_handoff_without_evidence_skips_saying_what_is_missing(target: Target, sel4_payload: Payload) -> None:
    c = check_handoff(sel4_result(target, sel4_payload, SEL4_LOADER))
    assert c.status == "skip" and "--coherence" in c.message and "--verify" in c.message


# -- protocol and timeline -----------------------------------------------------
EARLY_MMU = [
    "Early MMU: caches on for unpack, DRAM [40000000..c0000000) Normal WB, UART 9000000 Device-nGnRnE",
    "Early MMU: no page tables (pool of 1 pages, 5 needed), unpacking with the MMU off",
    "Early MMU: cleaned 3 ranges (6291456 bytes) to PoC, MMU and caches off",
]


def test_early_mmu_lines_are_events() -> None:
    tl = Timeline(0)
    for i, text in enumerate(EARLY_MMU):
        tl.feed(ConsoleLine(i, text))
    on, off, clean = tl.events
    assert (on.name, on.fields["start"], on.fields["end"], on.fields["uart"]) == (
        "earlymmu.on",
        "40000000",
        "c0000000",
        "9000000",
    )
    assert on.fields["attrs"] == "Normal WB" and on.fields["uart_attrs"] == "Device-nGnRnE"
    assert (off.name, off.fields["reason"]) == ("earlymmu.off", "pool of 1 pages, 5 needed")
    assert (clean.name, clean.fields["ranges"], clean.fields["bytes"]) == ("earlymmu.clean", "3", "6291456")
    assert "earlymmu.clean" in [e["name"] for e in tl.to_json()["events"]]


@pytest.mark.parametrize(
    "handoff",
    [
        ["Enabling MMU and paging", "Jumping to kernel-image entry point..."],
        ["Enabling hypervisor MMU and jumping to entry point..."],
    ],
)
def test_sel4_unpack_window_and_timeline_check(target: Target, sel4_payload: Payload, handoff: list[str]) -> None:
    lines = SEL4_LOADER[:12] + EARLY_MMU[2:] + handoff
    r = sel4_result(target, sel4_payload, lines)
    w = r.timeline.unpack_window()
    assert w is not None and w.begin == "ELF-loading image 'kernel' to 40000000" and w.end == handoff[0]
    assert w.start_ns == 4_000_000 and w.end_ns == 13_000_000
    c = check_timeline(r)
    assert c.status == "pass" and f"from 'ELF-loading image 'kernel' to 40000000' to '{handoff[0]}'" in c.message


TIMED = [
    EARLY_MMU[0] + ", CNTPCT 1000 at 62500000 Hz",
    *SEL4_LOADER[4:12],
    EARLY_MMU[2] + ", CNTPCT 63500 at 62500000 Hz",
    "Enabling MMU and paging",
]


def test_early_mmu_ticks_time_the_window_by_the_target_timer(target: Target, sel4_payload: Payload) -> None:
    r = sel4_result(target, sel4_payload, TIMED)
    c = check_timeline(r)
    assert c.status == "pass", c.message
    assert c.message.startswith("unpack window 0.001000 s by the target timer (62500 ticks at 62500000 Hz)")
    assert "Unpack window: " in summary(r) and " by the target timer (62500 ticks at 62.5 MHz)" in summary(r)


def test_early_mmu_garbled_ticks_fall_back_and_the_check_says_so(target: Target, sel4_payload: Payload) -> None:
    lines = [TIMED[0].replace("CNTPCT 1000", "CNTPCT 1O00"), *TIMED[1:]]
    r = sel4_result(target, sel4_payload, lines)
    c = check_timeline(r)
    assert c.status == "pass" and "by host stamps (at most " in c.message, c.message
    assert "the loader's timer could not be used: garbled timer field 'CNTPCT 1O00 at 62500000 Hz'" in c.message
    assert "target timer unusable: garbled timer field" in summary(r)


def test_early_mmu_clock_running_backwards_fails_the_timeline(target: Target, sel4_payload: Payload) -> None:
    lines = [TIMED[0].replace("CNTPCT 1000", "CNTPCT 99000"), *TIMED[1:]]
    c = check_timeline(sel4_result(target, sel4_payload, lines))
    assert c.status == "fail"
    assert "target timer: the timer went backwards: CNTPCT 63500 at the end is before 99000" in c.message


def test_run_checks_on_a_sel4_boot(target: Target, sel4_payload: Payload) -> None:
    r = boot_lines(target, sel4_payload, SEL4_LOADER + SEL4TEST_OK)
    status = {c.name: c.status for c in run_checks(r)}
    assert status == {"segments": "skip", "bss": "skip", "handoff": "skip", "timeline": "pass", "kernel": "pass"}


def test_loader_error_cascade_read_in_one_burst(target: Target, sel4_payload: Payload) -> None:
    lines = SEL4_LOADER[:6] + [
        "ERROR: Hashes are different",
        "ERROR: Could not load kernel ELF",
        "ERROR: image loading failed",
        "abort() called.",
    ]
    r = run_boot(FakeStrategy(lines, one_chunk=True), target, sel4_payload, None)
    assert isinstance(r.failure, BootFailure) and r.failure.phase == "unpack"
    # the whole cascade, most specific first, read together with the first error line
    assert r.failure.message == (
        "loader error: ERROR: Hashes are different; ERROR: Could not load kernel ELF; ERROR: image loading failed"
    )
    assert r.timeline.first("loader.abort") is not None


def test_hash_lines_are_events() -> None:
    tl = Timeline(0)
    for i, text in enumerate(
        [
            "Hash from ELF File: eb8192cbcc75f6860bb4b5bdc5acb31129",
            "Hash for ELF Input: 68a3b917cb4fa342f9adb86d94a7b7cf35",
            "ERROR: Hashes are different",
        ]
    ):
        tl.feed(ConsoleLine(i, text))
    assert [e.name for e in tl.events] == ["loader.hash", "loader.hash", "loader.error"]
    assert tl.events[0].fields["which"] == "from ELF File" and tl.errors == ["ERROR: Hashes are different"]


# -- QEMU's own words on a failed start -----------------------------------------
def test_qemu_start_failure_shows_qemu_stderr(tmp_path: Path) -> None:
    """labgrid says 'QEMU error: None'; the harness shows what QEMU wrote to stderr."""
    import subprocess

    from harness.qemu.process import start_qemu

    class FakeQemu:
        _tempdir = str(tmp_path)
        _child = None
        _clientsocket = None
        _cmd = [
            "sh",
            "-c",
            "echo 'qemu-system-aarch64: Some ROM regions are overlapping' >&2; "
            "echo 'dtb (addresses 0x40000000 - 0x40100000)' >&2; exit 1",
        ]

        def monitor_command(self, command: str, arguments: Any = None) -> Any:
            return None

        def on(self) -> None:
            subprocess.run(self._cmd, check=False)
            raise OSError("QEMU error: None (exitcode=1)")

    qemu = FakeQemu()
    qemu._cmd = ["env", *FakeQemu._cmd]  # as labgrid builds it: not yet wrapped
    with pytest.raises(BootFailure) as exc:
        start_qemu(qemu, 5.0)
    f = exc.value
    assert f.kind == "infrastructure" and f.phase == "power-on"
    assert (
        f.message.startswith("QEMU failed to start: qemu-system-aarch64: Some ROM regions are overlapping")
        and "None" not in f.message
    )
    assert "dtb (addresses 0x40000000 - 0x40100000)" in f.last_lines


def test_verdict_in_junit_properties(target: Target, sel4_payload: Payload) -> None:
    from harness.result_folder import properties

    r = boot_lines(target, sel4_payload, SEL4_LOADER + SEL4TEST_OK)
    assert properties(r)["verdict"].startswith("pass: sel4test: 'All is well in the universe' at ")


def test_until_handoff_skips_the_kernel_check(target: Target, sel4_payload: Payload) -> None:
    r = run_boot(FakeStrategy(SEL4_LOADER), target, sel4_payload, None, until="handoff")
    assert r.ok and "verdict" not in r.extras
    c = check_kernel(r)
    assert c.status == "skip" and "hand-off" in c.message


def test_no_archive_means_no_hash_check(tmp_path: Path) -> None:
    """A bare kernel booted as an image (no archive): nothing to hash, the loader says the rest."""
    bare = Elf(0x40200000, [Seg(0x40200000, b"\x1f\x20\x03\xd5" * 16)]).write(tmp_path / "bare")
    assert archive_hash_check(Payload(bare, bare, None)) is None


def test_garbled_loader_records_fail_their_check_not_the_harness(target: Target, sel4_payload: Payload) -> None:
    """A target that prints a garbled '@h seg' record (a number that is not one) gets a
    failed 'segments' check naming it; a well-formed record is still judged normally."""
    from harness.checks import run_checks

    garbled = sel4_result(target, sel4_payload, ["@h seg image=kernel idx=zz paddr=0x1 filesz=1 crc32=1"])
    seg = next(c for c in run_checks(garbled) if c.name == "segments")
    assert seg.failed and "garbled" in seg.message and "zz" in seg.message

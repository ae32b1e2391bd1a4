"""Targets: labgrid environment files plus the harness's own `harness:` section.

A target file is a plain labgrid environment (so `--lg-env` and labgrid-client
keep working) with one extra top-level mapping that labgrid ignores and we
validate here: what to build for the machine, its memory map, the hand-off
contract, and a timeout for every boot phase. Errors name the file, the field
and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml

from .errors import HarnessError
from .target_fields import Fields, as_int, choice, commands, compiles, flag, regex, seconds, show, text
from .memory_map import CarveOut, parse_carve_outs
from .images.build import FIRMWARE_MACHINES, MACHINES, ROOT
from .console_lines import DEFAULT_PATTERNS

TARGETS_DIR = ROOT / "targets"
T = TypeVar("T")


@dataclass(frozen=True)
class Timeouts:
    """Seconds each phase may take before the boot fails with the last console lines."""

    power_on: float = 10.0  # QEMU/board start until the first byte
    uboot: float = 30.0  # U-Boot banner until its prompt
    load: float = 120.0  # image transfer (TFTP) until the prompt returns
    loader: float = 10.0  # until the elfloader banner
    unpack: float = 30.0  # banner until hand-off, plus unpack_per_mib for big images
    unpack_per_mib: float = 0.05
    # Hand-off until the workload's verdict. Generous: sel4test takes ~30 s under
    # TCG on virt, ~45 s on imx8mp, several times that under the cache model on a
    # loaded machine; the verdict line ends the wait early.
    kernel: float = 300.0

    def unpack_for(self, image_bytes: int) -> float:
        return self.unpack + self.unpack_per_mib * image_bytes / (1 << 20)


# sel4test's closing lines: recognised on every target, whatever else is declared.
SEL4TEST_SUCCESS = r"^All is well in the universe"
SEL4TEST_FAILURE = r"^\*\*\* FAILURES DETECTED \*\*\*"


@dataclass(frozen=True)
class Verdict:
    """What decides a boot of a user's kernel (the reference probe has its own verdict).

    A line matching `fail_on` (or sel4test's failure line) fails the boot, one
    matching `expect` (or sel4test's success line) passes it. Without either the
    boot fails when the kernel timeout runs out -- unless `silent_ok` says that a
    kernel quiet for that many seconds after the hand-off is the success condition.
    """

    expect: tuple[str, ...] = ()
    fail_on: tuple[str, ...] = ()
    silent_ok: float | None = None

    def success_patterns(self) -> list[tuple[str, "re.Pattern[str]"]]:
        """(what, pattern) pairs; `what` names the workload for messages."""
        return [("sel4test", re.compile(SEL4TEST_SUCCESS))] + [(f"/{rx}/", re.compile(rx)) for rx in self.expect]

    def failure_patterns(self) -> list[tuple[str, "re.Pattern[str]"]]:
        return [("sel4test", re.compile(SEL4TEST_FAILURE))] + [(f"/{rx}/", re.compile(rx)) for rx in self.fail_on]

    def describe_expected(self) -> str:
        parts = ["sel4test's 'All is well in the universe'"] + [f"/{rx}/" for rx in self.expect]
        return " or ".join(parts)


# `{{NAME}}` in a U-Boot command: filled from the environment when the command is sent.
UBOOT_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@dataclass(frozen=True)
class UBoot:
    """How the U-Boot flow delivers and starts the image (boot: uboot targets)."""

    prompt: str = "=> "
    autoboot: str = "Hit any key to stop autoboot"
    interrupt: str = "\n"
    # The transfer buffer; None (`load_addr: auto`) lets the harness place it clear of the
    # image, its unpack destinations and U-Boot (harness/uboot/placement.py).
    load_addr: int | None = None
    # tftp | loader (QEMU -device loader, no network) | mmc (`load mmc` from a FAT partition
    # of an SD card/eMMC; on QEMU the harness writes the card image: harness/uboot/sdcard.py)
    transport: str = "tftp"
    mmc: str = "1:1"  # `load mmc DEV:PART` (transport: mmc)
    package: str = "uimage"  # uimage | fit | elf (the ELF as is, started by bootelf)
    fdt: str = "${fdtcontroladdr}"
    setup: tuple[str, ...] = ()  # commands sent before the transfer (ipaddr, serverip, …)
    # the U-Boot strategy: harness/uboot/
    retries: int = 3  # autoboot interrupts / prompt resyncs / power cycles
    fit_config: str = "conf-1"  # FIT configuration booted with `bootm ADDR#conf`
    fit_hashes: tuple[str, ...] = ("crc32", "sha256")  # hash nodes in the FIT
    # in-place: stage the package so its data sits at its load address (bootm neither
    # copies it nor applies its size limit); copy: bootm copies it from the buffer;
    # auto: in place where that fits in DRAM clear of U-Boot, else copy.
    bootm: str = "auto"

    def template_names(self) -> list[str]:
        """Environment variables the setup commands need (their `{{NAME}}`s)."""
        return sorted({m.group(1) for c in self.setup for m in UBOOT_TEMPLATE.finditer(c)})

    # The top of DRAM U-Boot relocates itself, its heap, stack and FDT into (64 MiB:
    # Debian's qemu_arm64 2023.01 reserves 35 MiB, boards a little less).
    uboot_reserve: int = 64 << 20
    # TFTP block size (RFC 2348) and window (RFC 7440) set with `setenv` before the
    # transfer; None leaves U-Boot's own (1468 bytes, lock-step). docs/uboot-load.md
    tftp_block_size: int | None = None
    tftp_window: int | None = None


@dataclass(frozen=True)
class Target:
    """Everything the harness needs to know about one place an image can boot."""

    name: str
    path: Path
    machine: str
    boot: str
    image_format: str
    dram: tuple[int, int]
    expect_el: int | None
    expect_handoff: str
    poison: bool
    remote: bool
    timeouts: Timeouts
    uboot: UBoot | None
    timing_profile: str | None = None
    lab: str | None = None  # "virtual": the run brings up a lab (harness/lab/)
    console_uart: int | None = None  # the board's console UART base, when not the machine's
    # EL3 firmware QEMU starts before the loader or U-Boot (None: that is started directly).
    # "stand-in": images/firmware/, TF-A's hand-off state; the next stage is entered at EL2.
    firmware: str | None = None
    phases: dict[str, str] = field(default_factory=dict)
    verdict: Verdict = field(default_factory=Verdict)
    # DRAM the firmware keeps (OP-TEE): never to be mapped Normal (harness/memory_map.py)
    carve_outs: tuple[CarveOut, ...] = ()
    env: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_qemu(self) -> bool:
        return not self.remote


def available() -> list[str]:
    return sorted(p.stem for p in TARGETS_DIR.glob("*.yaml"))


def resolve(name_or_path: str) -> Path:
    """A target name (`qemu-virt`) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or "/" in name_or_path:
        if not p.is_file():
            raise HarnessError("no such target file", file=p, fix="check the path")
        return p.resolve()
    candidate = TARGETS_DIR / f"{name_or_path}.yaml"
    if not candidate.is_file():
        raise HarnessError(
            f"unknown target '{name_or_path}'",
            field="--target",
            fix=f"use one of: {', '.join(available())}, or a path to a YAML file",
        )
    return candidate


def _profile_name(v: Any) -> str:
    known = sorted(p.stem for p in (TARGETS_DIR / "profiles").glob("*.yaml"))
    if not isinstance(v, str) or v not in known:
        raise ValueError(f"no targets/profiles/{show(v)}.yaml (known: {', '.join(known)})")
    return str(v)


def _timeouts(f: Fields | None) -> Timeouts:
    if f is None:
        return Timeouts()
    base = Timeouts()
    values = {k: f.get(k, seconds, getattr(base, k), hint="seconds") for k in Timeouts.__dataclass_fields__}
    f.done()
    return Timeouts(**values)


def _regexes(v: Any) -> tuple[str, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not all(isinstance(c, str) for c in items):
        raise ValueError("must be a regular expression or a list of them")
    for rx in items:
        compiles(rx)
    return tuple(items)


def _silent_ok(v: Any) -> float | None:
    """false (default): silence is not success; true: 3 s of quiet; or a number of seconds."""
    if v is False or v is None:
        return None
    if v is True:
        return 3.0
    return seconds(v)


def _verdict(f: Fields | None) -> Verdict:
    if f is None:
        return Verdict()
    v = Verdict(
        expect=f.get("expect", _regexes, (), hint="a list of regular expressions"),
        fail_on=f.get("fail_on", _regexes, (), hint="a list of regular expressions"),
        silent_ok=f.get("silent_ok", _silent_ok, None, hint="false, true or seconds"),
    )
    f.done()
    return v


def parse_timeout(spec: str, option: str = "--timeout") -> tuple[str, float]:
    """`PHASE=SECONDS` -> (phase, seconds); one clear error for anything else."""
    names = ", ".join(Timeouts.__dataclass_fields__)
    phase, sep, value = spec.partition("=")
    phase = phase.strip()
    if not sep or phase not in Timeouts.__dataclass_fields__:
        raise HarnessError(
            f"bad value {spec!r}: {'unknown phase ' + repr(phase) if sep else 'no ='}",
            field=option,
            fix=f"write PHASE=SECONDS with PHASE one of: {names}",
        )
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise HarnessError(
            f"bad value {spec!r}: {value!r} is not a positive number of seconds",
            field=option,
            fix=f"write {phase}=SECONDS, e.g. {phase}=300",
        )
    return phase, seconds


def with_overrides(
    target: Target,
    expect: list[str] | None = None,
    fail_on: list[str] | None = None,
    silent_ok: float | None = None,
    timeouts: list[str] | None = None,
) -> Target:
    """The target with command-line verdict and timeout options applied
    (`--expect`, `--fail-on`, `--silent-ok`, `--timeout PHASE=SECONDS`)."""
    for option, items in (("--expect", expect), ("--fail-on", fail_on)):
        for rx in items or []:
            try:
                re.compile(rx)
            except re.error as exc:
                raise HarnessError(
                    f"/{rx}/ is not a regular expression ({exc})",
                    field=option,
                    fix="quote the pattern and escape special characters, e.g. --expect 'Test suite passed\\.'",
                ) from None
    if silent_ok is not None and not silent_ok > 0:
        raise HarnessError(
            f"bad value {silent_ok!r}",
            field="--silent-ok",
            fix="give the seconds of quiet after the hand-off that mean success, e.g. 3",
        )
    v = target.verdict
    verdict = Verdict(
        expect=v.expect + tuple(expect or ()),
        fail_on=v.fail_on + tuple(fail_on or ()),
        silent_ok=silent_ok if silent_ok is not None else v.silent_ok,
    )
    changed = dict(parse_timeout(t) for t in timeouts or [])
    return replace(target, verdict=verdict, timeouts=replace(target.timeouts, **changed))


def _uboot(f: Fields | None) -> UBoot | None:
    if f is None:
        return None
    d = UBoot()
    addr = f.get("load_addr", _address_or_auto, AUTO, hint="auto or 0x48000000")
    load_addr = None if addr == AUTO else addr
    u = UBoot(
        prompt=f.get("prompt", text, d.prompt, hint="a string"),
        autoboot=f.get("autoboot", regex, d.autoboot, hint="a regular expression"),
        interrupt=f.get("interrupt", text, d.interrupt, hint="a string"),
        load_addr=load_addr,
        transport=f.get("transport", choice("tftp", "loader", "mmc"), d.transport),
        mmc=f.get("mmc", _mmc_part, d.mmc, hint="DEV:PART, e.g. 1:1"),
        package=f.get("package", choice("uimage", "fit", "elf"), d.package),
        fdt=f.get("fdt", text, d.fdt, hint="a string"),
        setup=f.get("setup", commands, d.setup, hint="a list of strings"),
        retries=f.get("retries", _count, d.retries, hint="a whole number >= 1"),
        fit_config=f.get("fit_config", text, d.fit_config, hint="conf-1"),
        fit_hashes=f.get("fit_hashes", _hashes, d.fit_hashes, hint="[crc32, sha256]"),
        bootm=f.get("bootm", choice("auto", "in-place", "copy"), d.bootm, hint="auto | in-place | copy"),
        uboot_reserve=f.get("uboot_reserve", _reserve, d.uboot_reserve, hint="0x4000000"),
        tftp_block_size=f.get(
            "tftpblocksize", _within(8, 65464), None, hint="a block size in bytes, 8..65464 (RFC 2348), e.g. 1468"
        ),
        tftp_window=f.get(
            "tftpwindowsize", _within(1, 65535), None, hint="a number of blocks, 1..65535 (RFC 7440), e.g. 16"
        ),
    )
    f.done()
    tftp = [k for k, v in (("tftpblocksize", u.tftp_block_size), ("tftpwindowsize", u.tftp_window)) if v is not None]
    if tftp and u.transport != "tftp":
        raise HarnessError(
            f"{tftp[0]} is a TFTP setting, but transport is '{u.transport}'",
            file=f.path,
            field=f"{f.prefix}.{tftp[0]}",
            fix=f"remove {tftp[0]}, or use 'transport: tftp'",
        )
    return u


def _mmc_part(v: Any) -> str:
    """`DEV:PART` as `load mmc` takes it (device and partition numbers)."""
    if not isinstance(v, str) or not re.fullmatch(r"\d{1,2}:\d{1,2}", v):
        raise ValueError("must be 'DEV:PART' in decimal, e.g. '1:1' (U-Boot's mmc 1, partition 1)")
    return v


def _within(low: int, high: int) -> Callable[[Any], int]:
    """A whole number in [low, high]."""

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return v

    check.__name__ = f"{low}..{high}"
    return check


AUTO = -1  # `load_addr: auto` while parsing (UBoot.load_addr None)


def _reserve(v: Any) -> int:
    n = as_int(v)
    if n <= 0:
        raise ValueError("must be a positive number of bytes")
    return n


def _address_or_auto(v: Any) -> int:
    if v == "auto":
        return AUTO
    n = as_int(v)
    if n < 0:
        raise ValueError("not an address")
    return n


def _count(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError("must be a whole number >= 1")
    return v


def _hashes(v: Any) -> tuple[str, ...]:
    algos = commands(v)
    bad = [a for a in algos if a not in ("crc32", "sha1", "sha256", "sha384", "sha512", "md5")]
    if bad or not algos:
        raise ValueError(f"unknown hash algorithm(s) {', '.join(bad) or '(none)'}")
    return algos


FIRMWARES = ("stand-in", "none")


def _firmware(path: Path, h: Fields, machine: str, boot: str, el: int | None, remote: bool) -> str | None:
    """`firmware:` - what runs at EL3 before the loader (or U-Boot) on a QEMU target.

    `stand-in` is our TF-A stand-in (images/firmware/): QEMU starts it at EL3, it leaves
    the GICv3 and EL2 as TF-A does on the board and enters the next stage at EL2, so that
    stage goes in with `-device loader` instead of `-kernel`: the loader (boot: qemu) or
    U-Boot proper (boot: uboot, the `uboot` image). `none` (the default): the loader or
    U-Boot is QEMU's `-kernel`/`-bios` itself."""
    value = h.get("firmware", choice(*FIRMWARES), "none", hint=" | ".join(FIRMWARES))
    if value == "none":
        return None
    where = "harness.firmware"
    if remote:
        raise HarnessError(
            f"firmware '{value}' is for QEMU targets, this one is a board",
            file=path,
            field=where,
            fix="remove 'firmware:' (the board brings its own firmware)",
        )
    if boot == "uboot" and machine not in FIRMWARE_MACHINES:
        raise HarnessError(
            f"there is no firmware stand-in for machine '{machine}'",
            file=path,
            field=where,
            fix=f"remove 'firmware:' (U-Boot for {machine} starts "
            f"as QEMU's -bios; a stand-in exists for: "
            f"{', '.join(FIRMWARE_MACHINES)})",
        )
    if machine not in FIRMWARE_MACHINES:
        raise HarnessError(
            f"there is no firmware stand-in for machine '{machine}'",
            file=path,
            field=where,
            fix=f"remove 'firmware:' (it exists for: {', '.join(FIRMWARE_MACHINES)})",
        )
    if el is not None and el != 2:
        raise HarnessError(
            f"the firmware enters the loader at EL2, but expect.el is {el}",
            file=path,
            field=where,
            fix="set 'expect: {el: 2}', or remove 'firmware:' for a loader entered at EL3 as QEMU's -kernel",
        )
    return value


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads labgrid's `!template $LG_...` values (kept unexpanded:
    labgrid expands them from the environment when it loads the file)."""


def _template(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else None


_Loader.add_constructor("!template", _template)


def load(name_or_path: str) -> Target:
    """Load and validate a target; raise HarnessError naming file, field and fix."""
    path = resolve(name_or_path)
    try:
        # bytes: PyYAML reports a file that is not UTF-8 as a YAMLError (read_text() would
        # raise UnicodeDecodeError)
        data = yaml.load(path.read_bytes(), Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark else "(yaml)"
        raise HarnessError(
            f"not valid YAML: {getattr(exc, 'problem', None) or exc}", file=path, field=line, fix="fix the YAML syntax"
        ) from None
    except RecursionError:
        raise HarnessError(
            "nested too deeply to read", file=path, field="(yaml)", fix="flatten the YAML (see targets/qemu-virt.yaml)"
        ) from None
    if not isinstance(data, dict):
        raise HarnessError("empty or not a mapping", file=path, field="(top level)", fix="see targets/qemu-virt.yaml")
    targets = data.get("targets")
    if not isinstance(targets, dict) or "main" not in targets:
        raise HarnessError(
            "no labgrid target 'main'",
            file=path,
            field="targets.main",
            fix="add a labgrid 'targets: main:' section (see targets/qemu-virt.yaml)",
        )
    if "harness" not in data:
        raise HarnessError(
            "missing", file=path, field="harness", fix="add a 'harness:' section (see targets/qemu-virt.yaml)"
        )
    h = Fields(path, "harness", data["harness"])
    machine = h.get("machine", choice(*MACHINES), required=True, hint=" | ".join(MACHINES))
    boot = h.get("boot", choice("qemu", "uboot"), "qemu")
    fmt = h.get("image_format", choice("elf", "Image"), "elf")
    mm = h.sub("memory_map")
    if mm is None:
        raise HarnessError(
            "missing",
            file=path,
            field="harness.memory_map",
            fix="add 'memory_map: {dram_base: 0x40000000, dram_size: 0x80000000}'",
        )
    dram = (
        mm.get("dram_base", as_int, required=True, hint="0x40000000"),
        mm.get("dram_size", as_int, required=True, hint="0x80000000"),
    )
    carve_outs = parse_carve_outs(path, "harness.memory_map.carve_outs", mm.get("carve_outs", lambda v: v, None), *dram)
    mm.done()
    ex = h.sub("expect")
    el, handoff = None, "mmu-off"
    if ex is not None:
        el_text = ex.get("el", choice("1", "2", "3"), None, hint="1 | 2 | 3")
        el = int(el_text) if el_text is not None else None
        handoff = ex.get("handoff", choice("mmu-off", "any"), "mmu-off")
        ex.done()
    ph = h.sub("phases")
    phases = {k: ph.get(k, regex, hint="a regular expression") for k in list(ph.data)} if ph else {}
    unknown = [k for k in phases if k not in DEFAULT_PATTERNS]
    if ph is not None and unknown:
        raise HarnessError(
            f"unknown phase pattern {show(unknown[0])}",
            file=path,
            field=f"harness.phases.{unknown[0]}",
            fix=f"use one of: {', '.join(DEFAULT_PATTERNS)}",
        )
    remote = h.get("remote", flag, False)
    target = Target(
        name=path.stem,
        path=path,
        machine=machine,
        boot=boot,
        image_format=fmt,
        dram=dram,
        carve_outs=carve_outs,
        expect_el=el,
        expect_handoff=handoff,
        poison=h.get("poison", flag, False),
        remote=remote,
        timeouts=_timeouts(h.sub("timeouts")),
        uboot=_uboot(h.sub("uboot")),
        timing_profile=h.get("timing_profile", _profile_name, None, hint="imx8mp-armstone"),
        console_uart=h.get("console_uart", as_int, None, hint="0x30880000"),
        lab=h.get("lab", choice("virtual"), None, hint="virtual"),
        firmware=_firmware(path, h, machine, boot, el, remote),
        phases=phases,
        verdict=_verdict(h.sub("verdict")),
        env=data,
    )
    h.done()
    if boot == "uboot" and target.uboot is None:
        raise HarnessError(
            "boot is 'uboot' but there is no uboot section",
            file=path,
            field="harness.uboot",
            fix="add 'uboot: {load_addr: auto}'",
        )
    return target

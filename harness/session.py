"""A boot session on one target: labgrid environment, strategy, builds, results.

The pytest plugin and the CLI both boot through this, so a boot from the
command line and a boot in CI are the same boot.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from labgrid import Environment

from . import labgrid_fixes as _labgrid_fixes  # noqa: F401 - labgrid's step-log KeyError
from . import uboot as _uboot  # noqa: F401 - registers UBootBootStrategy
from .boot import Attachment, BootResult, run_boot
from .checks import Check, archive_hash_check, check_kernel, destinations_check, run_checks
from .errors import BootFailure, HarnessError
from .history.document import RunContext, document
from .images.build import Variant, build, build_root
from .checks.platform import check_platform
from .payload import Payload, from_build
from .phases import Timeline
from .qemu import strategy as _qemu_strategy  # noqa: F401 - registers QEMUBootStrategy
from .qemu.command import instruction_clock
from .qemu.poison import poison_args, qemu_reserved
from .result_folder import prepare_dir, write
from .strategy_contract import BootStrategy
from .targets import Target


@dataclass
class Outcome:
    """A boot and the checks run over it."""

    result: BootResult
    checks: list[Check]

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.failed]


#: --gdb: a person steps through the loader, so its phases wait this long (a day).
DEBUG_WAIT = 86400.0


def _wait_for_file(path: Path, timeout: float, strategy: BootStrategy) -> None:
    """Until `path` exists (the cache model's report), QEMU dies, or `timeout`."""
    deadline = time.monotonic() + timeout
    while not path.exists() and time.monotonic() < deadline and strategy.is_alive():
        time.sleep(0.1)


def record(history: Path, doc: dict[str, Any], out_dir: Path) -> None:
    """Add the boot to the results history; a history that cannot be written is said,
    loudly, but does not change the boot's verdict (its result folder has it all)."""
    from .history.db import History

    try:
        with History(history) as h:
            h.record(doc, out_dir)
    except (HarnessError, OSError) as exc:
        print(f"harness: warning: boot not recorded in the history: {exc}", file=sys.stderr)


def _kernel_file(payload: Payload, out_dir: Path) -> Path | None:
    """The kernel ELF from the image's archive, as a file gdb can read its symbols from."""
    try:
        member = next(m for m in payload.members if m.name == "kernel.elf")
    except (HarnessError, StopIteration):
        return None
    path = out_dir / "kernel.elf"
    with path.open("wb") as f:
        for chunk in member.data.chunks():
            f.write(chunk)
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120]


@dataclass
class BootSession:
    """Boots payloads on one target and keeps every result under `results`."""

    target: Target
    results: Path
    env: Any = None
    coherence: bool = False
    cache_start: str | None = None  # the model's start state (--cache-start); None: the default
    history: Path | None = None  # record every boot here (harness/history/)
    run: RunContext = field(default_factory=RunContext)
    _cache: dict[tuple[Any, ...], Outcome] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.env is None:
            self.env = Environment(config_file=str(self.target.path))
        self.lg_target = self.env.get_target("main")
        if self.lg_target is None:
            raise HarnessError(
                "no labgrid target 'main'",
                file=self.target.path,
                field="targets.main",
                fix="see targets/qemu-virt.yaml",
            )
        self._check_tools()
        self.strategy: BootStrategy = self.lg_target.get_driver("Strategy")
        self.strategy.configure(self.target)

    def _check_tools(self) -> None:
        """Every tool the environment names must exist before anything starts."""
        for name, tool in (self.env.config.data.get("tools") or {}).items():
            if not shutil.which(str(tool)):
                from .doctor import BACKPORTS

                raise HarnessError(
                    f"'{tool}' not found",
                    file=self.target.path,
                    field=f"tools.{name}",
                    fix=BACKPORTS if "qemu" in str(tool) else "install it or fix the path",
                )

    def close(self) -> None:
        try:
            self.strategy.transition("off")
        finally:
            self.env.cleanup()

    def payload(self, variant: Variant) -> Payload:
        if variant.machine != self.target.machine:
            raise HarnessError(
                f"variant is for '{variant.machine}'", field="machine", fix=f"build for {self.target.machine}"
            )
        return from_build(build(variant), self.target.image_format)

    def variant(self, **kw: Any) -> Variant:
        kw.setdefault("uart_base", self.target.console_uart)
        return Variant(machine=self.target.machine, **kw)

    def extra_args(self, payload: Payload, out_dir: Path | None = None, coherence: bool = False) -> list[str]:
        """Per-boot QEMU arguments: memory poison, and the cache model when asked."""
        if not self.target.is_qemu:
            return []
        args = poison_args(payload, self.target.dram, reserved=qemu_reserved(self.target)) if self.target.poison else []
        if coherence:  # modeled boots: exact counts need a guest clock the host cannot move
            args += instruction_clock()
            args += self._plugin_args(payload, (out_dir or self.results) / "coherence.json")
        return args

    def cache_start_state(self) -> str:
        """The cache model's start state for this target: what firmware may have left
        valid on a direct boot ("warm"), nothing behind U-Boot ("cold"), or the choice."""
        from .coherence.start import START_ENV, start_state

        try:
            return start_state(direct_boot=self.target.boot == "qemu", chosen=self.cache_start)
        except ValueError as exc:
            raise HarnessError(
                str(exc), field="--cache-start" if self.cache_start else START_ENV, fix="use warm or cold"
            ) from None

    def _plugin_args(self, payload: Payload, out: Path) -> list[str]:
        from .coherence import PluginBuildError, plugin_args, plugin_path

        try:
            plugin = plugin_path(build_root() / "coherence")
        except PluginBuildError as exc:
            raise HarnessError(
                f"cache-model plugin unavailable: {exc}",
                field="--coherence",
                fix="run 'make setup' (needs libglib2.0-dev and QEMU's source header)",
            ) from None
        from .coherence.window import window_for

        # The payload's hand-off contract: ours hands off with the MMU off at the
        # physical entry, seL4's at the virtual entry with MMU and caches on.
        contract = getattr(payload, "contract", "mmu-off" if payload.reference else "sel4")
        if contract == "mmu-off" and self.target.expect_handoff != "mmu-off":
            contract = "any"
        w = window_for(payload, contract)
        from .coherence.start import warm_ranges

        start = self.cache_start_state()
        out.unlink(missing_ok=True)
        return plugin_args(
            plugin,
            out,
            self.target.dram,
            w.begin_pc,
            w.handoff_pc,
            pause=w.pause,
            expect_handoff=w.contract,
            begin_hit=w.begin_hit,
            end_pcs=w.end_pcs,
            handoff_el=w.handoff_el,
            targets=w.targets,
            warm=warm_ranges(payload, start),
        )

    def command_line(self, payload: Payload, extra: list[str] | None = None, coherence: bool | None = None) -> str:
        """The QEMU command labgrid starts for this payload (paused, QMP, console socket)."""
        self._prepare(payload, extra, coherence)
        return shlex.join(self.strategy.command_line())

    def _prepare(self, payload: Payload, extra: list[str] | None, coherence: bool | None) -> None:
        coh = self.coherence if coherence is None else coherence
        self.strategy.prepare(payload.boot_file, self.extra_args(payload, None, coh) + list(extra or []))

    def dry_run(self, payload: Payload, extra: list[str] | None = None, coherence: bool | None = None) -> str:
        """What `--dry-run` prints: a command a person pastes into a shell to run this
        same boot, the console on the terminal (and for U-Boot targets the package's
        TFTP folder and the commands to type); for a board, the commands only."""
        check_platform(payload, self.target)
        self._prepare(payload, extra, coherence)
        return self.strategy.dry_run(payload.label)

    def boot(
        self,
        payload: Payload,
        name: str | None = None,
        extra: list[str] | None = None,
        reuse: bool = True,
        coherence: bool | None = None,
        verify: bool = False,
        until: str = "verdict",
        attach: Attachment | None = None,
        gdb: bool = False,
        early_map: bool = False,
    ) -> Outcome:
        """Boot once (or return this session's earlier boot of the same payload).

        `coherence` runs the cache model; `verify` stops at the kernel entry and
        compares memory with the ELF images out of band (QEMU targets);
        `until="handoff"` ends the boot at the hand-off (the kernel check skips).
        `early_map` stops where the loader turns its MMU on and walks its page tables for
        the `early-map` check (QEMU targets that start the loader directly).
        `attach` gives the console to a person too (harness/interactive.py); `gdb`
        holds the guest at the loader entry for a person's gdb (`debug_at_entry`).
        """
        if until not in ("verdict", "handoff"):
            raise HarnessError(f"unknown end of boot '{until}'", field="until", fix="use 'verdict' or 'handoff'")
        check_platform(payload, self.target)  # an image for another SoC: refused, not timed out
        coh = self.coherence if coherence is None else coherence
        key = (payload.boot_file, tuple(extra or ()), coh, verify, until, early_map)
        reuse = reuse and attach is None and not gdb
        if reuse and key in self._cache:
            return self._cache[key]
        suffix = ("-coherence" if coh else "") + ("-verify" if verify else "") + ("-early-map" if early_map else "")
        out_dir = self.results / (_slug(name or payload.label) + suffix)
        prepare_dir(out_dir)  # a folder that cannot be written: said before power-on
        pre = archive_hash_check(payload)
        clear = destinations_check(payload, self.target)  # known before power-on, judged with the rest
        if pre is not None and pre.failed:  # said before the boot, which still runs:
            print(
                f"harness: warning: {payload.elf}: archive hash mismatch: {pre.message}", file=sys.stderr
            )  # the loader's own words then decide
        args = self.extra_args(payload, out_dir, coh) + list(extra or [])
        oob = None
        mmu_on = self._mmu_on(payload) if early_map else None
        if verify or isinstance(mmu_on, tuple):
            if not self.target.is_qemu:
                raise HarnessError(
                    "out-of-band verification needs QEMU (gdbstub + QMP)",
                    file=self.target.path,
                    fix="use a QEMU target",
                )
            from .qemu.gdbstub import free_port
            from .qemu.verify import OutOfBand

            port = free_port()
            args += ["-gdb", f"tcp:127.0.0.1:{port}"]
            oob = OutOfBand(
                payload,
                port,
                self.strategy.monitor,
                verify=verify,
                mmu_on=mmu_on if isinstance(mmu_on, tuple) else None,
            )
            # U-Boot first: the guest runs when armed; direct: paused before its first instruction
            self.strategy.at_loader_start(oob.arm_running if self.strategy.stages_image else oob.arm)
        target = self.target
        if gdb:
            if oob is not None:
                raise HarnessError(
                    "--gdb and --verify/--early-map all need the gdbstub", field="--gdb", fix="use one of them"
                )
            args += self.debug_at_entry(payload, out_dir)
            timeouts = dataclasses.replace(target.timeouts, loader=DEBUG_WAIT, unpack=DEBUG_WAIT, kernel=DEBUG_WAIT)
            target = dataclasses.replace(target, timeouts=timeouts)
        hooks: list[Callable[[Timeline], None]] = []
        if oob is not None and verify:
            hooks.append(lambda tl: oob.at_handoff(tl, self.target.timeouts.kernel))
        if coh and until == "handoff":  # the plugin writes its report at the kernel entry
            hooks.append(
                lambda tl: _wait_for_file(out_dir / "coherence.json", self.target.timeouts.kernel, self.strategy)
            )

        def at_handoff(tl: Timeline) -> None:
            for hook in hooks:
                hook(tl)

        result = run_boot(self.strategy, target, payload, out_dir, args, at_handoff if hooks else None, until, attach)
        result.target = self.target  # the record keeps the target's timeouts, not --gdb's day
        if oob is not None and oob.report is not None:
            result.extras["verify"] = oob.report
        if isinstance(mmu_on, str):  # no stop: the check says why
            result.extras["early_map"] = mmu_on
        elif oob is not None and oob.early_map is not None:
            result.extras["early_map"] = oob.early_map
        if coh:
            self._attach_model(result, out_dir / "coherence.json")
        self._attach_load_model(result)
        checks = [c for c in (pre, clear) if c is not None]
        if result.ok:
            checks += run_checks(result)
        elif "verdict" in result.extras:  # the workload's own failure line: say what decided
            checks.append(check_kernel(result))
        options = {
            "coherence": coh,
            "verify": verify,
            "until": until,
            "extra": list(extra or []),
            "interactive": attach is not None,
            "gdb": gdb,
            "early_map": early_map,
        }
        if coh:
            options["cache_start"] = self.cache_start_state()
        doc = document(
            result,
            checks,
            self.run,
            f"{self.target.name}/{out_dir.parent.name}/{out_dir.name}",
            options,
            qemu=(self.env.config.data.get("tools") or {}).get("qemu"),
        )
        try:
            write(result, checks, out_dir, doc)
        except HarnessError as exc:  # the boot's verdict stands; its record is incomplete
            result.extras["write_error"] = str(exc)
            print(f"harness: warning: {exc}", file=sys.stderr)
        if self.history is not None:
            record(self.history, doc, out_dir)
        outcome = Outcome(result, checks)
        self._cache[key] = outcome
        return outcome

    def _mmu_on(self, payload: Payload) -> tuple[str, int] | str:
        """The loader's MMU-enable function for the early-map stop, or why there is no stop."""
        if not self.target.is_qemu or self.strategy.stages_image:
            raise HarnessError(
                "--early-map stops the loader of a QEMU target that starts it "
                "directly (a boot loader in front runs it only after bootm, "
                "past the gdbstub's first stop)",
                file=self.target.path,
                field="harness.boot",
                fix="use qemu-imx8mp, qemu-imx8mp-el3, qemu-virt or qemu-virt-el2",
            )
        from .qemu.mmu_on import mmu_on_function

        return mmu_on_function(payload)

    def debug_at_entry(self, payload: Payload, out_dir: Path) -> list[str]:
        """QEMU arguments and hooks for --gdb: a gdbstub on 127.0.0.1 only, the guest run
        to the loader's entry and held there (no QMP 'cont'), and the gdb-multiarch
        command with the loader's and the kernel's symbols printed for the person."""
        from .qemu.gdbstub import free_port, gdb_command, hold_at

        if not self.target.is_qemu or self.strategy.stages_image:
            raise HarnessError(
                "--gdb holds the loader of a QEMU target that starts it directly",
                file=self.target.path,
                field="harness.boot",
                fix="use qemu-virt, qemu-virt-el2, qemu-imx8mp or qemu-imx8mp-el3",
            )
        port = free_port()
        command = gdb_command(port, payload.elf, _kernel_file(payload, out_dir))
        (out_dir / "gdb.txt").write_text(command + "\n")
        entry = payload.loader.entry

        def stop_at_entry() -> None:
            hold_at(port, entry)
            print(
                f"\r\nharness: stopped at the loader entry {entry:#x}, gdbstub on "
                f"127.0.0.1:{port}; debug with:\r\n{command}\r\n",
                file=sys.stderr,
                flush=True,
            )

        self.strategy.at_loader_start(stop_at_entry, hold=True)
        return ["-gdb", f"tcp:127.0.0.1:{port}"]

    def _attach_load_model(self, result: BootResult) -> None:
        """The board's modeled load of the bytes this boot moved, with this target's TFTP
        settings or its card (`transport: mmc`) (U-Boot targets whose profile prices loads;
        harness/load_time.py)."""
        from .load_time import load_band, target_scenario
        from .profile import load_profile

        transfer, u = result.timeline.transfer(), self.target.uboot
        if transfer is None or u is None or not self.target.timing_profile:
            return
        profile = load_profile(self.target.timing_profile)
        if profile.load:
            result.extras["load_model"] = load_band(
                profile,
                transfer.bytes,
                target_scenario(profile, u.tftp_block_size, u.tftp_window, mmc=u.transport == "mmc"),
            )

    def _attach_model(self, result: BootResult, path: Path) -> None:
        """Read the cache model's report; turn its counts into modeled board time."""
        from .coherence import CoherenceReport, ReportError
        from .board_time import load_profile, model

        if not path.exists():
            if result.failure is None:
                result.failure = BootFailure("the cache model wrote no report", kind="infrastructure", phase="kernel")
            return
        try:
            report = CoherenceReport.load(path)
        except ReportError as exc:
            result.failure = BootFailure(f"cache-model report unreadable: {exc}", kind="infrastructure", phase="kernel")
            return
        result.extras["coherence"] = report
        if self.target.timing_profile:
            result.extras["model"] = model(report.counts, load_profile(self.target.timing_profile))

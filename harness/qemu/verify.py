"""Out-of-band segment verification: stop at the kernel entry, dump memory, compare.

Needs no cooperation from the loader, so it works on an unmodified seL4
elfloader image: the guest is stopped by the gdbstub at the kernel's entry
(both its physical entry, where our loader jumps with the MMU off, and its
ELF entry, the virtual address seL4's loader jumps to with the MMU on), every
destination range is dumped with QMP `pmemsave` in chunks and compared with the
ELF's file bytes plus zeros. Memory stays bounded whatever the image size.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import BootFailure
from .gdbstub import GdbStub
from .mmu_on import MmuOnState, stop_at_mmu_on
from ..images.elf import Segment
from ..payload import Payload
from ..phases import Timeline

CHUNK = 32 << 20


@dataclass(frozen=True)
class Mismatch:
    segment: Segment
    dest: int  # physical address where it landed
    first_bad: int  # first differing physical address
    bad_bytes: int  # differing bytes in the first bad chunk
    in_bss: bool

    def describe(self) -> str:
        seg = self.segment
        part = (
            f"bss [{self.dest + seg.filesz:#x}..{self.dest + seg.memsz:#x}) is not zero"
            if self.in_bss
            else "file bytes differ from the ELF"
        )
        return (
            f"{seg.describe()} at {self.dest:#x}: {part} from {self.first_bad:#x} "
            f"({self.bad_bytes} byte(s) in that {CHUNK >> 20} MiB chunk)"
        )


@dataclass(frozen=True)
class VerifyReport:
    stopped_at: int
    checked_bytes: int
    mismatches: tuple[Mismatch, ...]
    el: int | None = None  # CurrentEL at the stop (PSTATE through the gdbstub)
    sctlr: int | None = None  # SCTLR_ELx at the stop, when the gdbstub exposes it
    misplaced: tuple[str, ...] = ()  # user images not where the placement rule put them


PAGE = 1 << 12  # seL4's elfloader places images on 4 KiB pages
KEEP_HEADERS = PAGE  # and keeps a page of ELF headers after each user image


def _page_up(addr: int) -> int:
    return (addr + PAGE - 1) & ~(PAGE - 1)


def _fdt_size(payload: Payload) -> int | None:
    """The archive's kernel.dtb size as the loader reads it (the FDT header's
    totalsize), or None when the archive carries no DTB."""
    dtb = next((m for m in payload.members if m.name == "kernel.dtb"), None)
    if dtb is None:
        return None
    head = dtb.data.read(0, 8)
    if len(head) < 8 or head[:4] != b"\xd0\x0d\xfe\xed":
        return None
    return int.from_bytes(head[4:8], "big")


def sel4_places(payload: Payload) -> dict[str, int]:
    """Where seL4's elfloader puts each user image (name -> physical start), known
    before the boot.

    Its rule (load_images): the DTB it uses is copied to the first page after the
    kernel's physical end, the user images follow one after another, each spanning
    its page-rounded virtual bounds plus one page of ELF headers. The DTB of the
    archive wins over a boot loader's; without one in the archive a boot loader's
    DTB (U-Boot's) may be copied there, whose size only the run shows: then no user
    image has a place known in advance (empty; the loader's line says it at run time).
    """
    images = payload.images
    if payload.contract != "sel4" or len(images) < 2:
        return {}
    dtb = _fdt_size(payload)
    if dtb is None:
        return {}  # a boot loader's DTB, or none: only the loader's line will say
    nxt = _page_up(_page_up(images[0].span[1]) + dtb)
    out: dict[str, int] = {}
    for img in images[1:]:
        lo = min(s.vaddr for s in img.segments)
        hi = _page_up(max(s.vaddr + s.memsz for s in img.segments))
        out[img.name] = nxt
        nxt = _page_up(nxt + hi - lo) + KEEP_HEADERS
    return out


def image_offsets(payload: Payload, tl: Timeline | None = None) -> dict[str, int]:
    """Per image, where it lands relative to its ELF paddrs: the one placement
    computation, used to poison bss before the boot (harness/session.py) and to
    dump memory at the kernel entry (here).

    seL4's user images go where `sel4_places` says; otherwise the loader's own line
    says (`tl`, at run time; `misplaced` reports where the two disagree); without
    either, the kernel and our reference builds' images are at their ELF paddrs and
    a user image's place is unknown (left out: seL4-style loaders move them).
    """
    places = sel4_places(payload)
    out: dict[str, int] = {}
    for i, img in enumerate(payload.images):
        start = places.get(img.name)
        if start is None and tl is not None:
            start = tl.placed_at(img.name)
        if start is None and (i == 0 or payload.reference):
            start = img.span[0]
        if start is not None:
            out[img.name] = start - img.span[0]
    return out


def misplaced(payload: Payload, tl: Timeline) -> list[str]:
    """User images the loader says it put elsewhere than seL4's placement rule: their
    bss was poisoned, and their memory dumped, where the rule said."""
    out = []
    for name, start in sel4_places(payload).items():
        said = tl.placed_at(name)
        if said is not None and said != start:
            out.append(
                f"image '{name}': the loader placed it at {said:#x}, seL4's placement "
                f"rule (kernel end, DTB, images in archive order) says {start:#x}: "
                "its bss poison and dump were at the rule's place"
            )
    return out


def _expected(seg: Segment) -> Iterator[bytes]:
    yield from seg.data.chunks(CHUNK)
    zeros = seg.memsz - seg.filesz
    block = bytes(min(zeros, CHUNK))
    while zeros:
        n = min(zeros, CHUNK)
        yield block[:n]
        zeros -= n


def _rechunk(stream: Iterator[bytes], size: int) -> Iterator[bytes]:
    buf = b""
    for piece in stream:
        buf += piece
        while len(buf) >= size:
            yield buf[:size]
            buf = buf[size:]
    if buf:
        yield buf


def compare(payload: Payload, tl: Timeline, dump: Callable[[int, int], bytes]) -> VerifyReport:
    """Compare every segment with memory read through `dump(addr, size)`."""
    mismatches = []
    checked = 0
    offsets = image_offsets(payload, tl)
    for img in payload.images:
        offset = offsets.get(img.name, 0)  # unknown: at its ELF paddrs, as linked
        for seg in img.segments:
            dest = seg.paddr + offset
            pos = 0
            for want in _rechunk(_expected(seg), CHUNK):
                got = dump(dest + pos, len(want))
                checked += len(want)
                if got != want:
                    bad = [i for i in range(len(want)) if got[i] != want[i]]
                    first = dest + pos + bad[0]
                    mismatches.append(Mismatch(seg, dest, first, len(bad), pos + bad[0] >= seg.filesz))
                    break
                pos += len(want)
    return VerifyReport(0, checked, tuple(mismatches), misplaced=tuple(misplaced(payload, tl)))


def entry_state(stub: GdbStub) -> tuple[int | None, int | None]:
    """(EL, SCTLR_ELx) of the stopped CPU, None for what the gdbstub does not give.

    PSTATE is register 33 (`cpsr`) of aarch64-core.xml; QEMU lists SCTLR_EL1 as
    `SCTLR` and SCTLR_EL2 as `SCTLR_EL2` in its system-registers.xml."""
    try:
        el = (int.from_bytes(bytes.fromhex(stub.command("p21")), "little") >> 2) & 3
    except (TimeoutError, ConnectionError, ValueError):
        return None, None
    try:
        regs = stub.register_numbers()
        num = regs.get(f"SCTLR_EL{el}", regs.get("SCTLR") if el == 1 else None)
        if num is None:
            return el, None
        return el, stub.register(num)
    except (TimeoutError, ConnectionError, ValueError):
        return el, None


QMP_TIMEOUT = 30.0  # one QMP command (a 32 MiB pmemsave included), at most


def bounded(call: Callable[[], Any], timeout: float, what: str, phase: str) -> Any:
    """`call()` within `timeout` s, else an infrastructure failure naming `what`.

    labgrid's QMP client reads QEMU's answer with a blocking readline: a QEMU that
    stopped answering would hang the run. The call runs in a daemon thread; one that
    never returns is left blocked on the pipe until QEMU is stopped (its end ends it)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"harness {what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise BootFailure(f"{what} did not answer within {timeout:g} s", kind="infrastructure", phase=phase)
    if "error" in box:
        raise box["error"]
    return box.get("value")


class OutOfBand:
    """Arms the gdbstub before the guest runs and verifies at the kernel entry; with
    `mmu_on` (symbol, address) it first stops where the loader turns its MMU on and reads
    its page tables (`early_map`, harness/qemu/mmu_on.py). `verify` False: that stop only."""

    def __init__(
        self,
        payload: Payload,
        port: int,
        qmp: Callable[[str, dict[str, Any]], Any],
        verify: bool = True,
        mmu_on: tuple[str, int] | None = None,
    ) -> None:
        self.payload = payload
        self.port = port
        self._qmp = qmp
        self.verify = verify
        self.mmu_on = mmu_on
        self.early_map: MmuOnState | None = None
        self.stub: GdbStub | None = None
        self.report: VerifyReport | None = None
        self.start_timeout = 30.0
        self.qmp_timeout = QMP_TIMEOUT
        self._stop_reply_pending = False

    def qmp(self, command: str, arguments: dict[str, Any]) -> Any:
        """One QMP command, bounded (a QEMU that stops answering fails the boot)."""
        return bounded(
            lambda: self._qmp(command, arguments), self.qmp_timeout, f"QEMU's QMP monitor ('{command}')", "kernel"
        )

    def _stub_failed(self, exc: BaseException, when: str, phase: str) -> BootFailure:
        return BootFailure(
            f"the gdbstub on 127.0.0.1:{self.port} did not answer {when}: {exc}", kind="infrastructure", phase=phase
        )

    def entries(self) -> list[int]:
        kernel = self.payload.images[0]
        return sorted({kernel.entry_paddr, kernel.entry})

    def arm(self) -> None:
        """Before labgrid's QMP `cont`: stop the guest at the loader's entry, then leave
        breakpoints on the kernel entries for the hand-off.

        Firmware may execute at a kernel entry address before the loader runs
        (QEMU's boot stub sits at the base of RAM, where a kernel is often
        linked). Running to the loader's entry first tells the two apart; the
        guest is left stopped there and labgrid's `cont` resumes it.
        """
        loader = self.payload.loader.entry
        try:
            self.stub = stub = GdbStub(self.port)
            stub.breakpoint(loader)
            stub.resume()
        except (TimeoutError, OSError) as exc:
            raise self._stub_failed(exc, "before the guest started", "power-on") from None
        try:
            stub.wait_stop(self.start_timeout)
        except (TimeoutError, ConnectionError) as exc:
            raise BootFailure(
                f"the guest never reached the loader entry {loader:#x}: {exc}", kind="product", phase="loader"
            ) from None
        try:
            stub.command(f"z1,{loader:x},4")
        except (TimeoutError, OSError) as exc:
            raise self._stub_failed(exc, "at the loader entry", "loader") from None
        if self.mmu_on is not None:
            self.early_map = stop_at_mmu_on(stub, *self.mmu_on, self.read_physical, self.start_timeout)
        if not self.verify:  # closed without a detach: the guest stays stopped for `cont`
            stub.close()
            self.stub = None
            return
        try:
            for addr in self.entries():
                stub.breakpoint(addr)
        except (TimeoutError, OSError) as exc:
            raise self._stub_failed(exc, "at the loader entry", "loader") from None

    def read_physical(self, addr: int, size: int) -> bytes:
        """Guest physical memory through QMP `pmemsave` (one call: keep `size` bounded)."""
        with tempfile.TemporaryDirectory(prefix="harness-pmem-") as tmp:
            path = Path(tmp) / "chunk.bin"
            self.qmp("pmemsave", {"val": addr, "size": size, "filename": str(path)})
            return path.read_bytes()

    def arm_running(self) -> None:
        """With firmware in front (U-Boot, right before bootm): stop the running guest
        (QEMU pauses it when a debugger connects), set the kernel-entry breakpoints,
        resume it through the stub."""
        try:
            self.stub = stub = GdbStub(self.port)
            # the stop the connection caused: QEMU answers at once when it answers at all
            stub.command("?", timeout=min(self.start_timeout, 10.0))
        except (TimeoutError, OSError) as exc:
            raise self._stub_failed(exc, "when asked to stop the guest before bootm", "bootm") from None
        try:
            for addr in self.entries():
                stub.breakpoint(addr)
            stub.resume()
        except (TimeoutError, OSError) as exc:
            raise self._stub_failed(exc, "before bootm", "bootm") from None
        self._stop_reply_pending = True

    def at_handoff(self, tl: Timeline, timeout: float) -> None:
        """After the hand-off line: wait for the stop, dump, compare, let the kernel run.

        The stop is seen through QMP (status 'debug'): the stub sends no stop
        reply unless gdb itself resumed the guest, and resuming through gdb
        as well as QMP races (QMP's 'cont' can undo the breakpoint's stop).
        """
        assert self.stub is not None
        deadline = time.monotonic() + timeout
        self.qmp_timeout = min(self.qmp_timeout, max(timeout, 1.0))
        if self._stop_reply_pending:  # resumed by the stub: it reports the stop itself
            try:
                self.stub.wait_stop(timeout)
            except (TimeoutError, ConnectionError):
                pass  # the QMP check below says what happened
        while self.qmp("query-status", {}).get("status") != "debug":
            if time.monotonic() > deadline:
                raise BootFailure(
                    f"the guest never stopped at the kernel entry {', '.join(hex(a) for a in self.entries())}",
                    kind="product",
                    phase="kernel",
                )
            time.sleep(0.02)
        try:
            pc = self.stub.pc()
        except (TimeoutError, OSError) as exc:
            raise self._stub_failed(exc, "at the kernel entry", "kernel") from None
        el, sctlr = entry_state(self.stub)
        report = compare(self.payload, tl, self.read_physical)
        self.report = VerifyReport(pc, report.checked_bytes, report.mismatches, el, sctlr, report.misplaced)
        try:
            for addr in self.entries():
                self.stub.command(f"z1,{addr:x},4")
        except (TimeoutError, OSError) as exc:
            raise self._stub_failed(exc, "after the dump (breakpoints left in)", "kernel") from None
        self.stub.detach()
        self.stub.close()

"""Boot-phase timeline from timestamped console lines.

Host stamps time every target; the target's timer (CNTPCT ticks) times the
unpack precisely where the loader prints it: the reference loader's `@h mark`
records, the early-MMU seL4 loader's opening and closing `Early MMU:` lines. For
a plain seL4 elfloader, whose copy of an image follows its `ELF-loading image`
line and whose last copy ends right before the hand-off line, the window comes
from host stamps of those lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .console import ConsoleLine
from .console_lines import Patterns, Record, parse_record
from .target_timer import read_stamp, tick_span
from .transfer import Transfer, read_transfer


def _number(text: str) -> int | None:
    """An integer field of a console line (0x.. or decimal); None when it is not one."""
    if len(text) > 40:  # no counter is that long (and int() refuses > 4300 digits)
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def _first_known(*stamps: int | None) -> int | None:
    """The first stamp that is there (0 is a stamp)."""
    return next((t for t in stamps if t is not None), None)


@dataclass(frozen=True)
class Event:
    """A recognised console line."""

    name: str
    t_ns: int
    fields: dict[str, str]
    text: str
    after_ns: int | None = None  # the line arrived in (after_ns, t_ns] (console.ConsoleLine)


@dataclass(frozen=True)
class Mark:
    """A target-timer mark: CNTPCT ticks at a named point."""

    name: str
    ticks: int
    freq: int
    t_ns: int
    image: str | None = None


@dataclass
class ImageLoad:
    """An `ELF-loading image` block: where the loader said it puts an image."""

    name: str
    dest: int
    t_ns: int
    paddr: tuple[int, int] | None = None
    vaddr: tuple[int, int] | None = None
    virt_entry: int | None = None


@dataclass(frozen=True)
class UnpackWindow:
    """The unpack window: host stamps always, target ticks where the loader prints them.

    Host stamps are per console read: `host_s` is 0 when both lines came in one read,
    and the window is then known only to be at most `host_max_s` (from when the read
    before the opening line drained the console to the closing line's stamp). Without
    ticks, `fallback` says why a loader that prints them gave none and `error` what
    contradicts itself in the target's clock (target_timer.TickSpan)."""

    start_ns: int
    end_ns: int
    ticks: int | None = None
    freq: int | None = None
    begin: str = ""  # what opened and closed it, for messages
    end: str = ""
    start_after_ns: int | None = None
    then: str = ""  # the phase from its end to the hand-off line, if it ends before it
    fallback: str = ""
    error: str = ""

    @property
    def clock(self) -> str:
        """Whose clock timed it, for every report of the window."""
        if self.ticks is not None:
            return "target timer"
        return f"host stamps (at most {self.host_max_s * 1e3:.1f} ms)"

    @property
    def host_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def host_max_s(self) -> float:
        """The longest the window can have been, given how coarse the stamps are."""
        start = self.start_ns if self.start_after_ns is None else self.start_after_ns
        return (self.end_ns - start) / 1e9

    @property
    def target_s(self) -> float | None:
        return self.ticks / self.freq if self.ticks is not None and self.freq else None


@dataclass(frozen=True)
class Phase:
    name: str
    start_ns: int
    end_ns: int
    target_s: float | None = None

    @property
    def host_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass
class Timeline:
    """Everything learnt from the console, built one line at a time."""

    t0_ns: int
    patterns: Patterns = field(default_factory=Patterns.for_target)
    events: list[Event] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    images: list[ImageLoad] = field(default_factory=list)
    loader_range: tuple[int, int] | None = None
    dtb_range: tuple[int, int] | None = None  # where the loader copied the DTB
    errors: list[str] = field(default_factory=list)

    def feed(self, line: ConsoleLine) -> Event | Record | None:
        rec = parse_record(line.text, line.t_ns)
        if rec is not None:
            self.records.append(rec)
            if rec.kind == "mark" and {"name", "ticks", "freq"} <= rec.fields.keys():
                ticks, freq = _number(rec.fields["ticks"]), _number(rec.fields["freq"])
                if ticks is not None and freq is not None:  # a garbled mark is no mark
                    self.marks.append(Mark(rec.fields["name"], ticks, freq, line.t_ns, rec.fields.get("image")))
            return rec
        hit = self.patterns.match(line.text)
        if hit is None:
            return None
        name, groups = hit
        ev = Event(name, line.t_ns, groups, line.text, line.after_ns)
        self.events.append(ev)
        self._place(ev)
        return ev

    def _place(self, ev: Event) -> None:
        """Attach address lines to what they describe (they look alike)."""
        if ev.name == "image":
            self.images.append(ImageLoad(ev.fields["name"], int(ev.fields["addr"], 16), ev.t_ns))
        elif ev.name in ("paddr", "vaddr"):
            rng = (int(ev.fields["start"], 16), int(ev.fields["end"], 16))
            last = self.events[-2].name if len(self.events) > 1 else ""
            if self.images and last in ("image", "paddr"):
                setattr(self.images[-1], ev.name, rng)
            elif ev.name == "paddr" and last == "loader.banner":
                self.loader_range = rng
            elif ev.name == "paddr" and not self.images and self.loader_range is not None:
                self.dtb_range = rng  # the one range printed between the banner and the images
        elif ev.name == "virt_entry" and self.images:
            self.images[-1].virt_entry = int(ev.fields["entry"], 16)
        elif ev.name in ("loader.error", "uboot.error"):
            self.errors.append(ev.fields.get("text", ev.text))

    # -- queries -------------------------------------------------------------
    def placed_at(self, name: str) -> int | None:
        """Where the loader said it put image `name` (seL4 moves user images)."""
        load = next((i for i in self.images if i.name == name), None)
        if load is None:
            return None
        return load.paddr[0] if load.paddr else load.dest

    def first(self, *names: str) -> Event | None:
        return next((e for e in self.events if e.name in names), None)

    def last(self, *names: str) -> Event | None:
        return next((e for e in reversed(self.events) if e.name in names), None)

    def mark(self, name: str, image: str | None = None, last: bool = False) -> Mark | None:
        found = [m for m in self.marks if m.name == name and (image is None or m.image == image)]
        return (found[-1] if last else found[0]) if found else None

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.kind == kind]

    def one(self, kind: str, **match: str) -> Record | None:
        return next(
            (r for r in self.records if r.kind == kind and all(r.fields.get(k) == v for k, v in match.items())), None
        )

    @property
    def mode(self) -> Record | None:
        return self.one("mode")

    @property
    def handoff(self) -> Event | None:
        return self.first("handoff")

    def kernel_end(self) -> Event | Record | None:
        """The kernel's last word in a boot: the probe's verdict or seL4's closing lines."""
        verdict = self.verdict
        return verdict or self.last("workload.verdict", "kernel.success", "kernel.failure", "kernel.userspace")

    @property
    def verdict(self) -> Record | None:
        return next((r for r in self.records if r.kind == "probe" and r.words[:1] == ("verdict",)), None)

    def unpack_window(self) -> UnpackWindow | None:
        begin, end = self.mark("unpack.begin"), self.mark("unpack.end", last=True)
        if begin and end:
            return UnpackWindow(
                begin.t_ns,
                end.t_ns,
                end.ticks - begin.ticks,
                begin.freq,
                "@h mark unpack.begin",
                "@h mark unpack.end",
                then="verify+handoff",
            )
        timed = self.early_mmu_window()
        if timed is not None and timed.ticks is not None:
            return timed
        # seL4's loader (the seed's definition): the first `ELF-loading image` line to
        # `Enabling (hypervisor) MMU and paging` (two-line form) or the one-line
        # `Enabling (hypervisor) MMU and jumping to entry point...` (or our loader's
        # CONSOLE=sel4 `Jumping to kernel-image entry point...`).
        return self._host_window(self.first("image"), timed)

    def early_mmu_window(self) -> UnpackWindow | None:
        """The early-MMU loader's window by its own timer: `Early MMU: caches on ...` (read
        at the entry to `early_mmu_begin`) to `Early MMU: cleaned ...` (the MMU and caches
        off again). It holds every image's copy, the map's set-up and the close; the stock
        hand-off follows. Without usable ticks the window says why (fallback or error)."""
        on, clean = self.first("earlymmu.on"), self.last("earlymmu.clean")
        if on is None or clean is None:
            return None
        span = tick_span(read_stamp(on.fields.get("timer"), on.text), read_stamp(clean.fields.get("timer"), clean.text))
        return UnpackWindow(
            on.t_ns,
            clean.t_ns,
            span.ticks,
            span.freq,
            on.text,
            clean.text,
            on.after_ns,
            then="handoff" if span.ticks is not None else "",
            fallback=span.fallback,
            error=span.error,
        )

    def _host_window(self, first: Event | None, timed: UnpackWindow | None) -> UnpackWindow | None:
        """From `first` to the hand-off line by host stamps, carrying why the loader's
        own ticks (`timed`) could not be used."""
        handoff = self.first("handoff.mmu", "handoff")
        if first is None or handoff is None:
            return None
        return UnpackWindow(
            first.t_ns,
            handoff.t_ns,
            begin=first.text,
            end=handoff.text,
            start_after_ns=first.after_ns,
            fallback=timed.fallback if timed else "",
            error=timed.error if timed else "",
        )

    def seed_window(self) -> UnpackWindow | None:
        """The seed's measurement: the first USER image's `ELF-loading image` line to the
        hand-off line (the armStone report times 'genode.elf' -> 'Enabling hypervisor MMU').

        The kernel's copy comes before it; the cache model's window is the same one. Where
        the early-MMU loader prints its timer, the window is its tick window (which holds
        every user image's copy, and also the kernel's, the map's set-up and the close: no
        line carries ticks at the first user image); host stamps otherwise.
        """
        timed = self.early_mmu_window()
        if timed is not None and timed.ticks is not None:
            return timed
        user = next((e for e in self.events if e.name == "image" and e.fields.get("name") != "kernel"), None)
        return self._host_window(user, timed)

    def phases(self, power_on_ns: int | None = None) -> list[Phase]:
        """Consecutive phases from power-on to the kernel's last word.

        Each phase runs from its start point to the next point that was seen,
        so a boot that stopped early still gets the phases it went through.
        """
        window = self.unpack_window()
        end = self.kernel_end()

        def at(*names: str) -> int | None:
            ev = self.first(*names)
            return ev.t_ns if ev else None

        def noted(name: str, step: str) -> int | None:
            ev = next((e for e in self.events if e.name == name and e.fields.get("step") == step), None)
            return ev.t_ns if ev else None

        # U-Boot: banner -> prompt (resync, set-up commands) -> the load command, from its
        # Enter to the prompt back -> bootm to `Starting kernel`. Without the harness's
        # notes of the commands it typed (a bare log), the load runs from the prompt to
        # `## Booting kernel`.
        if any(e.name == "uboot.command" for e in self.events):
            uboot = [
                ("setup", at("uboot.prompt")),
                ("load", noted("uboot.command", "load")),
                (
                    "bootm",
                    _first_known(noted("uboot.returned", "load"), noted("uboot.command", "boot"), at("uboot.booting")),
                ),
            ]
        else:
            uboot = [("load", at("uboot.prompt")), ("bootm", at("uboot.booting"))]
        starts: list[tuple[str, int | None]] = [
            ("firmware", power_on_ns if power_on_ns is not None else self.t0_ns),
            ("u-boot", at("uboot.banner")),
            *uboot,
            ("start", at("uboot.starting")),
            ("loader", at("loader.banner")),
            ("unpack", window.start_ns if window else None),
            # seL4's stock loader hands off right after its last copy: no such phase.
            (window.then if window and window.then else "handoff", window.end_ns if window and window.then else None),
            ("kernel", at("handoff.mmu", "handoff")),
            ("", end.t_ns if end else None),
        ]
        known = [(n, t) for n, t in starts if t is not None]
        return [
            Phase(name, start, stop, window.target_s if name == "unpack" and window else None)
            for (name, start), (_, stop) in zip(known, known[1:])
        ]

    def transfer(self) -> Transfer | None:
        """The image load at the U-Boot prompt (transfer.py), None without one."""
        return read_transfer(self.events)

    def uboot_load(self) -> dict[str, Any] | None:
        """The image load as result.json keeps it: bytes, the load command's seconds, the
        TFTP span, U-Boot's own seconds and rate, the TFTP settings sent."""
        t = self.transfer()
        return t.to_json() if t is not None else None

    def to_json(self) -> dict[str, Any]:
        w = self.unpack_window()
        return {
            "mode": dict(self.mode.fields) if self.mode else None,
            "events": [{"name": e.name, "t": (e.t_ns - self.t0_ns) / 1e9, "text": e.text} for e in self.events],
            "marks": [
                {"name": m.name, "image": m.image, "ticks": m.ticks, "freq": m.freq, "t": (m.t_ns - self.t0_ns) / 1e9}
                for m in self.marks
            ],
            "images": [
                {"name": i.name, "dest": i.dest, "paddr": i.paddr, "vaddr": i.vaddr, "virt_entry": i.virt_entry}
                for i in self.images
            ],
            "unpack_window": None
            if w is None
            else {
                "host_s": w.host_s,
                "host_max_s": w.host_max_s,
                "target_s": w.target_s,
                "ticks": w.ticks,
                "freq": w.freq,
                "clock": w.clock,
                **({"fallback": w.fallback} if w.fallback else {}),
                **({"error": w.error} if w.error else {}),
            },
            "phases": [{"name": p.name, "host_s": p.host_s, "target_s": p.target_s} for p in self.phases()],
            "errors": self.errors,
            "uboot": self.uboot_load(),
        }

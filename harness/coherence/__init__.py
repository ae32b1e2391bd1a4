"""Cache-coherence model for QEMU runs: build, QEMU arguments and report.

QEMU models no caches, so a boot loader that forgets a clean or an invalidate
works under emulation and fails on a board.  The TCG plugin in ``plugin/``
keeps a line-granular model of the data and instruction caches, reports the
hazards it sees and counts accesses for the timing model.  This module builds
the plugin, forms its ``-plugin`` argument and reads its JSON report.

Plugin arguments (``-plugin file=libcachemodel.so,key=value,...``)::

    out=PATH  ram=BASE:SIZE (hex)  begin_pc=0xADDR  begin_hit=N
    end_pc=0xADDR (repeatable)  handoff_pc=0xADDR  pause=0xA:0xB
    expect_handoff=mmu-off|sel4|any  handoff_el=N
    dest=S:E (repeatable)  source=S:E  loader=S:E  stack=S:E   (hex, [S, E))
    line=64  l1=32K:4  l2=512K:16 (l2=0: none)  ranges_only=1 (0 adds
    "line_addrs" per hazard)

Window and contract.  Counting runs from the ``begin_hit``-th execution of
``begin_pc`` to the first ``end_pc`` reached (or the hand-off); hazards are
tracked on to the hand-off regardless.  The hand-off contract says what the
kernel must be given: ``mmu-off`` (our reference loader: M, C, I clear at the
physical entry), ``sel4`` (seL4's loader enters the kernel at its virtual entry
with M and C set, at ``handoff_el`` if given; lines dirty at the hand-off are
then coherent, not a hazard, because the caches stay on), ``any`` (no state).
Dirty-at-disable, partial clean and the rest are hazards under every contract.

Report (written at handoff_pc, and at exit if the handoff never came)::

    {"version": 1, "line_size": 64, "complete": bool, "handoff_seen": bool,
     "sctlr_at_handoff": "0x.."|null, "el_at_handoff": N|null, "vcpus": N,
     "ram": [start, end],
     "hazards": [{"kind": K, "pc": "0x..", "count": N,
                  "ranges": [[start, end_exclusive], ...], "lines": N,
                  ("sctlr": "0x..", "el": N  -- handoff-state only)}],
     "counts": {"insns": N, "ifetch_cacheable": N, "ifetch_uncached": N,
                "loads":  {"cacheable": {"1": N, "2", "4", "8", "16"},
                           "uncached": {...}},
                "stores": {...same...},
                "cmo": {"dc_cvac": N, "dc_civac", "dc_ivac", "dc_cvap",
                        "dc_cvadp", "dc_cvau", "dc_csw", "dc_cisw", "dc_isw",
                        "dc_zva", "ic_iallu", "ic_ialluis", "ic_ivau", "tlbi"},
                "by_target": {T: {"loads": {...as above}, "stores": {...},
                                  "ranges": [[start, end_exclusive], ...]}}},
     "expect_handoff": "mmu-off"|"sel4"|"any",
     "window": {"begin_seen": bool, "begin_hit": N, "end_seen": bool,
                "end_pcs": ["0x.."], "begin_pc": "0x.."|null,
                "handoff_pc": "0x.."|null},
     "geometry": {...}, "api": {...}}

Counts cover only the window [begin, end).  Access sizes are QEMU's: an
ldp/stp of two X registers is one 16-byte access.  ``by_target`` splits the
same accesses by where they went, T in ``TARGETS``: ``source`` (the archive),
``stack`` (the loader's stack), ``loader`` (the rest of its own image),
``dest`` (the given dest ranges, or RAM outside the loader when none are
given), ``other`` (MMIO, RAM outside the dest ranges).  Fields added after
version 1 first shipped (``by_target``, ``expect_handoff``, ``begin_hit``,
``end_seen``, ``end_pcs``) are optional when reading.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

__all__ = [
    "CONTRACTS",
    "HAZARD_KINDS",
    "TARGETS",
    "AccessCounts",
    "CoherenceReport",
    "Counts",
    "Hazard",
    "PluginBuildError",
    "ReportError",
    "TargetCounts",
    "plugin_args",
    "plugin_path",
]

PLUGIN_SOURCE_DIR = Path(__file__).resolve().parent / "plugin"
REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch-qemu-plugin-header.sh"
LIBRARY_NAME = "libcachemodel.so"

#: Every kind the plugin can report, in its order.
HAZARD_KINDS: tuple[str, ...] = (
    "dirty-at-disable",
    "partial-clean",
    "dirty-at-handoff",
    "stale-icache",
    "stale-clean-line",
    "store-after-clean",
    "device-normal",
    "handoff-state",
    "discarded-dirty",
)

ACCESS_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16)

#: Hand-off contracts the plugin checks (see the module docstring).
CONTRACTS: tuple[str, ...] = ("mmu-off", "sel4", "any")

#: Where the window's accesses went, most specific first (plugin order).
TARGETS: tuple[str, ...] = ("source", "stack", "loader", "dest", "other")


class PluginBuildError(RuntimeError):
    """The plugin could not be built; the message names the missing piece."""


class ReportError(ValueError):
    """A report file is missing, unreadable or lacks a required field."""


# --------------------------------------------------------------------- build


def _installed_qemu_version() -> str | None:
    """The Debian version of qemu-system-arm, which the header must match."""
    if shutil.which("dpkg-query") is None:
        return None
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "qemu-system-arm"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    return proc.stdout.strip() or None


def _missing_prerequisite() -> str | None:
    """Name the first missing build prerequisite, so errors say what to install."""
    for tool, package in (("make", "make"), ("gcc", "gcc"), ("pkg-config", "pkg-config")):
        if shutil.which(tool) is None:
            return f"{tool} is missing (apt-get install {package})"
    glib = subprocess.run(
        ["pkg-config", "--exists", "glib-2.0"], capture_output=True, check=False
    )
    if glib.returncode != 0:
        return "glib-2.0 development files are missing (apt-get install libglib2.0-dev)"
    if _installed_qemu_version() is None:
        return (
            "qemu-system-arm is not installed (the plugin header is fetched for "
            "its exact version; run scripts/setup.sh)"
        )
    if not FETCH_SCRIPT.is_file():
        return f"{FETCH_SCRIPT} is missing"
    return None


def _up_to_date(build_dir: Path) -> bool:
    """True when the library is newer than its sources and matches the QEMU."""
    lib = build_dir / LIBRARY_NAME
    stamp = build_dir / "include" / "qemu-plugin.h.version"
    if not lib.is_file() or not stamp.is_file():
        return False
    sources = [PLUGIN_SOURCE_DIR / "cachemodel.c", PLUGIN_SOURCE_DIR / "Makefile"]
    newest = max(p.stat().st_mtime for p in sources if p.exists())
    if lib.stat().st_mtime < newest:
        return False
    return stamp.read_text().strip() == (_installed_qemu_version() or "")


def plugin_path(build_dir: Path) -> Path:
    """Return the built plugin under ``build_dir``, building it first if needed.

    The build fetches ``qemu-plugin.h`` for the installed QEMU (no Debian
    binary package ships it), so it may need root and the Debian mirror once.
    Raises PluginBuildError naming the missing piece.
    """
    build_dir = Path(build_dir).resolve()
    lib = build_dir / LIBRARY_NAME
    if _up_to_date(build_dir):
        return lib
    missing = _missing_prerequisite()
    if missing is not None:
        raise PluginBuildError(f"cannot build the cache-model plugin: {missing}")
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".cachemodel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent builders wait for one build
        proc = subprocess.run(
            ["make", "-C", str(PLUGIN_SOURCE_DIR), f"OUT={build_dir}"],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        err = (proc.stderr or proc.stdout).strip()
        tail = "\n".join(err.splitlines()[-15:])
        if "fetch-qemu-plugin-header" in err:
            raise PluginBuildError(f"qemu-plugin.h header fetch failed:\n{tail}")
        raise PluginBuildError(f"compiling the cache-model plugin failed:\n{tail}")
    if not lib.is_file():
        raise PluginBuildError(f"make succeeded but {lib} is missing")
    return lib


# ----------------------------------------------------------------- arguments


def _qemu_opt_escape(value: str) -> str:
    """QEMU option values double their commas."""
    return value.replace(",", ",,")


def plugin_args(
    plugin: Path,
    out: Path,
    ram: tuple[int, int],
    begin_pc: int | None,
    handoff_pc: int | None,
    *,
    expect_handoff: str = "mmu-off",
    line: int | None = None,
    l1: str | None = None,
    l2: str | None = None,
    pause: tuple[int, int] | None = None,
    begin_hit: int = 1,
    end_pcs: Sequence[int] = (),
    handoff_el: int | None = None,
    targets: Mapping[str, Sequence[tuple[int, int]]] | None = None,
) -> list[str]:
    """The QEMU arguments that load the plugin (``["-plugin", "file=...,k=v"]``).

    ``ram`` is (base, size) of DRAM; everything else is not tracked.
    ``begin_pc``/``handoff_pc`` bound the counting window; at ``handoff_pc``
    the handoff checks run and the report is written, because the harness may
    kill QEMU once the guest idles.  ``l1``/``l2`` are set/way geometries such
    as ``"32K:4"`` (``"0"`` for no L2). ``pause`` is (pause_pc, resume_pc): a
    stretch inside the window left out of the counts (the loader's self-check).
    ``begin_hit``: the window opens at the Nth execution of ``begin_pc``;
    ``end_pcs``: the first of them reached closes it before the hand-off.
    ``expect_handoff`` is a contract in CONTRACTS; ``handoff_el`` the EL the
    sel4 contract wants. ``targets`` maps "dest"/"source"/"loader"/"stack" to
    physical [start, end) ranges for the per-target split of the counts.
    """
    base, size = ram
    if size <= 0 or base < 0:
        raise ValueError(f"bad RAM range {ram!r}")
    if expect_handoff not in CONTRACTS:
        raise ValueError(f"expect_handoff must be one of {', '.join(CONTRACTS)}, "
                         f"not {expect_handoff!r}")
    if begin_hit < 1:
        raise ValueError(f"begin_hit must be >= 1, not {begin_hit}")
    opts = [
        f"file={_qemu_opt_escape(str(Path(plugin).resolve()))}",
        f"out={_qemu_opt_escape(str(Path(out).resolve()))}",
        f"ram={base:#x}:{size:#x}",
        f"expect_handoff={expect_handoff}",
    ]
    if begin_pc is not None:
        opts.append(f"begin_pc={begin_pc:#x}")
    if handoff_pc is not None:
        opts.append(f"handoff_pc={handoff_pc:#x}")
    if pause is not None:
        opts.append(f"pause={pause[0]:#x}:{pause[1]:#x}")
    if line is not None:
        opts.append(f"line={line}")
    if l1 is not None:
        opts.append(f"l1={l1}")
    if l2 is not None:
        opts.append(f"l2={l2}")
    opts += _window_opts(begin_hit, end_pcs, handoff_el, targets or {})
    return ["-plugin", ",".join(opts)]


def _window_opts(begin_hit: int, end_pcs: Sequence[int], handoff_el: int | None,
                 targets: Mapping[str, Sequence[tuple[int, int]]]) -> list[str]:
    """The options added for real loaders; none of them when unused, so the
    reference loader's command line stays as it was."""
    opts = [f"begin_hit={begin_hit}"] if begin_hit != 1 else []
    if len(end_pcs) > 4:
        raise ValueError("at most 4 end PCs")
    opts += [f"end_pc={pc:#x}" for pc in end_pcs]
    if handoff_el is not None:
        opts.append(f"handoff_el={handoff_el}")
    for kind, spans in targets.items():
        if kind not in ("dest", "source", "loader", "stack"):
            raise ValueError(f"unknown target class {kind!r}")
        if len(spans) > 16:
            raise ValueError(f"too many {kind} ranges")
        opts += [f"{kind}={s:#x}:{e:#x}" for s, e in spans if s < e]
    return opts


# -------------------------------------------------------------------- report


@dataclass(frozen=True)
class Hazard:
    """One hazard: a kind at one PC, with the physical lines it concerns.

    ``ranges`` are coalesced [start, end) physical ranges; ``count`` is how
    many times it happened.  ``sctlr``/``el`` are set for handoff-state only.
    """

    kind: str
    ranges: tuple[tuple[int, int], ...]
    lines: int
    pc: int
    count: int
    sctlr: int | None = None
    el: int | None = None

    def clipped(self, spans: Iterable[tuple[int, int]], line_size: int) -> Hazard | None:
        """This hazard restricted to ``spans`` (e.g. executable segments).

        Used to keep only what concerns an image: stale-icache reports every
        line written since the last I-cache invalidate, code or data.
        Returns None when nothing is left.
        """
        out: list[tuple[int, int]] = []
        for s, e in self.ranges:
            for a, b in spans:
                lo, hi = max(s, a), min(e, b)
                if lo < hi:
                    out.append((lo, hi))
        if not out:
            return None
        out.sort()
        merged: list[tuple[int, int]] = [out[0]]
        for s, e in out[1:]:
            if s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        mask = line_size - 1
        lines = sum(((e + mask) & ~mask) - (s & ~mask) for s, e in merged) // line_size
        return Hazard(self.kind, tuple(merged), lines, self.pc, self.count, self.sctlr, self.el)


@dataclass(frozen=True)
class AccessCounts:
    """Data accesses by size in bytes, split by cacheability."""

    cacheable: Mapping[int, int]
    uncached: Mapping[int, int]

    def total(self) -> int:
        """All accesses, both kinds, every size."""
        return sum(self.cacheable.values()) + sum(self.uncached.values())


@dataclass(frozen=True)
class TargetCounts:
    """The window's data accesses to one target class (dest, source, stack...)."""

    loads: AccessCounts
    stores: AccessCounts
    ranges: tuple[tuple[int, int], ...] = ()

    def total(self) -> int:
        return self.loads.total() + self.stores.total()


@dataclass(frozen=True)
class Counts:
    """What the guest did inside the counting window, for the timing model.

    ``by_target`` is empty for reports from before the per-target split.
    """

    insns: int
    ifetch_cacheable: int
    ifetch_uncached: int
    loads: AccessCounts
    stores: AccessCounts
    cmo: Mapping[str, int]
    by_target: Mapping[str, TargetCounts] = field(default_factory=dict)


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Fetch a required field with its type, or raise ReportError naming it."""
    if key not in obj:
        raise ReportError(f"{where}: missing field '{key}'")
    value = obj[key]
    if isinstance(value, bool) and kind is int:
        raise ReportError(f"{where}: field '{key}' is not {kind.__name__}")
    if not isinstance(value, kind):
        raise ReportError(f"{where}: field '{key}' has the wrong type ({type(value).__name__})")
    return value


def _hex_or_none(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReportError(f"{where}: field '{key}' is not a hex string")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise ReportError(f"{where}: field '{key}' is not a hex string") from exc


def _access_counts(obj: Mapping[str, Any], where: str) -> AccessCounts:
    parts: dict[str, dict[int, int]] = {}
    for part in ("cacheable", "uncached"):
        sizes = _field(obj, part, dict, where)
        parts[part] = {
            size: _field(sizes, str(size), int, f"{where}.{part}") for size in ACCESS_SIZES
        }
    return AccessCounts(parts["cacheable"], parts["uncached"])


def _by_target(c: Mapping[str, Any], where: str) -> dict[str, TargetCounts]:
    """The optional per-target split (absent in older reports)."""
    raw = c.get("by_target")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ReportError(f"{where}: field 'by_target' is not an object")
    out: dict[str, TargetCounts] = {}
    for name, t in raw.items():
        tw = f"{where}.by_target.{name}"
        if not isinstance(t, dict):
            raise ReportError(f"{tw}: not an object")
        ranges = tuple((int(r[0]), int(r[1])) for r in t.get("ranges", []))
        out[name] = TargetCounts(_access_counts(_field(t, "loads", dict, tw), f"{tw}.loads"),
                                 _access_counts(_field(t, "stores", dict, tw), f"{tw}.stores"),
                                 ranges)
    return out


@dataclass(frozen=True)
class CoherenceReport:
    """The plugin's JSON report, validated.

    ``complete`` is true when the counting window ended (handoff seen, or no
    handoff PC was given and QEMU exited); a report that is not complete
    stopped before the kernel entry.
    """

    version: int
    line_size: int
    complete: bool
    handoff_seen: bool
    sctlr_at_handoff: int | None
    el_at_handoff: int | None
    hazards: tuple[Hazard, ...]
    counts: Counts
    begin_seen: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    end_seen: bool = False
    expect_handoff: str = "mmu-off"

    @property
    def handoff_pc(self) -> int | None:
        """The kernel entry the model watched for (from the report's window)."""
        pc = ((getattr(self, "raw", None) or {}).get("window") or {}).get("handoff_pc")
        return int(pc, 16) if isinstance(pc, str) else None

    @classmethod
    def load(cls, path: Path) -> CoherenceReport:
        """Read and validate a report; raises ReportError on anything missing."""
        where = str(path)
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise ReportError(f"{where}: no report (did QEMU load the plugin?)") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise ReportError(f"{where}: unreadable report: {exc}") from exc
        if not isinstance(data, dict):
            raise ReportError(f"{where}: not a JSON object")
        version = _field(data, "version", int, where)
        if version != 1:
            raise ReportError(f"{where}: unsupported report version {version}")
        hazards = []
        for i, h in enumerate(_field(data, "hazards", list, where)):
            hw = f"{where}: hazards[{i}]"
            if not isinstance(h, dict):
                raise ReportError(f"{hw}: not an object")
            kind = _field(h, "kind", str, hw)
            if kind not in HAZARD_KINDS:
                raise ReportError(f"{hw}: unknown kind '{kind}'")
            ranges = []
            for r in _field(h, "ranges", list, hw):
                if (
                    not isinstance(r, list)
                    or len(r) != 2
                    or not all(isinstance(x, int) and not isinstance(x, bool) for x in r)
                ):
                    raise ReportError(f"{hw}: bad range {r!r}")
                ranges.append((r[0], r[1]))
            pc = _hex_or_none(_field(h, "pc", str, hw), "pc", hw)
            assert pc is not None
            hazards.append(
                Hazard(
                    kind=kind,
                    ranges=tuple(ranges),
                    lines=_field(h, "lines", int, hw),
                    pc=pc,
                    count=_field(h, "count", int, hw),
                    sctlr=_hex_or_none(h.get("sctlr"), "sctlr", hw),
                    el=h.get("el") if isinstance(h.get("el"), int) else None,
                )
            )
        c = _field(data, "counts", dict, where)
        cw = f"{where}: counts"
        cmo = _field(c, "cmo", dict, cw)
        counts = Counts(
            insns=_field(c, "insns", int, cw),
            ifetch_cacheable=_field(c, "ifetch_cacheable", int, cw),
            ifetch_uncached=_field(c, "ifetch_uncached", int, cw),
            loads=_access_counts(_field(c, "loads", dict, cw), f"{cw}.loads"),
            stores=_access_counts(_field(c, "stores", dict, cw), f"{cw}.stores"),
            cmo={k: _field(cmo, k, int, f"{cw}.cmo") for k in cmo},
            by_target=_by_target(c, cw),
        )
        window = _field(data, "window", dict, where)
        if "el_at_handoff" not in data or "sctlr_at_handoff" not in data:
            raise ReportError(f"{where}: missing field 'el_at_handoff' or 'sctlr_at_handoff'")
        el = data["el_at_handoff"]
        if el is not None and (not isinstance(el, int) or isinstance(el, bool)):
            raise ReportError(f"{where}: field 'el_at_handoff' is not an int")
        return cls(
            version=version,
            line_size=_field(data, "line_size", int, where),
            complete=_field(data, "complete", bool, where),
            handoff_seen=_field(data, "handoff_seen", bool, where),
            sctlr_at_handoff=_hex_or_none(data["sctlr_at_handoff"], "sctlr_at_handoff", where),
            el_at_handoff=el,
            hazards=tuple(hazards),
            counts=counts,
            begin_seen=_field(window, "begin_seen", bool, f"{where}: window"),
            raw=data,
            end_seen=bool(window.get("end_seen", False)),
            expect_handoff=str(data.get("expect_handoff", "mmu-off")),
        )

    def hazards_of(self, kind: str) -> list[Hazard]:
        """All hazards of one kind (one per PC), in PC order."""
        if kind not in HAZARD_KINDS:
            raise ValueError(f"unknown hazard kind {kind!r}; known: {', '.join(HAZARD_KINDS)}")
        return [h for h in self.hazards if h.kind == kind]

    def kinds(self) -> set[str]:
        """The hazard kinds present in the report."""
        return {h.kind for h in self.hazards}

    def ranges_of(self, kind: str) -> list[tuple[int, int]]:
        """The union of one kind's ranges over all its PCs, coalesced."""
        spans = sorted(r for h in self.hazards_of(kind) for r in h.ranges)
        merged: list[tuple[int, int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        return merged


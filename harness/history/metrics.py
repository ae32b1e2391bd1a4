"""The figures of one boot, flattened: name, value, unit and how to judge a change.

Two kinds, because they are compared differently (harness/history/compare.py):
- "exact": deterministic for a given image, target and harness -- byte counts,
  the cache model's instruction and access counts, modeled board time (a
  function of those counts). Any change is news. The counts are exact because
  modeled boots run on QEMU's instruction-count clock (harness.qemu.command.
  instruction_clock): with the host's clock a loaded host moved them by a few
  instructions (the loader prints timer values inside the counted window).
- "noisy": measured on a shared machine or a board -- host-stamped phase times,
  the unpack window in host and target time. Judged against the baseline's spread.

For every figure here a smaller value is the better one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

EXACT, NOISY = "exact", "noisy"


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str
    kind: str  # EXACT | NOISY


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _band(prefix: str, band: object) -> list[Metric]:
    """A modeled band's two ends, PREFIX_low_s and PREFIX_high_s (none if malformed)."""
    if isinstance(band, list) and len(band) == 2 and all(_num(v) for v in band):
        return [Metric(f"{prefix}_low_s", band[0], "s", EXACT), Metric(f"{prefix}_high_s", band[1], "s", EXACT)]
    return []


def _access_counts(prefix: str, acc: dict[str, Any]) -> Iterator[Metric]:
    """Accesses by cacheability and size (sizes summed: the size mix is in the report)."""
    for cls in ("cacheable", "uncached"):
        sizes = acc.get(cls) or {}
        total = sum(v for v in sizes.values() if _num(v))
        yield Metric(f"{prefix}.{cls}", total, "accesses", EXACT)


def _coherence(c: dict[str, Any]) -> Iterator[Metric]:
    counts = c.get("counts") or {}
    for key in ("insns", "ifetch_cacheable", "ifetch_uncached"):
        if _num(counts.get(key)):
            yield Metric(f"model.{key}", counts[key], "count", EXACT)
    for kind in ("loads", "stores"):
        if isinstance(counts.get(kind), dict):
            yield from _access_counts(f"model.{kind}", counts[kind])
    for op, n in sorted((counts.get("cmo") or {}).items()):
        if _num(n):
            yield Metric(f"model.cmo.{op}", n, "lines", EXACT)
    for target, tc in sorted((counts.get("by_target") or {}).items()):
        for kind in ("loads", "stores"):
            if isinstance(tc.get(kind), dict):
                yield from _access_counts(f"model.{target}.{kind}", tc[kind])
    yield Metric("model.hazards", len(c.get("hazards") or []), "kinds", EXACT)


def metrics(doc: dict[str, Any]) -> list[Metric]:
    """Every figure of a result document (schema 1 or 2)."""
    out: list[Metric] = []
    payload = doc.get("payload") or {}
    for key in ("archive_bytes", "unpacked_bytes"):
        if _num(payload.get(key)):
            out.append(Metric(f"image.{key}", payload[key], "bytes", EXACT))
    tl = doc.get("timeline") or {}
    for span in doc.get("spans") or tl.get("phases") or []:
        name = span.get("name")
        if name and _num(span.get("host_s")):
            out.append(Metric(f"phase.{name.replace(' ', ':')}.host_s", span["host_s"], "s", NOISY))
    w = tl.get("unpack_window") or {}
    if _num(w.get("host_s")):
        out.append(Metric("unpack.host_s", w["host_s"], "s", NOISY))
    if _num(w.get("target_s")):
        out.append(Metric("unpack.target_s", w["target_s"], "s", NOISY))
    if _num(w.get("ticks")):
        out.append(Metric("unpack.ticks", w["ticks"], "ticks", NOISY))
    uboot = tl.get("uboot") or {}
    if _num(uboot.get("bytes")):
        out.append(Metric("uboot.load_bytes", uboot["bytes"], "bytes", EXACT))
    # the load: the command from its Enter to the prompt back, and by U-Boot's own timer
    if _num(uboot.get("command_s")):
        out.append(Metric("uboot.load_s", uboot["command_s"], "s", NOISY))
    if _num(uboot.get("uboot_s")):
        out.append(Metric("uboot.load_uboot_s", uboot["uboot_s"], "s", NOISY))
    if _num(uboot.get("tftp_s")):
        out.append(Metric("uboot.tftp_s", uboot["tftp_s"], "s", NOISY))
    load = doc.get("modeled_load") or {}
    if _num(load.get("total_s")):
        out.append(Metric("modeled.load_s", load["total_s"], "s", EXACT))
        out += _band("modeled.load_band", load.get("band_s"))
    modeled = doc.get("modeled") or {}
    if _num(modeled.get("total_s")):
        out.append(Metric("modeled.total_s", modeled["total_s"], "s", EXACT))
        out += _band("modeled.band", modeled.get("band_s"))
        for part, v in sorted((modeled.get("parts") or {}).items()):
            if _num(v):
                out.append(Metric(f"modeled.{part.replace(' ', '_')}_s", v, "s", EXACT))
    if isinstance(doc.get("coherence"), dict):
        out.extend(_coherence(doc["coherence"]))
    seen: set[str] = set()
    unique = []
    for m in out:  # a span named like a phase twice: keep the first
        if m.name not in seen:
            seen.add(m.name)
            unique.append(m)
    return unique

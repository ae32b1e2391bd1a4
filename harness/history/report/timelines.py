"""The report's timelines section: a timeline per boot of the newest run, where
its time went phase by phase (host clock) and by the target's timer.

Why a module of its own: it is the one section about single boots, and the one
that reads result.json (the target timer's marks are not in the database).
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import plots
from ..db import Boot, History
from .markup import esc
from .runs import Documents, RunWindow

#: Boots of the newest run that get a timeline.
MAX_TIMELINES = 40


def timelines_section(h: History, window: RunWindow, docs: Documents, figs: plots.Deferred) -> str:
    """A timeline per boot of the newest run (capped), with anchors to jump between them."""
    run_id = window.runs[0][0]
    boots = sorted(window.boots[run_id], key=lambda b: (b.ok, b.series))  # failed ones first
    drawn = boots[:MAX_TIMELINES]
    links = " ".join(f'<a class="{"pass" if b.ok else "fail"}" href="#boot-{b.id}">{esc(b.series)}</a>' for b in drawn)
    parts = [
        f"<p>Run <b>{esc(run_id)}</b>, {len(boots)} boot(s). Bars: each phase by the host's "
        "clock (console stamps), images nested under the unpack; hatched: intervals between "
        "the target timer's marks.</p>",
        f"<nav class=boots>{links}</nav>",
    ]
    if len(boots) > len(drawn):
        parts.append(f"<p class=note>{len(boots) - len(drawn)} more boot(s) not drawn (at most {MAX_TIMELINES}).</p>")
    for b in drawn:
        bars = timeline_bars(h.spans_of(b.id), docs.of(b))
        svg = (
            figs.add(plots.timeline_svg, f"{b.series}  ({b.boot_id})", bars, f"boot-{b.id}")
            if bars
            else "<p>(no spans recorded)</p>"
        )
        parts.append(
            f'<figure class=timeline id="boot-{b.id}" data-series="{esc(b.series)}">{svg}'
            f"<figcaption>{esc(b.series)}: {esc(_verdict(b))}</figcaption></figure>"
        )
    return "\n".join(parts)


def _verdict(b: Boot) -> str:
    """'passed', or 'failed' with the first line of why."""
    if b.ok:
        return "passed"
    why = (b.failure or b.failure_kind or "").strip()
    return f"failed: {why.splitlines()[0][:300]}" if why else "failed"


def timeline_bars(
    spans: Sequence[tuple[str, float, float, float | None, str | None]], doc: dict[str, Any] | None
) -> list[plots.Bar]:
    """Rows in boot order: top-level phases, each followed by its nested spans (the
    images of the unpack), then the target timer's intervals when the result says them."""
    top = [s for s in spans if s[4] is None and s[1] is not None]
    bars: list[plots.Bar] = []
    for name, start, host_s, target_s, _ in top:
        note = f"(target timer {plots.fmt_value(target_s, 's')})" if target_s is not None else ""
        bars.append(plots.Bar(name, start, host_s or 0.0, plots.PHASE_COLOURS.get(name, "#78909c"), note))
        for child, c_start, c_host, _, parent in spans:
            if parent == name and c_start is not None:
                bars.append(plots.Bar(f"  \u21b3 {child}", c_start, c_host or 0.0, plots.PHASE_COLOURS["image"]))
    return bars + target_bars(doc)


def target_bars(doc: dict[str, Any] | None) -> list[plots.Bar]:
    """The target timer's marks (ticks / freq) as intervals between consecutive marks:
    on QEMU and boards alike the only clock that is not the console's arrival time."""
    marks = [
        m
        for m in ((doc or {}).get("timeline") or {}).get("marks") or []
        if isinstance(m.get("ticks"), (int, float)) and m.get("freq")
    ]
    marks.sort(key=lambda m: m["ticks"])
    bars = []
    for a, b in zip(marks, marks[1:]):
        if a["ticks"] == b["ticks"]:  # two marks at one instant: nothing to draw
            continue
        start, stop = a["ticks"] / a["freq"], b["ticks"] / b["freq"]
        label = f"{a['name']} \u2192 {b['name']}"
        if a["name"] == "unpack.begin" and b["name"] == "unpack.end":
            label = f"unpack {a.get('image') or ''}".rstrip()
        bars.append(plots.Bar(f"timer: {label}", start, stop - start, plots.TARGET_COLOUR, target=True))
    return bars

"""What the report reads: the window of runs it draws, their boots and the figures
the page uses (selected and chunked in SQL, never every row), and the boots'
result.json files for the little the database does not hold.

Why a module of its own: the sections share one read of the history, and that read
staying narrow (the last runs only, the drawn figures only, one query per 900
boots) is what keeps a report of 10,000 boots quick (bench/history_scale.py
measures it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from ...errors import HarnessError
from ..compare import Rule
from ..db import Boot, History
from ..metrics import Metric

#: The only figures the page reads (the cache model's dozens of counts stay in the database).
_WANTED = (
    "(name LIKE 'phase.%' OR name LIKE 'modeled.%' OR name IN "
    "('unpack.host_s', 'unpack.target_s', 'uboot.tftp_s', 'image.unpacked_bytes'))"
)


@dataclass
class RunWindow:
    """The newest runs and their boots: runs[:shown] are drawn, the runs after them
    are there only as baseline for judging the oldest drawn points."""

    runs: list[tuple[str, float]]  # (run_id, started), newest first
    shown: int
    boots: dict[str, list[Boot]]  # run id -> its boots, newest first
    metrics: dict[int, dict[str, Metric]]  # boot id -> the figures the page uses

    def shown_boots(self) -> Iterable[Boot]:
        for run_id, _ in self.runs[: self.shown]:
            yield from self.boots[run_id]


def load_window(h: History, last_runs: int, rule: Rule) -> RunWindow:
    """The last `last_runs` runs plus `window + sustain` older ones (the baseline and
    streak of the oldest drawn run), with only the figures the page draws."""
    runs = [
        (r, s)
        for r, s in h.db.execute(
            "SELECT run_id, started FROM runs ORDER BY started DESC, run_id DESC LIMIT ?",
            (last_runs + rule.window + rule.sustain,),
        )
    ]
    boots = {run_id: h.boots(run_id=run_id) for run_id, _ in runs}
    ids = [b.id for bs in boots.values() for b in bs]
    return RunWindow(runs, min(last_runs, len(runs)), boots, _figures(h, ids))


def _figures(h: History, ids: Sequence[int]) -> dict[int, dict[str, Metric]]:
    """The page's figures of `ids` (one query per 900 ids, filtered by name in SQL)."""
    out: dict[int, dict[str, Metric]] = {i: {} for i in ids}
    for start in range(0, len(ids), 900):
        chunk = list(ids[start : start + 900])
        marks = ",".join("?" * len(chunk))
        for boot, name, value, unit, kind in h.db.execute(
            f"SELECT boot, name, value, unit, kind FROM metrics WHERE boot IN ({marks}) AND {_WANTED}", chunk
        ):
            out[boot][name] = Metric(name, value, unit, kind)
    return out


class Documents:
    """The boots' result.json files, read only when the database lacks something
    (the target timer's marks, the timing profile's name) and only for the boots
    shown; a missing or unreadable file is simply absent."""

    def __init__(self) -> None:
        self._docs: dict[str, dict[str, Any] | None] = {}
        self._profiles: dict[tuple[str, str | None], str] = {}

    def of(self, boot: Boot) -> dict[str, Any] | None:
        if not boot.result_path:
            return None
        if boot.result_path not in self._docs:
            try:
                doc = json.loads((Path(boot.result_path) / "result.json").read_text())
                self._docs[boot.result_path] = doc if isinstance(doc, dict) else None
            except (OSError, ValueError):
                self._docs[boot.result_path] = None
        return self._docs[boot.result_path]

    def profile(self, boot: Boot) -> str:
        """The timing profile the boot's modeled time used: from its result.json, else
        from its target file when that file is byte-identical to the one it ran with."""
        key = (boot.target, boot.target_sha256)
        if key not in self._profiles:
            self._profiles[key] = self._profile_of(boot)
        return self._profiles[key]

    def _profile_of(self, boot: Boot) -> str:
        doc = self.of(boot) or {}
        name = ((doc.get("modeled") or {}).get("profile") or {}).get("name") or (doc.get("target_file") or {}).get(
            "timing_profile"
        )
        if name:
            return str(name)
        from ...targets import load, resolve
        from ..document import sha256_of

        try:
            path = resolve(boot.target)
            if boot.target_sha256 is None or sha256_of(path) == boot.target_sha256:
                return load(boot.target).timing_profile or "unknown"
        except HarnessError:
            pass
        return "unknown"

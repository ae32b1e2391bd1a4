"""The results history: every boot's figures in one SQLite file, night after night.

Why SQLite: one file a CI job can keep as an artifact or share on a runner,
queried with SQL by anyone, safe for parallel writers (WAL and a busy
timeout: jobs on the same runner append at once). The schema is versioned
with `PRAGMA user_version`; an older file is migrated in place, a newer one
is refused with the fix.

A boot's *series* is what makes two boots comparable across nights: target,
image, loader mode and the options that change what is measured (cache model,
out-of-band verification, where the boot stops).
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..errors import HarnessError
from .metrics import Metric, metrics

VERSION = 1
DEFAULT_NAME = "history.sqlite"
ENV = "HARNESS_HISTORY"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY, started REAL NOT NULL, label TEXT,
  harness TEXT, qemu TEXT, host TEXT);
CREATE TABLE IF NOT EXISTS boots (
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), boot_id TEXT NOT NULL,
  started REAL NOT NULL, series TEXT NOT NULL, target TEXT NOT NULL, target_sha256 TEXT,
  image TEXT NOT NULL, image_sha256 TEXT, image_path TEXT, kind TEXT, mode TEXT, contract TEXT,
  options TEXT, ok INTEGER NOT NULL, verdict TEXT, failure TEXT, failure_kind TEXT,
  failure_phase TEXT, uboot TEXT, console_log TEXT, result_path TEXT,
  UNIQUE (run_id, boot_id));
CREATE INDEX IF NOT EXISTS boots_series ON boots(series, started);
CREATE INDEX IF NOT EXISTS boots_started ON boots(started);
CREATE TABLE IF NOT EXISTS metrics (
  boot INTEGER NOT NULL REFERENCES boots(id), name TEXT NOT NULL, value REAL NOT NULL,
  unit TEXT, kind TEXT NOT NULL, PRIMARY KEY (boot, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checks (
  boot INTEGER NOT NULL REFERENCES boots(id), name TEXT NOT NULL, status TEXT NOT NULL,
  message TEXT, PRIMARY KEY (boot, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spans (
  boot INTEGER NOT NULL REFERENCES boots(id), seq INTEGER NOT NULL, name TEXT NOT NULL,
  start_s REAL, host_s REAL, target_s REAL, parent TEXT, PRIMARY KEY (boot, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baselines (
  name TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), created REAL NOT NULL);
"""


def series_key(doc: dict[str, Any]) -> str:
    """target/image/mode[/options]: boots with the same key are comparable."""
    opts = doc.get("options") or {}
    flags = [k for k in ("coherence", "verify") if opts.get(k)]
    if opts.get("until", "verdict") != "verdict":
        flags.append(f"until-{opts['until']}")
    target = doc.get("target") or "?"
    image = (doc.get("payload") or {}).get("name") or doc.get("image") or "?"
    return "/".join([target, image, doc.get("mode") or "?", *flags])


@dataclass(frozen=True)
class Boot:
    """One row of `boots`: enough to list, filter and find the rest."""

    id: int
    run_id: str
    boot_id: str
    started: float
    series: str
    target: str
    target_sha256: str | None
    image: str
    image_sha256: str | None
    mode: str | None
    ok: bool
    verdict: str | None
    failure: str | None
    failure_kind: str | None
    result_path: str | None
    console_log: str | None
    options: str | None = None


_BOOT_COLUMNS = (
    "id, run_id, boot_id, started, series, target, target_sha256, image, image_sha256, "
    "mode, ok, verdict, failure, failure_kind, result_path, console_log, options"
)


def history_path(given: str | None, results: Path) -> Path | None:
    """Where boots are recorded: --history PATH, else $HARNESS_HISTORY, else
    `history.sqlite` in the results folder; 'off' (either way) records nothing."""
    chosen = given or os.environ.get(ENV) or str(results / DEFAULT_NAME)
    return None if chosen == "off" else Path(chosen)


def resolve(given: str | None, results: Path) -> Path:
    """A history named on the command line: a history file, or a results folder holding one."""
    path = history_path(given, results)
    if path is None:
        raise HarnessError("no history: recording is off", field="--history", fix="give a history file")
    if path.is_dir():
        path = path / DEFAULT_NAME
    if not path.is_file():
        raise HarnessError(
            "no history here",
            file=path,
            fix="boot something first, or 'harness history --import RESULTS_DIR' to build one from result folders",
        )
    return path


class History:
    """An open history file. Use as a context manager; every write is one transaction."""

    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        if not create and not path.is_file():
            raise HarnessError(
                "no such history file", file=path, fix="give a results folder or a history.sqlite that a boot wrote"
            )
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
            self.db.execute("PRAGMA busy_timeout = 60000")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise HarnessError(
                f"cannot open the history: {exc}",
                file=path,
                fix="check the file is a history.sqlite and the folder is writable",
            ) from None

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            raise HarnessError(
                f"history schema {version} is newer than this harness knows ({VERSION})",
                file=self.path,
                fix="update the harness, or use another --history",
            )
        if version == VERSION:
            return
        # Two first writers may race here: the lock serialises them and every
        # statement is IF NOT EXISTS, so the second one changes nothing.
        self.db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + f"PRAGMA user_version = {VERSION}; COMMIT;")

    # -- writing -------------------------------------------------------------

    def record(self, doc: dict[str, Any], result_path: Path | None = None) -> int | None:
        """Store one result document; None when this (run, boot) is already there."""
        run, boot = doc.get("run") or {}, doc.get("boot") or {}
        versions = doc.get("versions") or {}
        payload, detail = doc.get("payload") or {}, doc.get("failure_detail") or {}
        verdict = doc.get("verdict") or {}
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "INSERT OR IGNORE INTO runs VALUES (?,?,?,?,?,?)",
                (
                    run.get("id"),
                    run.get("started") or boot.get("started"),
                    run.get("label"),
                    versions.get("harness"),
                    versions.get("qemu"),
                    versions.get("host"),
                ),
            )
            cur = self.db.execute(
                "INSERT OR IGNORE INTO boots (run_id, boot_id, started, series, target, target_sha256, "
                "image, image_sha256, image_path, kind, mode, contract, options, ok, verdict, failure, "
                "failure_kind, failure_phase, uboot, console_log, result_path) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run.get("id"),
                    boot.get("id"),
                    boot.get("started"),
                    series_key(doc),
                    doc.get("target"),
                    (doc.get("target_file") or {}).get("sha256"),
                    payload.get("name") or doc.get("image"),
                    payload.get("sha256"),
                    payload.get("path"),
                    payload.get("kind"),
                    doc.get("mode"),
                    payload.get("contract"),
                    json.dumps(doc.get("options") or {}, sort_keys=True),
                    int(bool(doc.get("ok"))),
                    verdict.get("status"),
                    doc.get("failure"),
                    detail.get("kind"),
                    detail.get("phase"),
                    versions.get("u-boot"),
                    doc.get("console_log"),
                    str(result_path) if result_path else None,
                ),
            )
            if cur.rowcount == 0:
                self.db.execute("COMMIT")
                return None
            rowid = cur.lastrowid
            self.db.executemany(
                "INSERT INTO metrics VALUES (?,?,?,?,?)",
                [(rowid, m.name, m.value, m.unit, m.kind) for m in metrics(doc)],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO checks VALUES (?,?,?,?)",
                [(rowid, c.get("name"), c.get("status"), c.get("message")) for c in doc.get("checks") or []],
            )
            self.db.executemany(
                "INSERT INTO spans VALUES (?,?,?,?,?,?,?)",
                [
                    (rowid, i, s.get("name"), s.get("start_s"), s.get("host_s"), s.get("target_s"), s.get("parent"))
                    for i, s in enumerate(doc.get("spans") or [])
                ],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return rowid

    def set_baseline(self, name: str, run_id: str, created: float) -> None:
        if self.db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            raise HarnessError(
                f"no run '{run_id}' in the history", file=self.path, fix="pick a run id from 'harness history'"
            )
        self.db.execute("INSERT OR REPLACE INTO baselines VALUES (?,?,?)", (name, run_id, created))

    # -- reading -------------------------------------------------------------

    def runs(self) -> list[tuple[str, float, str | None, str | None]]:
        """(run_id, started, label, harness version), newest first."""
        return list(
            self.db.execute("SELECT run_id, started, label, harness FROM runs ORDER BY started DESC, run_id DESC")
        )

    def baseline(self, name: str) -> str:
        row = self.db.execute("SELECT run_id FROM baselines WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(r[0] for r in self.db.execute("SELECT name FROM baselines")) or "none yet"
            raise HarnessError(
                f"no baseline named '{name}' (known: {known})",
                file=self.path,
                fix="name one with 'harness history --set-baseline NAME RUN'",
            )
        return str(row[0])

    def boots(
        self,
        *,
        target: str | None = None,
        image: str | None = None,
        mode: str | None = None,
        run_id: str | None = None,
        series: str | None = None,
        limit: int | None = None,
    ) -> list[Boot]:
        """Boots matching every filter given (substring match on image), newest first."""
        where, args = [], []
        for column, value in (("target", target), ("mode", mode), ("run_id", run_id), ("series", series)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if image is not None:
            where.append("instr(image, ?) > 0")
            args.append(image)
        sql = f"SELECT {_BOOT_COLUMNS} FROM boots" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY started DESC, id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [_boot(row) for row in self.db.execute(sql, args)]

    def metrics_of(self, boot_ids: Sequence[int]) -> dict[int, dict[str, Metric]]:
        out: dict[int, dict[str, Metric]] = {b: {} for b in boot_ids}
        for chunk in _chunks(boot_ids):
            marks = ",".join("?" * len(chunk))
            for boot, name, value, unit, kind in self.db.execute(
                f"SELECT boot, name, value, unit, kind FROM metrics WHERE boot IN ({marks})", chunk
            ):
                out[boot][name] = Metric(name, value, unit, kind)
        return out

    def checks_of(self, boot_ids: Sequence[int]) -> dict[int, dict[str, tuple[str, str]]]:
        out: dict[int, dict[str, tuple[str, str]]] = {b: {} for b in boot_ids}
        for chunk in _chunks(boot_ids):
            marks = ",".join("?" * len(chunk))
            for boot, name, status, message in self.db.execute(
                f"SELECT boot, name, status, message FROM checks WHERE boot IN ({marks})", chunk
            ):
                out[boot][name] = (status, message)
        return out

    def spans_of(self, boot_id: int) -> list[tuple[str, float, float, float | None, str | None]]:
        """(name, start_s, host_s, target_s, parent) in boot order."""
        return list(
            self.db.execute(
                "SELECT name, start_s, host_s, target_s, parent FROM spans WHERE boot = ? ORDER BY seq", (boot_id,)
            )
        )


def _boot(row: Sequence[Any]) -> Boot:
    values = dict(zip((c.strip() for c in _BOOT_COLUMNS.split(",")), row))
    values["ok"] = bool(values["ok"])
    return Boot(**values)


def _chunks(ids: Sequence[int], size: int = 900) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


def import_results(history: History, paths: Iterable[Path]) -> tuple[int, int]:
    """Record every result.json under `paths` not yet in the history: (added, known)."""
    added = known = 0
    for root in paths:
        files = [root] if root.is_file() else sorted(root.rglob("result.json"))
        for f in files:
            try:
                doc = json.loads(f.read_text())
            except (OSError, ValueError) as exc:
                raise HarnessError(f"unreadable result: {exc}", file=f, fix="remove it or rerun the boot") from None
            doc = upgrade(doc, f)
            if history.record(doc, f.parent) is None:
                known += 1
            else:
                added += 1
    return added, known


def upgrade(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """A schema-1 result (no run or boot ids) gets ids from its folders and file time."""
    if doc.get("schema", 1) >= 2:
        return doc
    started = path.stat().st_mtime
    doc = dict(doc)
    doc["run"] = {"id": f"{doc.get('target', '?')}/{path.parent.parent.name}", "started": started}
    doc["boot"] = {"id": path.parent.name, "started": started}
    return doc

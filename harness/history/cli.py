"""`harness history`, `harness compare`, `harness report`: the results history from the shell."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..images.build import ROOT
from .compare import Rule, compare
from .db import History, import_results, resolve

RESULTS = ROOT / "results"
DEFAULT_COLUMNS = ("unpack.host_s", "modeled.total_s")


def _where(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "where",
        nargs="?",
        metavar="RESULTS_DIR|DB",
        help="a results folder (its history.sqlite) or a history file "
        "(default: $HARNESS_HISTORY or results/history.sqlite)",
    )


def add_parsers(sub: Any) -> None:
    h = sub.add_parser("history", help="list recorded boots, newest first; import result folders")
    _where(h)
    h.add_argument("--target")
    h.add_argument("--image", help="substring of the image name")
    h.add_argument("--mode", help="loader mode: mmu-off, early-mmu, fallback")
    h.add_argument("--run", help="only this run id")
    h.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="NAME",
        help=f"add a column (repeatable; default {', '.join(DEFAULT_COLUMNS)}); '--metric list' lists the names",
    )
    h.add_argument("--limit", type=int, default=50)
    h.add_argument("--runs", action="store_true", help="list runs instead of boots")
    h.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="DIR",
        help="record every result.json under DIR not yet in the history",
    )
    h.add_argument(
        "--set-baseline",
        nargs=2,
        metavar=("NAME", "RUN"),
        help="name a run as a baseline for 'harness compare --baseline NAME'",
    )
    c = sub.add_parser("compare", help="a run against a baseline; exit 1 on a regression")
    _where(c)
    c.add_argument("--run", help="the run under test (default: the newest)")
    c.add_argument(
        "--baseline", default="previous", help="previous (default), last:N, or a name set with 'history --set-baseline'"
    )
    rule = Rule()
    c.add_argument("--k", type=float, default=rule.k, help="robust z above which a time is high")
    c.add_argument("--sustain", type=int, default=rule.sustain, help="high runs in a row that make a regression")
    c.add_argument("--min-samples", type=int, default=rule.min_samples)
    c.add_argument("--window", type=int, default=rule.window, help="baseline runs for noisy figures")
    c.add_argument("--verbose", action="store_true", help="also list figures not judged")
    r = sub.add_parser("report", help="one self-contained HTML page: timelines, trends, checks")
    _where(r)
    r.add_argument("-o", "--output", default="report.html")
    r.add_argument("--last", type=int, default=30, help="runs shown in the trends (default 30)")


def _history(args: argparse.Namespace, create: bool = False) -> History:
    if create:
        from .db import history_path

        path = history_path(args.where, RESULTS)
        assert path is not None
        return History(path / "history.sqlite" if path.is_dir() else path)
    return History(resolve(args.where, RESULTS), create=False)


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def cmd_history(args: argparse.Namespace) -> int:
    with _history(args, create=bool(args.imports)) as h:
        for d in args.imports:
            added, known = import_results(h, [Path(d)])
            print(f"{d}: {added} boot(s) added, {known} already recorded")
        if args.set_baseline:
            name, run = args.set_baseline
            h.set_baseline(name, run, time.time())
            print(f"baseline '{name}' = run {run}")
        if args.imports or args.set_baseline:
            return 0
        if args.runs:
            for run_id, started, label, version in h.runs()[: args.limit]:
                print(
                    f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started))}  {run_id}  "
                    f"{label or ''}  {version or ''}"
                )
            return 0
        boots = h.boots(target=args.target, image=args.image, mode=args.mode, run_id=args.run, limit=args.limit)
        metrics = h.metrics_of([b.id for b in boots])
        if args.metric == ["list"]:
            names = sorted({n for per in metrics.values() for n in per})
            print("\n".join(f"{n} ({next(per[n] for per in metrics.values() if n in per).kind})" for n in names))
            return 0
        columns = args.metric or list(DEFAULT_COLUMNS)
        print(
            f"{'started':19}  {'run':22}  {'target':22}  {'image':40}  {'mode':9}  {'result':6}  "
            + "  ".join(f"{c:>16}" for c in columns)
        )
        for b in boots:
            cells = [_cell(metrics[b.id][c].value if c in metrics[b.id] else None) for c in columns]
            result = "pass" if b.ok else (b.failure_kind or "fail")[:6]
            print(
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(b.started))}  {b.run_id[:22]:22}  "
                f"{b.target[:22]:22}  {b.image[:40]:40}  {(b.mode or '?')[:9]:9}  {result:6}  "
                + "  ".join(f"{c:>16}" for c in cells)
            )
        if not boots:
            print("(no boot matches)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    rule = Rule(k=args.k, sustain=args.sustain, min_samples=args.min_samples, window=args.window)
    with _history(args) as h:
        result = compare(h, args.run, args.baseline, rule)
    print(result.text(verbose=args.verbose))
    return 1 if result.regressions else 0


def cmd_report(args: argparse.Namespace) -> int:
    from .html import write_report

    with _history(args) as h:
        out = write_report(h, Path(args.output), last_runs=args.last)
    print(f"report: {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"history": cmd_history, "compare": cmd_compare, "report": cmd_report}[args.cmd](args)

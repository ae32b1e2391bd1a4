"""Drawing the report's figures after the page is written, in parallel.

Why: drawing is nearly all of a large report's time and every figure is
independent, so the sections ask for figures (a placeholder each) and they are
all drawn at once at the end, in forked processes when it pays.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from typing import Any, Callable


class Deferred:
    """Figures asked for while the page is written and drawn afterwards, all at once:
    in a few forked processes when there are many and more than one core (drawing is
    nearly all of a large report's time and every figure is independent), else here.
    HARNESS_REPORT_JOBS=N caps the processes (1: never fork)."""

    MIN_PARALLEL = 12

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., str], tuple[Any, ...]]] = []

    def add(self, draw: Callable[..., str], *args: Any) -> str:
        """A placeholder for draw(*args), replaced by fill()."""
        self.jobs.append((draw, args))
        return f"\x00figure{len(self.jobs) - 1}\x00"

    def fill(self, page: str) -> str:
        svgs = self._draw()
        return re.sub("\x00figure(\\d+)\x00", lambda m: svgs[int(m.group(1))], page)

    def _draw(self) -> list[str]:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        workers = min(cores, int(os.environ.get("HARNESS_REPORT_JOBS", "4")))
        if workers < 2 or len(self.jobs) < self.MIN_PARALLEL:
            return [_call(job) for job in self.jobs]
        try:
            # fork: the workers start with matplotlib imported and touch nothing else
            # of ours (the open history is never used there; they end with os._exit).
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(_call, self.jobs, chunksize=max(1, len(self.jobs) // (workers * 4))))
        except (OSError, BrokenExecutor):  # no fork here, or a worker died: draw them here
            return [_call(job) for job in self.jobs]


def _call(job: tuple[Callable[..., str], tuple[Any, ...]]) -> str:
    draw, args = job
    return draw(*args)

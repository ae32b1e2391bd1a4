"""`harness report`: the page renders from a history of many boots, marks what compare finds,
and opens in headless Chromium with its plots drawn and no console error.

The browser check drives Chromium through the DevTools protocol over a pipe
(`--remote-debugging-pipe`: no port to find or to leave open): console errors,
uncaught exceptions and failed loads are collected from Runtime/Log events, the
SVGs' laid-out sizes come from the page, and a screenshot of a plot must hold
more than a handful of colours. Negative controls (a plot replaced by a broken
image, a script error, plots hidden) prove that each of those checks can fail.

`build_history` is also bench/history_scale.py's generator (10,000 boots).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from harness.cli import main
from harness.history.compare import compare
from harness.history.db import History
from harness.history.html import write_report
from helpers.history_docs import make_doc

pytestmark = pytest.mark.host

FREQ = 62_500_000
#: Unpack seconds per MiB by loader mode (host clock under QEMU), and modeled seconds per MiB.
UNPACK_S_PER_MIB = {"mmu-off": 0.030, "early-mmu": 0.004, "fallback": 0.031}
MODELED_S_PER_MIB = {"mmu-off": 0.33, "early-mmu": 1 / 1900, "fallback": 0.33}
UBOOT_TARGETS = {"qemu-virt-uboot"}


# -- a synthetic history ------------------------------------------------------------------------


@dataclass
class Plan:
    """What build_history makes: runs × targets × modes × sizes, one boot each, a sustained
    slowdown of one series in the last `regress_runs` runs, one failing check, one failed boot."""

    runs: int = 14
    targets: tuple[str, ...] = ("qemu-virt", "qemu-virt-uboot")
    modes: tuple[str, ...] = ("mmu-off", "early-mmu", "fallback")
    sizes_mib: tuple[int, ...] = (1, 16)
    regress: tuple[str, str, int] = ("qemu-virt", "early-mmu", 16)  # target, mode, size
    regress_runs: int = 3
    slowdown: float = 1.4
    failing_check: tuple[int, str, str, int, str] = (5, "qemu-virt-uboot", "mmu-off", 1, "bss")
    failed_boot: tuple[int, str, str, int] = (8, "qemu-virt", "fallback", 1)
    results: Path | None = None  # write result.json folders here (timer marks, profile)
    results_for_last: int = 10**9  # ... for the newest N runs only
    seed: int = 1

    def run_id(self, i: int) -> str:
        return f"night-{i:04d}"

    def series(self) -> Iterator[tuple[str, str, int]]:
        for target in self.targets:
            for mode in self.modes:
                for size in self.sizes_mib:
                    yield target, mode, size


def image_name(mode: str, size: int) -> str:
    return f"{mode}-none-{size}M"


def build_history(path: Path, plan: Plan, fast: bool = False) -> History:
    """Record the plan's boots, oldest run first; `fast`: no fsync (a benchmark's scratch file)."""
    h = History(path)
    if fast:
        h.db.execute("PRAGMA synchronous = OFF")
    rng = random.Random(plan.seed)
    for i in range(plan.runs):
        started = 1_700_000_000.0 + i * 86400
        for n, (target, mode, size) in enumerate(plan.series()):
            doc = synthetic_doc(plan, i, started + n * 6, target, mode, size, rng)
            folder = None
            if plan.results is not None and i >= plan.runs - plan.results_for_last:
                folder = plan.results / plan.run_id(i) / f"{target}-{image_name(mode, size)}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "result.json").write_text(json.dumps(doc))
            h.record(doc, folder)
    return h


def synthetic_doc(
    plan: Plan, i: int, started: float, target: str, mode: str, size: int, rng: random.Random
) -> dict[str, Any]:
    """One boot as result.json would hold it: figures that scale with the image and the mode,
    2 % noise on the times, exact figures a function of (mode, size) only."""
    unpack = size * UNPACK_S_PER_MIB[mode] * rng.gauss(1.0, 0.02) + 0.002
    if (target, mode, size) == plan.regress and i >= plan.runs - plan.regress_runs:
        unpack *= plan.slowdown
    failing = plan.failing_check
    checks = {
        "segments": "pass",
        "bss": "pass",
        "handoff": "pass",
        "kernel": "pass",
        "cache-clean": "pass",
        "verify": "skip",
    }
    if (i, target, mode, size) == failing[:4]:
        checks[failing[4]] = "fail"
    ok = (i, target, mode, size) != plan.failed_boot
    image = image_name(mode, size)
    doc = make_doc(
        plan.run_id(i),
        started,
        target=target,
        image=image,
        mode=mode,
        unpack_s=unpack,
        modeled_s=size * MODELED_S_PER_MIB[mode] + 0.0004,
        ok=ok,
        checks=checks,
        insns=size * (90_000 if mode == "early-mmu" else 70_000) + 5000,
        image_sha=hashlib.sha256(image.encode()).hexdigest(),
    )
    doc["boot"]["started"] = started
    doc["payload"]["unpacked_bytes"] = size << 20
    doc["payload"]["archive_bytes"] = (size << 20) + 8192
    doc["spans"] = spans(target, unpack, rng)
    doc["timeline"]["marks"] = marks(mode, unpack)
    if not ok:
        doc["checks"] = [
            c if c["name"] != "kernel" else {**c, "status": "fail", "message": "no verdict"} for c in doc["checks"]
        ]
    return doc


def spans(target: str, unpack: float, rng: random.Random) -> list[dict[str, Any]]:
    """Phases in boot order (U-Boot's own for a U-Boot target), two images inside the unpack."""
    phases = [("firmware", 0.05)]
    if target in UBOOT_TARGETS:
        phases += [("u-boot", 0.30), ("load", 0.12), ("bootm", 0.02), ("start", 0.01)]
    phases += [("loader", 0.01), ("unpack", unpack), ("verify+handoff", 0.004), ("kernel", 0.2)]
    out, t = [], 0.0
    for name, seconds in phases:
        seconds = seconds * rng.gauss(1.0, 0.02) if name != "unpack" else seconds
        out.append(
            {
                "name": name,
                "start_s": t,
                "host_s": seconds,
                "target_s": unpack * 0.9 if name == "unpack" else None,
                "parent": None,
            }
        )
        if name == "unpack":
            out.append(
                {"name": "image kernel", "start_s": t, "host_s": unpack * 0.2, "target_s": None, "parent": "unpack"}
            )
            out.append(
                {
                    "name": "image rootserver",
                    "start_s": t + unpack * 0.2,
                    "host_s": unpack * 0.8,
                    "target_s": None,
                    "parent": "unpack",
                }
            )
        t += seconds
    return out


def marks(mode: str, unpack: float) -> list[dict[str, Any]]:
    """The target timer's marks (ticks at 62.5 MHz), as the loader prints them."""
    t: list[tuple[str, str | None, float]] = [("loader.start", None, 0.001)]
    if mode == "early-mmu":
        t.append(("mmu.on", None, 0.002))
    begin = t[-1][2] + 0.001
    t += [
        ("unpack.begin", "kernel", begin),
        ("unpack.end", "kernel", begin + unpack * 0.18),
        ("unpack.begin", "rootserver", begin + unpack * 0.18),
        ("unpack.end", "rootserver", begin + unpack * 0.9),
        ("handoff", None, begin + unpack * 0.9 + 0.003),
        ("kernel.entry", None, begin + unpack + 0.004),
    ]
    return [{"name": n, "image": img, "ticks": int(s * FREQ), "freq": FREQ, "t": s} for n, img, s in t]


# -- the page's content ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Plan]:
    """A 14-run history (2 targets × 3 modes × 2 sizes) and its report."""
    tmp = tmp_path_factory.mktemp("report")
    plan = Plan(results=tmp / "results", results_for_last=3)
    db = tmp / "history.sqlite"
    with build_history(db, plan) as h:
        out = write_report(h, tmp / "report.html", last_runs=10)
    return db, out, plan


def figures(page: str, cls: str) -> list[tuple[dict[str, str], str]]:
    """(attributes, inner html) of every <figure class=cls>."""
    out = []
    for m in re.finditer(r"<figure ([^>]*)>(.*?)</figure>", page, re.S):
        attrs = {k: q or bare for k, q, bare in re.findall(r'([\w-]+)=(?:"([^"]*)"|([^\s>]+))', m.group(1))}
        if attrs.get("class") == cls:
            out.append((attrs, m.group(2)))
    return out


def test_every_series_has_a_trend_and_the_newest_run_its_timelines(report: tuple[Path, Path, Plan]) -> None:
    db, out, plan = report
    page = out.read_text()
    with History(db, create=False) as h:
        newest = h.boots(run_id=plan.run_id(plan.runs - 1))
    series = {b.series for b in newest}
    assert len(series) == 12
    trends = figures(page, "trend")
    measured = {a["data-series"] for a, body in trends if a["data-kind"] == "measured" and "<svg" in body}
    modeled = {a["data-series"] for a, body in trends if a["data-kind"] == "modeled" and "<svg" in body}
    assert measured == series and modeled == series
    timelines = figures(page, "timeline")
    assert len(timelines) == len(newest) and all("<svg" in body for _, body in timelines)
    # nested images, U-Boot's phases and the target timer's marks are in the timelines
    uboot = next(body for a, body in timelines if a["data-series"].startswith("qemu-virt-uboot/"))
    for label in ("u-boot", "bootm", "\u21b3 image rootserver", "timer: unpack rootserver", "kernel"):
        assert label in uboot, label
    modeled_boot = figures(page, "modeled-boot")  # the shipped counts' modeled boot (test_boot_timeline.py)
    assert "<svg" in page and page.count("<svg") == len(trends) + len(timelines) + 2 + len(modeled_boot)  # + throughput


def test_modeled_figures_say_modeled_and_their_profile(report: tuple[Path, Path, Plan]) -> None:
    page = report[1].read_text()
    titled = figures(page, "trend") + figures(page, "throughput")
    modeled = [body for a, body in titled if a["data-kind"] == "modeled"]
    assert len(modeled) == 13
    assert all("modeled (profile imx8mp-armstone)" in body for body in modeled)
    measured_tp = [body for a, body in figures(page, "throughput") if a["data-kind"] == "measured"]
    assert len(measured_tp) == 1 and "measured" in measured_tp[0] and "modeled (" not in measured_tp[0]


def test_the_sustained_regression_is_marked_where_compare_finds_it(report: tuple[Path, Path, Plan]) -> None:
    db, out, plan = report
    page = out.read_text()
    with History(db, create=False) as h:
        found = compare(h).regressions
    target, mode, size = plan.regress
    regressed = f"{target}/{image_name(mode, size)}/{mode}/coherence"
    assert {f.series for f in found} == {regressed}
    assert {"unpack.host_s", "phase.unpack.host_s"} <= {f.metric for f in found}
    # the summary table, the trend's marks (SVG ids) and its caption agree with compare
    assert re.search(
        r'<tr class="regression"><td>regression</td><td><a href="#series-'
        + re.escape(regressed.replace("/", "-"))
        + r'">',
        page,
    )
    flagged = {a["data-series"] for a, _ in figures(page, "trend") if "regression" in a["data-flags"]}
    assert flagged == {regressed}
    body = next(b for a, b in figures(page, "trend") if a["data-series"] == regressed and a["data-kind"] == "measured")
    for metric in ("unpack.host_s", "phase.unpack.host_s", "unpack.target_s"):
        assert f'id="mark-regression-series-{regressed.replace("/", "-")}-measured-{metric}"' in body
    assert "regression</span> unpack.host_s" in body and plan.run_id(plan.runs - 1) in body


def test_the_check_matrix_shows_the_failing_check_and_boot(report: tuple[Path, Path, Plan]) -> None:
    db, out, plan = report
    page = out.read_text()
    matrix = page[page.index('<section id="checks">') :]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr><th>([^<]+)<br>.*?</th>(.*?)</tr>", matrix, re.S)}
    assert set(rows) == {plan.run_id(i) for i in range(plan.runs - 10, plan.runs)}
    fail_run = plan.run_id(plan.failing_check[0])
    cells = re.findall(r'<td class="(\w+)"', rows[fail_run])
    assert cells.count("fail") == 1, rows[fail_run]
    assert "bss" in matrix and 'class="skip"' in matrix
    assert re.search(r'<td class="fail" title="[^"]*qemu-virt-uboot/mmu-off-none-1M[^"]*">', rows[fail_run])
    boot_run = plan.run_id(plan.failed_boot[0])
    assert re.findall(r'<td class="(\w+)"', rows[boot_run])[0] == "fail", "the boot column"
    quiet = plan.run_id(plan.runs - 1)
    assert set(re.findall(r'<td class="(\w+)"', rows[quiet])) <= {"pass", "skip"}


def test_the_page_is_self_contained(report: tuple[Path, Path, Plan]) -> None:
    page = report[1].read_text()
    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*(?!["']?#)""", page), "every link is an anchor in the page"
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert len(page) < 3_000_000


def test_cli_report_and_an_early_history(tmp_path: Path) -> None:
    """`harness report DB -o FILE` works, also with one run (nothing to compare yet)."""
    plan = Plan(runs=1, targets=("qemu-virt",), modes=("early-mmu",), sizes_mib=(1,))
    build_history(tmp_path / "history.sqlite", plan).close()
    out = tmp_path / "r" / "report.html"
    assert main(["report", str(tmp_path), "-o", str(out)]) == 0
    page = out.read_text()
    assert "no earlier run to compare with" in page and page.count("<svg") >= 3


def test_a_history_without_the_cache_model_or_result_folders(tmp_path: Path) -> None:
    """No modeled time: no modeled figure (and nothing titled modeled); no result.json: the
    timelines have the database's spans but no target-timer rows."""
    plan = Plan(
        runs=4,
        targets=("qemu-virt",),
        modes=("mmu-off", "early-mmu"),
        sizes_mib=(1, 4),
        failing_check=(9, "", "", 0, ""),
        failed_boot=(9, "", "", 0),
    )
    with History(tmp_path / "history.sqlite") as h:
        rng = random.Random(2)
        for i in range(plan.runs):
            for n, (target, mode, size) in enumerate(plan.series()):
                doc = synthetic_doc(plan, i, 1e9 + i * 86400 + n, target, mode, size, rng)
                doc["modeled"] = doc["coherence"] = None
                doc["options"]["coherence"] = False
                h.record(doc)
        page = write_report(h, tmp_path / "report.html").read_text()
    assert not [a for a, _ in figures(page, "trend") if a["data-kind"] == "modeled"]
    assert not [a for a, _ in figures(page, "throughput") if a["data-kind"] == "modeled"]
    assert "modeled (" not in page
    timelines = figures(page, "timeline")
    assert len(timelines) == 4 and all("\u21b3 image kernel" in b and "timer:" not in b for _, b in timelines)


# -- the page in a browser ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class BrowserResult:
    """What the page did in the browser."""

    problems: list[str] = field(default_factory=list)  # console errors, exceptions, failed loads
    svgs: list[tuple[float, float]] = field(default_factory=list)  # laid-out width, height
    broken_images: int = 0
    shot_colours: int = 0  # distinct colours in the first plot

    def failures(self, expect_svgs: int) -> list[str]:
        """Everything that says the page does not show its plots cleanly."""
        out = list(self.problems)
        if len(self.svgs) != expect_svgs:
            out.append(f"{len(self.svgs)} SVGs laid out, {expect_svgs} expected")
        out += [f"SVG {i} has size {w}x{h}" for i, (w, h) in enumerate(self.svgs) if w < 50 or h < 30]
        if self.broken_images:
            out.append(f"{self.broken_images} broken image(s)")
        if self.shot_colours < 8:
            out.append(f"the first plot's screenshot has {self.shot_colours} colour(s): blank")
        return out


class Chromium:
    """Headless Chromium driven over the DevTools pipe (fd 3: commands in, fd 4: replies out,
    NUL-separated JSON). Its own process group, so that close() ends exactly the processes
    it started (browser, zygotes, renderers) and proves none is left."""

    def __init__(self, exe: str, profile: Path) -> None:
        to_browser, self._to = self._high(os.pipe())
        self._from, from_browser = self._high(os.pipe())
        argv = [
            exe,
            "--headless=new",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
            "about:blank",
        ]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox

        def fds() -> None:
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        profile.mkdir(parents=True, exist_ok=True)
        self.log = open(profile.parent / "chromium.log", "wb")
        # close_fds=False: Python's own fds are close-on-exec anyway (PEP 446), and closing
        # would also close the 3 and 4 that fds() just made.
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            close_fds=False,
            preexec_fn=fds,
            start_new_session=True,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    @staticmethod
    def _high(pair: tuple[int, int]) -> tuple[int, int]:
        """The pipe's ends moved above fd 4, so that the child's dup2 onto 3 and 4 cannot
        clobber one end with the other."""
        moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in pair)
        for fd in pair:
            os.close(fd)
        return moved[0], moved[1]

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """One command; its result (events that arrive meanwhile are kept)."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to, json.dumps(msg).encode() + b"\0")
        reply = self._until(lambda m: m.get("id") == self._id, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result") or {})

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        return self._until(lambda m: m.get("method") == method, timeout)

    def _until(self, match: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "method" in msg:
                    self.events.append(msg)
                if match(msg):
                    return dict(msg)
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TimeoutError(f"no reply from Chromium (exit {self.proc.poll()})")
            if select.select([self._from], [], [], left)[0]:
                chunk = os.read(self._from, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buf += chunk

    def settle(self, seconds: float) -> None:
        """Collect events for a while (late console messages, image errors)."""
        try:
            self._until(lambda m: False, seconds)
        except TimeoutError:
            pass

    def group(self) -> list[int]:
        """Processes still in the browser's process group (read from /proc, never by name)."""
        out = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[2]) == self.proc.pid and fields[0] not in ("Z", "X"):
                    out.append(int(entry.name))
        return out

    def close(self) -> list[int]:
        """Ask the browser to quit, then signal its process group; the pids left (none)."""
        try:
            if self.proc.poll() is None:
                self.send("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError):
            pass
        for sig, wait in ((None, 5.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if sig is not None and self.group():
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while self.group() and time.monotonic() < deadline:
                self.proc.poll()
                time.sleep(0.05)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self._to, self._from):
            os.close(fd)
        self.log.close()
        return self.group()


_PROBE = """JSON.stringify({
  svgs: [...document.querySelectorAll('svg')].map(s => {const r = s.getBoundingClientRect();
                                                         return [r.width, r.height];}),
  broken: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length,
  first: (() => {const f = document.querySelector('figure.trend svg') || document.querySelector('svg');
                 if (!f) return null; const r = f.getBoundingClientRect();
                 return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];})()
})"""


def open_in_chromium(page: Path, work: Path) -> BrowserResult:
    """Load `page` from file:// in headless Chromium and report what it did."""
    assert CHROMIUM is not None
    browser = Chromium(CHROMIUM, work / "profile")
    try:
        result = _inspect(browser, page)
    finally:
        left = browser.close()
    assert left == [], f"Chromium processes left running: {left}"
    return result


def _inspect(browser: Chromium, page: Path) -> BrowserResult:
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        browser.send(f"{domain}.enable", session=session)
    nav = browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
    result = BrowserResult()
    if nav.get("errorText"):
        result.problems.append(f"navigation: {nav['errorText']}")
        return result
    browser.wait_event("Page.loadEventFired")
    browser.settle(0.5)
    probe = json.loads(
        browser.send("Runtime.evaluate", {"expression": _PROBE, "returnByValue": True}, session=session)["result"][
            "value"
        ]
    )
    result.svgs = [(float(w), float(h)) for w, h in probe["svgs"]]
    result.broken_images = int(probe["broken"])
    if probe["first"]:
        x, y, w, h = probe["first"]
        shot = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": x, "y": y, "width": max(w, 1), "height": max(h, 1), "scale": 1},
            },
            session=session,
        )
        result.shot_colours = _colours(base64.b64decode(shot["data"]))
    result.problems = _problems(browser.events)
    return result


def _problems(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions and failed loads among the DevTools events."""
    out = []
    for e in events:
        p = e.get("params") or {}
        if e["method"] == "Runtime.exceptionThrown":
            details = p.get("exceptionDetails") or {}
            out.append(f"exception: {details.get('text')} {(details.get('exception') or {}).get('description')}")
        elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.error: " + " ".join(str(a.get("value")) for a in p.get("args") or []))
        elif e["method"] == "Log.entryAdded" and (p.get("entry") or {}).get("level") == "error":
            out.append("log: " + str(p["entry"].get("text")) + " " + str(p["entry"].get("url", "")))
    return out


def _colours(png: bytes) -> int:
    """Distinct colours in a PNG (1 for a blank area)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colours or [])


needs_chromium = pytest.mark.requires_tool(
    "chromium|chromium-browser", why="the report is opened in a real browser", fix="scripts/setup.sh installs it"
)


@needs_chromium
def test_the_report_shows_its_plots_in_chromium(report: tuple[Path, Path, Plan], tmp_path: Path) -> None:
    page = report[1]
    result = open_in_chromium(page, tmp_path)
    expect = page.read_text().count("<svg")
    assert result.failures(expect) == [], result
    assert result.shot_colours >= 20


def _broken(page: Path, tmp: Path, how: str) -> Path:
    """The report with one defect."""
    text = page.read_text()
    if how == "broken-image":  # one plot replaced by an image that does not load
        start, end = text.index("<svg"), text.index("</svg>") + len("</svg>")
        text = text[:start] + '<img src="missing-plot.png" alt="">' + text[end:]
    elif how == "script-error":
        text = text.replace("</body>", "<script>undefinedReportFunction();</script></body>")
    elif how == "hidden-plots":  # laid out, but nothing drawn
        text = text.replace("</style>", "svg *{visibility:hidden}</style>")
    out = tmp / f"{how}.html"
    out.write_text(text)
    return out


@needs_chromium
@pytest.mark.parametrize(
    "how, symptom",
    [
        ("broken-image", "broken image"),
        ("script-error", "exception: Uncaught"),
        ("hidden-plots", "blank"),
    ],
)
def test_the_browser_check_fails_on_a_broken_page(
    report: tuple[Path, Path, Plan], tmp_path: Path, how: str, symptom: str
) -> None:
    page = report[1]
    expect = page.read_text().count("<svg")
    result = open_in_chromium(_broken(page, tmp_path, how), tmp_path)
    failures = result.failures(expect)
    assert any(symptom in f for f in failures), failures
    if how == "broken-image":
        assert any("ERR_FILE_NOT_FOUND" in f for f in failures), failures

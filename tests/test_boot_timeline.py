"""The modeled-boot timeline of `harness report`: built from the shipped counts (bench/counts/),
its phases add up to the very totals and bands the routes table prints, the figure says MODELED
with its profile, date and bands, and a broken counts directory is one HarnessError naming the
file and the fix (in the report: one plain line, never a traceback)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from harness.coherence.plugin_report import CoherenceReport
from harness.errors import HarnessError
from harness.history import plots
from harness.history.db import History
from harness.history.html import write_report
from harness.history.plots.boot_timeline import boot_timeline_svg
from harness.history.report.boot_timeline import (
    COUNTS,
    MANIFEST,
    PATCHED,
    PROFILE,
    REGENERATE,
    STOCK,
    boot_timeline_section,
    boot_timelines,
    check_sum,
    load_shipped,
)
from harness.board_time import Band, band, load_profile
from harness.testing import missing_input


def table_bands(where: Path) -> dict[tuple[float, str], Band]:
    """What the routes table prints for each route: band(counts, profile) of each shipped
    counts file, read here by the plugin's report reader alone (not by the code under test)."""
    prof = load_profile(PROFILE)
    manifest = json.loads((where / MANIFEST).read_text())
    return {
        (float(mb), route): band(CoherenceReport.load(where / file).counts, prof)
        for mb, routes in manifest.items()
        if not mb.startswith("_")
        for route, file in routes.items()
    }


@pytest.fixture(scope="module")
def shipped() -> Path:
    if not (COUNTS / MANIFEST).is_file():
        missing_input(str(COUNTS / MANIFEST), "the modeled boot timeline is priced from shipped counts", REGENERATE)
    return COUNTS


def test_the_phases_add_up_to_the_routes_tables_totals_and_bands(shipped: Path) -> None:
    """The table prices band(counts, profile) per route; the timeline must be that route."""
    table = table_bands(shipped)
    drawn = boot_timelines(shipped)
    assert [b.stock.mb for b in drawn] == [596.0, 6.0]
    for b in drawn:
        for route in (b.stock, b.patched):
            expect = table[(route.mb, route.route)]
            assert sum(s for _, s in route.phases) == pytest.approx(expect.nominal, rel=1e-9)
            assert (route.total_s, route.low_s, route.high_s) == (expect.nominal, expect.low, expect.high)
            assert all(s > 0 for _, s in route.phases) and len({n for n, _ in route.phases}) == len(route.phases)
        assert (b.stock.route, b.patched.route) == (STOCK, PATCHED)
        assert b.stock.total_s > b.patched.total_s
        # the stock loader runs with the MMU off: nothing of its window is priced as cached
        assert not [n for n, _ in b.stock.phases if n.startswith("cached")]
        assert [n for n, _ in b.patched.phases if n.startswith("cached data")]


def test_the_figure_says_modeled_its_profile_date_and_bands(shipped: Path) -> None:
    for b in boot_timelines(shipped):
        svg = boot_timeline_svg(b.stock, b.patched, PROFILE, b.counted, "t")
        text = " ".join(re.findall(r">([^<>]+)</text>", svg)).replace("\u00a0", " ")
        assert "MODELED" in text and PROFILE in text and f"counts of {b.counted}" in text
        for route in (b.stock, b.patched):
            assert route.describe() in text, route.describe()
            assert f"band {plots.fmt_value(route.low_s, 's')}\u2013{plots.fmt_value(route.high_s, 's')}" in text
            for name, seconds in route.phases:
                assert f"{name}  {plots.fmt_value(seconds, 's')}" in text, name
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", b.counted)


def test_harness_report_includes_it(shipped: Path, tmp_path: Path) -> None:
    with History(tmp_path / "history.sqlite") as h:
        page = write_report(h, tmp_path / "report.html").read_text()
    section = page[page.index('<section id="modeled-boot">') :]
    section = section[: section.index("</section>")]
    figures = re.findall(
        r'<figure class="modeled-boot" data-mb="([\d.]+)"><svg.*?<figcaption>(.*?)</figcaption>', section, re.S
    )
    assert [mb for mb, _ in figures] == ["596", "6"]
    assert all(c.startswith(f"MODELED on {PROFILE} from counts of ") and "band" in c for _, c in figures)


def copy_counts(tmp: Path) -> Path:
    out = tmp / "counts"
    shutil.copytree(COUNTS, out)
    return out


def test_without_a_manifest_the_report_says_so(shipped: Path, tmp_path: Path) -> None:
    where = copy_counts(tmp_path)
    (where / MANIFEST).unlink()
    with pytest.raises(HarnessError) as e:
        load_shipped(where)
    assert e.value.file == str(where / MANIFEST) and REGENERATE in (e.value.fix or "")
    figs = plots.Deferred()
    html = boot_timeline_section(figs, where)
    assert "is not here" in html and str(where / MANIFEST) in html and not figs.jobs


@pytest.mark.parametrize(
    "defect, field, what",
    [
        ("truncated manifest", None, "unreadable"),
        ("manifest a list", None, "not a JSON object"),
        ("no patched route", "596", "no 'early MMU + set/way' route at 596 MB"),
        ("size not a number", "big", "not a size in MB"),
        ("counts file missing", None, "no report"),
        ("counts file corrupt", None, "unreadable report"),
        ("counts without their date", "_counted", "missing"),
    ],
)
def test_a_broken_counts_directory_is_one_clear_error(
    shipped: Path, tmp_path: Path, defect: str, field: str | None, what: str
) -> None:
    """Negative controls: one defect each, named with its file and the fix."""
    where = copy_counts(tmp_path)
    manifest = where / MANIFEST
    data = json.loads(manifest.read_text())
    broken = manifest
    if defect == "truncated manifest":
        manifest.write_text(manifest.read_text()[:40])
    elif defect == "manifest a list":
        manifest.write_text("[]")
    elif defect == "no patched route":
        del data["596"][PATCHED]
        manifest.write_text(json.dumps(data))
    elif defect == "size not a number":
        data["big"] = data["596"]
        manifest.write_text(json.dumps(data))
    else:
        broken = where / data["6"][STOCK]
        if defect == "counts file missing":
            broken.unlink()
        elif defect == "counts file corrupt":
            broken.write_text(broken.read_text()[:-200])
        else:
            counts = json.loads(broken.read_text())
            del counts["_counted"]
            broken.write_text(json.dumps(counts))
    with pytest.raises(HarnessError) as e:
        boot_timelines(where)
    assert e.value.file == str(broken) and e.value.field == field and what in e.value.what
    assert REGENERATE in (e.value.fix or "")
    figs = plots.Deferred()
    html = boot_timeline_section(figs, where)
    assert html.startswith("<p class=note>No modeled boot timeline: ") and str(broken) in html
    assert "Traceback" not in html and not figs.jobs


def test_phases_that_lose_time_are_refused(shipped: Path) -> None:
    """Negative controls for the sum check: a split that drops one phase, one that overprices."""
    route = boot_timelines(shipped)[0].patched
    check_sum(list(route.phases), route.total_s)
    with pytest.raises(HarnessError, match=r"the phases add up to .* the route's modeled total is"):
        check_sum(list(route.phases[1:]), route.total_s)
    with pytest.raises(HarnessError, match=r"phase 'x' has negative modeled time"):
        check_sum([*route.phases, ("x", -1e-3), ("y", 1e-3)], route.total_s)

"""Modeled figures are honest bands: host-only, on synthetic counts (deterministic, so the
figures may be asserted).

The profile states each parameter's source and range; a band is the modeled time at the
profile's values and its least and greatest over those ranges (harness/board_time.py); the
stock copy unit decides which fitted alternative an image matches; and the patched
window opens at early_mmu_begin so the ratio compares like with like.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import harness.profile
from harness.coherence import AccessCounts, Counts, TargetCounts
from harness.coherence.window import window_for
from harness.errors import HarnessError
from harness.board_time import Profile, band, corners, copy_unit, load_profile, model, ratio_band

pytestmark = pytest.mark.host

PROFILE = "imx8mp-armstone"
SEED_BYTES, SEED_S = 596e6, 197.0
NONE = {1: 0, 2: 0, 4: 0, 8: 0, 16: 0}


def _acc(cacheable: dict[int, int] | None = None, uncached: dict[int, int] | None = None) -> AccessCounts:
    return AccessCounts({**NONE, **(cacheable or {})}, {**NONE, **(uncached or {})})


def stock_counts(nbytes: float, unit: int) -> Counts:
    """The stock loader's MMU-off unpack of `nbytes`: a 16-byte memset of the destination,
    then memcpy in `unit`-byte accesses (loads from the archive, stores to the destination),
    and the uncached instruction fetches the loader runs per 8 bytes (22 for 4-byte units,
    13 for 8-byte ones, as measured on the real loader)."""
    copies, zeroes = int(nbytes) // unit, int(nbytes) // 16
    fetches = int(nbytes) // 8 * (22 if unit == 4 else 13)
    loads, stores = _acc(uncached={unit: copies}), _acc(uncached={unit: copies, 16: zeroes})
    return Counts(
        insns=fetches,
        ifetch_cacheable=0,
        ifetch_uncached=fetches,
        loads=loads,
        stores=stores,
        cmo={"dc_cisw": 16896},
        by_target={"source": TargetCounts(loads, _acc()), "dest": TargetCounts(_acc(), stores)},
    )


def patched_counts(nbytes: float) -> Counts:
    """The early-MMU unpack of `nbytes`: page tables built and caches invalidated with the
    MMU off (uncached), then a cached 16-byte copy, one instruction per 8 bytes, and a
    clean of every 64-byte line written."""
    pairs = int(nbytes) // 16
    loads, stores = _acc({16: pairs}, {8: 200}), _acc({16: pairs}, {8: 4200})
    return Counts(
        insns=int(nbytes) // 8 + 30000,
        ifetch_cacheable=int(nbytes) // 8,
        ifetch_uncached=30000,
        loads=loads,
        stores=stores,
        cmo={"dc_civac": int(nbytes) // 64, "dc_isw": 16896},
        by_target={"source": TargetCounts(_acc({16: pairs}), _acc())},
    )


def test_every_parameter_states_its_source_and_range() -> None:
    prof = load_profile(PROFILE)
    for name, p in prof.params.items():
        assert p.source and p.kind in ("FITTED", "ESTIMATE", "CITED"), name
        assert p.low <= p.value <= p.high, name
    assert {a.unit for a in prof.alternatives} == {4, 8}
    assert prof.params["uncached_ifetch_s"].low < prof.params["uncached_ifetch_s"].high
    assert prof.params["cmo_line_s"].low < prof.params["cmo_line_s"].high
    text = prof.describe()
    assert "copy-4 181 ns (157-200)" in text and "copy-8 302 ns (262-334)" in text
    assert "estimate" in text and "fitted" in text


@pytest.mark.parametrize("unit, nominal, low, high", [(4, 215.75, 187.62, 399.38), (8, 128.10, 111.18, 236.67)])
def test_the_stock_band_contains_the_seed_for_either_copy_unit(
    unit: int, nominal: float, low: float, high: float
) -> None:
    """The seed's image copied in 4- or 8-byte units, nobody knows which: a 596 MB stock
    image in either unit has a band that contains the seed's 197 s."""
    counts = stock_counts(SEED_BYTES, unit)
    b = band(counts, load_profile(PROFILE))
    assert (round(b.nominal, 2), round(b.low, 2), round(b.high, 2)) == (nominal, low, high)
    assert b.low <= SEED_S <= b.high
    assert copy_unit(counts) == unit


def test_the_fetch_cost_moves_the_access_cost_with_it() -> None:
    """A stock image with a fit's own mix costs the same per byte at every fetch cost (the
    access cost is refitted to the seeds), so the band comes from the fits, not from a
    cheap fetch paired with a cheap access that no seed allows."""
    prof = load_profile(PROFILE)
    counts = stock_counts(SEED_BYTES, 4)
    copy4 = next(a for a in prof.alternatives if a.unit == 4)

    def per_8_bytes(p: Profile) -> float:
        return p.uncached_access_s * copy4.data_per_8b + p.uncached_ifetch_s * copy4.fetch_per_8b

    fits = [
        p
        for p in corners(prof)
        if p.cmo_line_s == prof.params["cmo_line_s"].low
        and p.setway_op_s == prof.params["setway_op_s"].low
        and p.writeback_line_s == prof.params["writeback_line_s"].low
        and abs(per_8_bytes(p) - per_8_bytes(prof)) < 1e-15
    ]
    assert len({round(p.uncached_ifetch_s, 12) for p in fits}) == 3  # low, value, high fetch
    assert len({round(model(counts, p).total_s, 6) for p in fits}) == 1


def test_the_patched_band_and_the_ratio_band_share_their_corners() -> None:
    prof = load_profile(PROFILE)
    stock, patched = stock_counts(SEED_BYTES, 4), patched_counts(SEED_BYTES)
    bs, bp, br = band(stock, prof), band(patched, prof), ratio_band(stock, patched, prof)
    assert bp.low < bp.nominal < bp.high
    assert (round(bp.nominal, 4), round(bp.low, 4), round(bp.high, 4)) == (0.5656, 0.4718, 1.1307)
    assert br.low <= br.nominal <= br.high
    assert (round(br.nominal), round(br.low), round(br.high)) == (381, 166, 839)
    # one board at a time: never the slowest stock against the fastest patched
    assert br.high < bs.high / bp.low and br.low > bs.low / bp.high


def test_describe_prints_the_band_and_the_copy_unit() -> None:
    text = model(stock_counts(SEED_BYTES, 8), load_profile(PROFILE)).describe()
    assert text.startswith("modeled unpack 128 s (band 111-237 s) on imx8mp-armstone")
    assert "copies its archive in 8-byte units (the archive member is co-aligned" in text
    assert "copy-8 fit (302 ns)" in text


def _write_profile(tmp: Path, monkeypatch: pytest.MonkeyPatch, edit: dict[str, object]) -> None:
    data = yaml.safe_load((harness.profile.PROFILES / f"{PROFILE}.yaml").read_text())
    data.update(edit)
    (tmp / "edited.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setattr(harness.profile, "PROFILES", tmp)


@pytest.mark.parametrize(
    "edit, field",
    [
        ({"cmo_line_s": {"value": 2e-8, "kind": "ESTIMATE", "source": "a guess"}}, "cmo_line_s.range"),
        ({"cmo_line_s": {"value": 2e-8, "kind": "ESTIMATE", "range": [1e-8, 1e-7]}}, "cmo_line_s.source"),
        ({"cpu_hz": 1.2e9}, "cpu_hz"),
        ({"cmo_line_s": {"value": 2e-7, "kind": "ESTIMATE", "source": "x", "range": [1e-8, 1e-7]}}, "cmo_line_s"),
        (
            {"uncached_ifetch_s": {"value": 9e-8, "kind": "GUESS", "source": "x", "range": [4e-8, 2e-7]}},
            "uncached_ifetch_s.kind",
        ),
    ],
)
def test_a_profile_without_source_or_range_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: dict[str, object], field: str
) -> None:
    _write_profile(tmp_path, monkeypatch, edit)
    with pytest.raises(HarnessError) as err:
        load_profile("edited")
    assert err.value.field == field and "edited.yaml" in str(err.value)


def test_an_alternative_without_its_range_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((harness.profile.PROFILES / f"{PROFILE}.yaml").read_text())
    del data["uncached_access_s"]["alternatives"]["copy-8"]["range"]
    _write_profile(tmp_path, monkeypatch, {"uncached_access_s": data["uncached_access_s"]})
    with pytest.raises(HarnessError) as err:
        load_profile("edited")
    assert err.value.field == "uncached_access_s.alternatives.copy-8.range"


def _sel4_payload(symbols: dict[str, int]) -> SimpleNamespace:
    kernel = SimpleNamespace(entry=0xFFFFFF8040000000, segments=[object()])
    loader = SimpleNamespace(symbols=symbols, span=(0x50000000, 0x75000000))
    return SimpleNamespace(reference=False, loader=loader, images=[kernel, object()])


@pytest.mark.parametrize("scope", ["seed", "unpack"])
def test_the_patched_window_opens_at_early_mmu_begin(scope: str) -> None:
    """The table build and invalidate are the patch's cost: the patched window counts them."""
    syms = {
        "memset": 0x50001000,
        "load_images": 0x50002000,
        "early_mmu_begin": 0x50003000,
        "early_mmu_fill_segment": 0x50004000,
        "arm_enable_hyp_mmu": 0x50005000,
    }
    w = window_for(_sel4_payload(syms), scope=scope)  # type: ignore[arg-type]
    assert (w.begin_pc, w.begin_hit) == (0x50003000, 1) and "early_mmu_begin" in w.definition
    assert w.end_pcs == (0x50005000,)


def test_the_stock_window_still_starts_at_the_first_user_image() -> None:
    syms = {"memset": 0x50001000, "load_images": 0x50002000, "arm_enable_hyp_mmu": 0x50005000}
    w = window_for(_sel4_payload(syms))  # type: ignore[arg-type]
    assert (w.begin_pc, w.begin_hit) == (0x50001000, 2)


def test_a_setway_close_is_priced_per_operation_and_dirty_line_not_per_image_line() -> None:
    """The set/way close costs O(cache): its operations, and the dirty lines they write back,
    which can be no more than the caches hold; the VA close costs O(image)."""
    prof = load_profile(PROFILE)

    def maintenance(counts: Counts) -> float:
        parts = model(counts, prof).parts
        return parts["cache maintenance"] + parts["set/way maintenance"]

    va = {n: maintenance(patched_counts(n)) for n in (6e6, SEED_BYTES)}
    sw = {}
    for n in (6e6, SEED_BYTES):
        c = patched_counts(n)
        sw[n] = maintenance(
            Counts(c.insns, c.ifetch_cacheable, c.ifetch_uncached, c.loads, c.stores, {"dc_cisw": 16896}, c.by_target)
        )
    assert va[SEED_BYTES] == pytest.approx(int(SEED_BYTES) // 64 * prof.cmo_line_s + 16896 * prof.setway_op_s)
    assert (
        sw[SEED_BYTES]
        == sw[6e6]
        == pytest.approx(16896 * prof.setway_op_s + prof.dirty_capacity_lines * prof.writeback_line_s)
    )
    assert sw[SEED_BYTES] < va[SEED_BYTES] / 500
    assert "set/way op 3 ns (1-10) estimate" in prof.describe()

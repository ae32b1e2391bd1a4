"""The modeled load (harness/load_time.py): the TFTP formulas on hand-computed cases, the
profile's round trip against the seed it was fitted to, the profile's `load:` section
refused with the field to fix, and the bench table's figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest
import yaml

import harness.profile
from harness.errors import HarnessError
from harness.load_time import (
    LOAD_SEEDS,
    SEED_SCENARIO,
    Link,
    Scenario,
    blocks,
    fit_round_trip,
    frames,
    load_band,
    mmc_s,
    round_trips,
    seed_exchange_s,
    target_scenario,
    tftp_s,
    wire_s,
)
from harness.profile import load_profile

pytestmark = pytest.mark.host
PROFILE = "imx8mp-armstone"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


def test_frames_and_wire_time_by_hand() -> None:
    # 1468 data + 4 TFTP + 8 UDP + 20 IP = 1500, one frame, + 38 bytes of Ethernet around it
    assert frames(1468) == 1 and frames(1469) == 2
    assert wire_s(1468, 1e9) == pytest.approx(1538 * 8 / 1e9)
    # 8192 + 12 = 8204 bytes of UDP in ceil(8204 / 1480) = 6 fragments, each 20 + 38 more
    assert frames(8192) == 6 and wire_s(8192, 1e8) == pytest.approx((8204 + 6 * 58) * 8 / 1e8)
    assert blocks(14680, 1468) == 11 and blocks(14679, 1468) == 10  # a last, empty block


def test_lock_step_by_hand() -> None:
    """11 blocks, each one exchange: 0.5 ms round trip + 12.304 us on the wire."""
    link = Link(1e9, 0.5e-3, 20e-6)
    assert tftp_s(14680, link, 1468) == pytest.approx(11 * (0.5e-3 + 12.304e-6))


def test_window_by_hand() -> None:
    """Window 4 over 11 blocks: two full windows and one of 3. A window is one round trip,
    its first block's wire time, then each further block at the frame cost (20 us > 12.3 us)."""
    link = Link(1e9, 0.5e-3, 20e-6)
    full = 0.5e-3 + 12.304e-6 + 3 * 20e-6
    last = 0.5e-3 + 12.304e-6 + 2 * 20e-6
    assert tftp_s(14680, link, 1468, 4) == pytest.approx(2 * full + last)
    # on a slow link the wire is the bound: 123.04 us per block at 100 Mbit/s
    slow = Link(1e8, 0.5e-3, 20e-6)
    assert tftp_s(14680, slow, 1468, 11) == pytest.approx(0.5e-3 + 11 * 123.04e-6)
    assert mmc_s(6e6, 50e6) == pytest.approx(0.12)


def test_the_round_trip_is_the_seed_s() -> None:
    """The profile's round trip is the fit: (298.4 - 16.7) s over 590e6 bytes, per
    1468-byte block, less the block's 12.3 us on a gigabit link."""
    assert LOAD_SEEDS == ((596e6, 298.4), (6e6, 16.7))
    assert seed_exchange_s(1468) == pytest.approx(281.7 / 590e6 * 1468)
    assert seed_exchange_s(1468, mib=True) == pytest.approx(281.7 / (590 * 2**20) * 1468)
    prof = load_profile(PROFILE)
    rtt = prof.load["tftp_round_trip_s"]
    assert rtt.kind == "FITTED"
    assert rtt.value == pytest.approx(fit_round_trip(1468, prof.load["link_bits_per_s"].value), abs=1e-7)
    # the MiB reading (less 1 % for bootm's checksum) is inside the range
    assert rtt.low <= fit_round_trip(1468, 1e9, mib=True) * 0.99 + 1e-7
    # the model meets the seed: 596 MB less 6 MB is 281.7 s at the profile's values
    seed = load_band(prof, 596e6).nominal - load_band(prof, 6e6).nominal
    assert seed == pytest.approx(281.7, rel=2e-3)


def test_every_link_keeps_the_seed() -> None:
    """Refitted at each link speed, a lock-step block at the seed's size costs the seed's
    exchange: the seed does not move when the link does."""
    prof = load_profile(PROFILE)
    value = prof.load["tftp_round_trip_s"].value + wire_s(1468, 1e9)
    exchanges = {
        round(link.round_trip_s + wire_s(1468, link.bits_per_s), 12)
        for link in round_trips(prof.load)
        if link.round_trip_s
    }
    assert round(value, 12) in exchanges and len({link.bits_per_s for link in round_trips(prof.load)}) == 2


def test_bands_hold_the_value_and_shrink_to_it_when_ranges_do() -> None:
    prof = load_profile(PROFILE)
    for s in (SEED_SCENARIO, Scenario("w16", window=16), Scenario("mmc", mmc=True)):
        b = load_band(prof, 596e6, s)
        assert b.low <= b.nominal <= b.high
    w16 = load_band(prof, 596e6, Scenario("w16", window=16))
    assert w16.nominal < load_band(prof, 596e6).low / 10  # a window of 16: >10x at the value


def test_bench_table_figures() -> None:
    """The bench's rows, priced now: the seed row is the seed's load; hand-computed."""
    from uboot_load import rows, table

    prof = load_profile(PROFILE)
    got = {s.name: [b.nominal for b in bands] for s, bands in rows(prof, [6, 596])}
    exchange = prof.load["tftp_round_trip_s"].value + wire_s(1468, 1e9)
    assert got["seed"][1] == pytest.approx((596_000_000 // 1468 + 1) * exchange)
    assert got["seed"][1] == pytest.approx(284.6, abs=0.1)
    assert got["eMMC"] == pytest.approx([0.12, 11.92])
    # window 16: 405995 blocks = 25374 windows of 16 and one of 11
    full = exchange + 15 * 12.304e-6  # the frame cost (10 us) is below the wire's
    last = exchange + 10 * 12.304e-6
    assert got["window 16"][1] == pytest.approx(25374 * full + last)
    text = table(prof, [6, 596])
    assert "seed check: ELF-loading line at 298.4 s (596 MB) and 16.7 s (6 MB): 0.701 ms" in text
    assert "tftp_round_trip_s: 0.689 ms (0.649-0.689) fitted" in text


def test_target_settings_choose_the_scenario() -> None:
    prof = load_profile(PROFILE)
    assert target_scenario(prof, None, None) == SEED_SCENARIO
    s = target_scenario(prof, None, 16)
    assert (s.block, s.window) == (1468, 16)


def _write_profile(tmp: Path, monkeypatch: pytest.MonkeyPatch, load_section: object) -> None:
    data = yaml.safe_load((harness.profile.PROFILES / f"{PROFILE}.yaml").read_text())
    data["load"] = load_section
    (tmp / "edited.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setattr(harness.profile, "PROFILES", tmp)


def _load_section() -> dict[str, dict[str, object]]:
    data = yaml.safe_load((harness.profile.PROFILES / f"{PROFILE}.yaml").read_text())
    return dict(data["load"])


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda d: d.pop("tftp_round_trip_s"), "load.tftp_round_trip_s"),
        (lambda d: d["uboot_frame_s"].pop("source"), "load.uboot_frame_s.source"),
        (lambda d: d["link_bits_per_s"].pop("range"), "load.link_bits_per_s.range"),
        (lambda d: d["tftp_window"].update(value=1.5, range=[1, 2]), "load.tftp_window"),
        (lambda d: d["mmc_read_bytes_per_s"].update(range=[0, 1.5e8]), "load.mmc_read_bytes_per_s.range"),
        (lambda d: d["link_bits_per_s"].update(kind="GUESS"), "load.link_bits_per_s.kind"),
        (lambda d: d.update(ping_s={"value": 1}), "load.ping_s"),
    ],
)
def test_a_load_section_without_what_it_needs_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Callable[[dict[str, dict[str, object]]], object], field: str
) -> None:
    section = _load_section()
    edit(section)
    _write_profile(tmp_path, monkeypatch, section)
    with pytest.raises(HarnessError) as err:
        load_profile("edited")
    assert err.value.field == field and "edited.yaml" in str(err.value) and err.value.fix


def test_a_profile_without_load_prices_no_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load((harness.profile.PROFILES / f"{PROFILE}.yaml").read_text())
    del data["load"]
    (tmp_path / "bare.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setattr(harness.profile, "PROFILES", tmp_path)
    prof = load_profile("bare")
    assert prof.load == {}
    with pytest.raises(ValueError, match="no load: section"):
        load_band(prof, 6e6)

"""Modeled board load time: how long U-Boot takes to fetch an image, from a profile's
network and storage parameters (its `load:` section), as a band over their ranges.

TFTP as U-Boot runs it by default is RFC 1350's lock-step: one block in flight, the
next sent only when its acknowledgement arrived. A block costs its frame on the wire
plus one round trip (U-Boot receiving it and sending the ACK, the ACK on the wire, the
server turning round); at the seed's ~0.7 ms round trip and 1468-byte blocks that is
~2.1 MB/s whatever the link. RFC 7440's window sends W blocks per ACK: one round trip
per window, the blocks in between streamed at the larger of their wire time and
U-Boot's cost of receiving a frame. A block above the Ethernet payload (1468 bytes)
travels as IP fragments, which U-Boot reassembles only with CONFIG_IP_DEFRAG.

Per window of W blocks of B bytes, F frames each (the unit of everything below):

    t_window = round_trip + wire(B) + (W*F - 1) * max(wire(B)/F, frame_cost)

W = F = 1 is the lock-step exchange, `round_trip + wire(B)`. A load of N bytes is
N // B + 1 blocks (TFTP ends on a short, possibly empty block), each priced whole.
`load mmc` reads at the card's rate: N / mmc_read_bytes_per_s.

The round trip is FITTED to the seed (the image's `ELF-loading image` line 298.4 s
into the log for 596 MB, 16.7 s for 6 MB: the difference is the per-byte work, the
lock-step transfer first of all). The fit holds the seed's exchange per block fixed:
when the link speed moves within its range, the round trip moves the other way
(`round_trips`), as the fitted uncached access does in board_time.py. Figures are
always MODELED: a board's own `Bytes transferred` and rate line win.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator, Mapping

from .profile import Parameter, Profile

__all__ = [
    "LOAD_SEEDS",
    "Link",
    "Scenario",
    "LoadBand",
    "blocks",
    "wire_s",
    "frames",
    "tftp_s",
    "mmc_s",
    "seed_exchange_s",
    "fit_round_trip",
    "round_trips",
    "load_band",
    "SEED_SCENARIO",
    "target_scenario",
]

# The seed: seconds into the armStone's log at which the elfloader printed
# `ELF-loading image 'genode.elf'`, by image size. Everything before it that grows with
# the image is the load (TFTP) and bootm's checksum of it; everything else is fixed.
LOAD_SEEDS: tuple[tuple[float, float], ...] = ((596e6, 298.4), (6e6, 16.7))

ETHERNET_PAYLOAD = 1500  # the MTU: one IP datagram per frame
FRAME_OVERHEAD = 38  # header 14 + FCS 4 + preamble 8 + inter-frame gap 12
MIN_FRAME_PAYLOAD = 46  # a shorter payload is padded
IP_HEADER, UDP_HEADER, TFTP_HEADER = 20, 8, 4
FRAGMENT_DATA = 1480  # IP payload per fragment at a 1500-byte MTU (a multiple of 8)


def blocks(nbytes: float, block: int) -> int:
    """TFTP blocks for a file: every full block and the short (possibly empty) last one."""
    return int(nbytes // block) + 1


def frames(block: int) -> int:
    """Ethernet frames one DATA block takes (IP fragments above 1468 bytes)."""
    udp = block + TFTP_HEADER + UDP_HEADER
    return 1 if udp + IP_HEADER <= ETHERNET_PAYLOAD else -(-udp // FRAGMENT_DATA)


def wire_s(block: int, link_bits_per_s: float) -> float:
    """Serialisation of one DATA block on the link, all its frames with their overhead."""
    udp = block + TFTP_HEADER + UDP_HEADER
    n = frames(block)
    payload = max(udp + n * IP_HEADER, MIN_FRAME_PAYLOAD)
    return (payload + n * FRAME_OVERHEAD) * 8 / link_bits_per_s


@dataclass(frozen=True)
class Link:
    """One board's TFTP path: link speed, round trip, U-Boot's cost per streamed frame."""

    bits_per_s: float
    round_trip_s: float
    frame_s: float


def window_s(link: Link, block: int, window: int) -> float:
    """One window of `window` blocks: one round trip, the blocks streamed in between."""
    f = frames(block)
    wire = wire_s(block, link.bits_per_s)
    return link.round_trip_s + wire + (window * f - 1) * max(wire / f, link.frame_s)


def tftp_s(nbytes: float, link: Link, block: int, window: int = 1) -> float:
    """A TFTP load of `nbytes`: full windows, then the partial last one."""
    n = blocks(nbytes, block)
    full, rest = divmod(n, window)
    return full * window_s(link, block, window) + (window_s(link, block, rest) if rest else 0.0)


def mmc_s(nbytes: float, bytes_per_s: float) -> float:
    """`load mmc`: the image read from eMMC/SD at the card's rate."""
    return nbytes / bytes_per_s


def seed_exchange_s(block: int, mib: bool = False, seeds: tuple[tuple[float, float], ...] = LOAD_SEEDS) -> float:
    """The seed's lock-step exchange per block: the seeds' extra seconds per extra byte,
    times the block. `mib`: the log's "MB" read as MiB (`ls -h` prints MiB)."""
    (big, t_big), (small, t_small) = seeds
    scale = float(1 << 20) / 1e6 if mib else 1.0
    return (t_big - t_small) / ((big - small) * scale) * block


def fit_round_trip(block: int, link_bits_per_s: float, mib: bool = False) -> float:
    """The round trip that meets the seed at this link speed: the exchange less the
    block's own time on the wire."""
    return seed_exchange_s(block, mib) - wire_s(block, link_bits_per_s)


@dataclass(frozen=True)
class Scenario:
    """A way to load: TFTP with a block size and window, or `load mmc`."""

    name: str
    block: int = 1468
    window: int = 1
    mmc: bool = False

    def describe(self) -> str:
        if self.mmc:
            return "load mmc (eMMC/SD)"
        mode = "lock-step" if self.window == 1 else f"window {self.window}"
        defrag = ", IP fragments: needs CONFIG_IP_DEFRAG" if frames(self.block) > 1 else ""
        return f"TFTP {self.block}-byte blocks, {mode}{defrag}"


SEED_SCENARIO = Scenario("seed", 1468, 1)


@dataclass(frozen=True)
class LoadBand:
    """A modeled load: seconds at the profile's values, least and greatest over its ranges."""

    scenario: Scenario
    nbytes: float
    nominal: float
    low: float
    high: float
    profile: str = ""

    @property
    def rate_bytes_per_s(self) -> float:
        return self.nbytes / self.nominal

    def describe(self) -> str:
        size = f"{self.nbytes / 1e6:.0f} MB" if self.nbytes >= 1e7 else f"{self.nbytes / 1e6:.3g} MB"
        where = f" on {self.profile}" if self.profile else ""
        return (
            f"modeled load {_s(self.nominal)} s (band {_s(self.low)}-{_s(self.high)} s) of "
            f"{size}{where}, {self.scenario.describe()}"
        )

    def to_json(self) -> dict[str, object]:
        s = self.scenario
        return {
            "label": "modeled",
            "profile": self.profile,
            "bytes": self.nbytes,
            "total_s": self.nominal,
            "band_s": [self.low, self.high],
            "scenario": {"name": s.name, "block": s.block, "window": s.window, "mmc": s.mmc},
        }


def _s(seconds: float) -> str:
    return f"{seconds:.0f}" if seconds >= 100 else f"{seconds:.3g}"


def _ends(p: Parameter) -> list[float]:
    return sorted({p.low, p.value, p.high})


def round_trips(load: Mapping[str, Parameter]) -> Iterator[Link]:
    """The profile's links at every end of the ranges: each link speed with the round trip
    refitted so the seed's exchange per block stays where the fit put it."""
    link, rtt, frame = load["link_bits_per_s"], load["tftp_round_trip_s"], load["uboot_frame_s"]
    seed_block = int(load["tftp_block_bytes"].value)
    for bits, exchange_rtt, cost in itertools.product(_ends(link), _ends(rtt), _ends(frame)):
        exchange = exchange_rtt + wire_s(seed_block, link.value)
        yield Link(bits, exchange - wire_s(seed_block, bits), cost)


def nominal_link(load: Mapping[str, Parameter]) -> Link:
    return Link(load["link_bits_per_s"].value, load["tftp_round_trip_s"].value, load["uboot_frame_s"].value)


def _time(nbytes: float, s: Scenario, link: Link, mmc: float) -> float:
    return mmc_s(nbytes, mmc) if s.mmc else tftp_s(nbytes, link, s.block, s.window)


def load_band(profile: Profile, nbytes: float, scenario: Scenario = SEED_SCENARIO) -> LoadBand:
    """The modeled load of `nbytes` over the profile's `load:` ranges (ValueError without one).

    Modeled time rises with the round trip and the frame cost and falls with the card's
    rate; with the round trip refitted it falls with the link speed for blocks at least
    the seed's, so its extremes are at the ranges' ends (the value is taken too)."""
    load = profile.load
    if not load:
        raise ValueError(f"profile {profile.name} has no load: section")
    mmc = load["mmc_read_bytes_per_s"]
    nominal = _time(nbytes, scenario, nominal_link(load), mmc.value)
    times = [_time(nbytes, scenario, link, rate) for link in round_trips(load) for rate in _ends(mmc)]
    return LoadBand(scenario, nbytes, nominal, min(times), max(times), profile.name)


def target_scenario(profile: Profile, block: int | None, window: int | None, mmc: bool = False) -> Scenario:
    """What a target's settings (`transport: mmc`, or `tftpblocksize`, `tftpwindowsize`;
    None: U-Boot's own, the profile's) load with."""
    if mmc:
        return Scenario("target", mmc=True)
    if block is None and window is None:
        return SEED_SCENARIO
    return Scenario(
        "target", block or int(profile.load["tftp_block_bytes"].value), window or int(profile.load["tftp_window"].value)
    )

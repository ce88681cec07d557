"""The trace formatter against tcpdump itself, on packets tcpkit writes.

Thousands of seeded packets per link type, well formed and deliberately broken (flipped,
cut, scrambled bytes, short captures), written to pcap by tcpkit and printed by both
``tcpdump -n -r`` and tcpkit, in each of tcpdump's sequence and timestamp styles.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tcpkit.wire.capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
)
from tcpkit.wire.pcap import PcapWriter
from tcpkit.wire.tcpdump import Formatter, TimeFormat
from tests.wire import packetgen as gen
from tests.wire.oracle import compare

pytestmark = pytest.mark.oracle

PACKETS = 4000


def _ip(rng: random.Random) -> bytes:
    return gen.ipv4_packet(rng) if rng.random() < 0.6 else gen.ipv6_packet(rng)


def _ethernet(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.1:
        return gen.arp_frame(rng)
    if r < 0.15:
        return gen.ethernet_frame(rng, rng.randbytes(30), rng.choice([0x88CC, 0x1234, 0x6004]))
    ethertype = 0x0800 if r < 0.6 else 0x86DD
    payload = gen.ipv4_packet(rng) if ethertype == 0x0800 else gen.ipv6_packet(rng)
    if rng.random() < 0.05:  # an 802.1Q tag, which tcpdump skips without -e
        return gen.ethernet_frame(rng, b"\x00\x05" + ethertype.to_bytes(2, "big") + payload,
                                  0x8100)
    return gen.ethernet_frame(rng, payload, ethertype)


def _cooked(rng: random.Random) -> bytes:
    packet = _ip(rng)
    proto = (0x0800 if packet[0] >> 4 == 4 else 0x86DD).to_bytes(2, "big")
    return rng.choice([b"\x00\x00", b"\x00\x04"]) + b"\x00\x01\x00\x06" + rng.randbytes(8) + \
        proto + packet


def _cooked2(rng: random.Random) -> bytes:
    packet = _ip(rng)
    proto = (0x0800 if packet[0] >> 4 == 4 else 0x86DD).to_bytes(2, "big")
    index = rng.choice([1, 2, 4000]).to_bytes(4, "big")  # lo, maybe another, none
    return proto + b"\x00\x00" + index + b"\x00\x01" + bytes([rng.choice([0, 4, 9])]) + \
        b"\x06" + rng.randbytes(8) + packet


def _random_bytes(rng: random.Random) -> bytes:
    data = rng.randbytes(rng.randrange(1, 120))
    return bytes([rng.choice([0x45, 0x46, 0x4F, 0x60, 0x50])]) + data


GENERATORS: dict[str, tuple[int, Callable[[random.Random], bytes]]] = {
    "raw": (LINKTYPE_RAW, _ip),
    "ethernet": (LINKTYPE_ETHERNET, _ethernet),
    "sll": (LINKTYPE_LINUX_SLL, _cooked),
    "sll2": (LINKTYPE_LINUX_SLL2, _cooked2),
    "random": (LINKTYPE_RAW, _random_bytes),
}


def write_capture(path: Path, linktype: int, make: Callable[[random.Random], bytes], seed: int,
                  *, nanosecond: bool = False) -> None:
    rng = random.Random(seed)
    ts = 1_700_000_000_123_456_789
    with PcapWriter(path, linktype, nanosecond=nanosecond) as writer:
        for _ in range(PACKETS):
            data = make(rng)
            if rng.random() < 0.4:
                data = gen.mutate(rng, data) or b"\x45"
            orig = len(data)
            if rng.random() < 0.15:  # captured with a short snaplen
                data = data[: rng.randrange(1, orig + 1)]
            ts += rng.choice([0, 1, 999, 1000, 1_000_001, 123_456_789, 3_600_000_000_000])
            writer.write_ns(data, ts, orig_len=orig)


@pytest.mark.parametrize("kind", list(GENERATORS))
@pytest.mark.parametrize(
    ("flags", "options"),
    [
        ((), {}),
        (("-S",), {"absolute": True}),
        (("-tt",), {"time_format": TimeFormat.EPOCH}),
    ],
    ids=["default", "-S", "-tt"],
)
def test_identical_to_tcpdump(tcpdump: str, tmp_path: Path, utc: None, kind: str,
                              flags: tuple[str, ...], options: dict[str, object]) -> None:
    linktype, make = GENERATORS[kind]
    path = tmp_path / f"{kind}.pcap"
    write_capture(path, linktype, make, seed=zlib.crc32(kind.encode()))
    result = compare(tcpdump, path, Formatter(**options), "-n", *flags)  # type: ignore[arg-type]
    assert not result.mismatches, result.report()
    # Most lines are compared, not waved through as placeholders.
    assert result.compared >= 0.8 * PACKETS, (result.compared, result.placeholders)


@pytest.mark.parametrize("style", list(TimeFormat))
@pytest.mark.parametrize("nano", [False, True], ids=["micro", "nano"])
def test_every_timestamp_style(tcpdump: str, tmp_path: Path, utc: None, style: TimeFormat,
                               nano: bool) -> None:
    path = tmp_path / "times.pcap"
    write_capture(path, LINKTYPE_RAW, _ip, seed=7, nanosecond=nano)
    flags = ["-n"] + (["-" + "t" * style.value] if style.value else []) + (
        ["--nano"] if nano else [])
    result = compare(tcpdump, path, Formatter(time_format=style, nano=nano), *flags)
    assert not result.mismatches, result.report()
    assert result.compared >= 0.8 * PACKETS


def test_a_mismatch_is_detected(tcpdump: str, tmp_path: Path, utc: None) -> None:
    # The oracle must be able to fail: print absolute numbers where tcpdump prints relative.
    path = tmp_path / "handshake.pcap"
    write_capture(path, LINKTYPE_RAW, _ip, seed=3)
    result = compare(tcpdump, path, Formatter(absolute=True), "-n")
    assert result.mismatches

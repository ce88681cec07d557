"""IPv4 and IPv6 headers: round trips, checksums, fragments, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpkit.wire.addresses import pack_ipv4
from tcpkit.wire.errors import BadChecksum, MalformedPacket
from tcpkit.wire.ipv4 import FLAG_DF, FLAG_MF, IPv4Header, parse_ipv4
from tcpkit.wire.ipv6 import IPv6Header, parse_ipv6
from tests.wire.strategies import ipv4_headers, ipv6_headers


@given(ipv4_headers, st.binary(max_size=200))
def test_ipv4_round_trip(header: IPv4Header, payload: bytes) -> None:
    packet = header.packet(payload)
    parsed, body = parse_ipv4(packet)
    assert body == payload
    assert parsed.total_length == len(packet)
    assert parsed.checksum is not None
    parsed.total_length = parsed.checksum = None
    assert parsed == header
    assert parsed.packet(payload) == packet


def test_ipv4_known_header_checksum() -> None:
    # A header from a real capture (Wikipedia's IPv4 checksum example): checksum b861.
    raw = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    header = IPv4Header(src="192.168.0.1", dst="192.168.0.199", protocol=17, ttl=64,
                        total_length=0x73, flags=FLAG_DF)
    assert header.build(0x73 - 20) == raw[:10] + bytes.fromhex("b861") + raw[12:]


def test_ipv4_padding_after_total_length_is_ignored() -> None:
    packet = IPv4Header(src="192.0.2.1", dst="192.0.2.2", protocol=6).packet(b"abc")
    _, body = parse_ipv4(packet + b"\x00" * 10)  # Ethernet padding to 60 bytes
    assert body == b"abc"


def test_ipv4_fragment_fields() -> None:
    header = IPv4Header(src="192.0.2.1", dst="192.0.2.2", protocol=17, flags=FLAG_MF,
                        fragment_offset=1480)
    parsed, _ = parse_ipv4(header.packet(b"x" * 8))
    assert parsed.fragment_offset == 1480 and parsed.flags == FLAG_MF and parsed.is_fragment
    with pytest.raises(ValueError, match="multiple of 8"):
        IPv4Header(src="192.0.2.1", dst="192.0.2.2", protocol=17, fragment_offset=3).build(0)


def test_ipv4_bad_checksum_is_reported() -> None:
    packet = bytearray(IPv4Header(src="192.0.2.1", dst="192.0.2.2", protocol=6).packet(b""))
    good = int.from_bytes(packet[10:12], "big")
    packet[10] ^= 0xFF
    with pytest.raises(BadChecksum) as info:
        parse_ipv4(bytes(packet))
    assert info.value.expected == good and info.value.offset == 10
    parse_ipv4(bytes(packet), verify=False)


@pytest.mark.parametrize(
    ("data", "reason", "offset"),
    [
        (b"\x45" + bytes(10), "truncated IPv4 header", 0),
        (b"\x65" + bytes(19), "version 6 is not 4", 0),
        (b"\x44" + bytes(19), "header length 16 is below 20", 0),
        (b"\x46\x00\x00\x14" + bytes(16), "truncated IPv4 header with options", 0),
        (b"\x45\x00\x00\x10" + bytes(16), "total length 16 is shorter than the header", 2),
        (b"\x45\x00\x00\x40" + bytes(16), "total length 64 exceeds the 20 bytes received", 2),
    ],
)
def test_ipv4_malformed(data: bytes, reason: str, offset: int) -> None:
    with pytest.raises(MalformedPacket) as info:
        parse_ipv4(data, verify=False)
    assert info.value.reason.startswith(reason), info.value.reason
    assert info.value.offset == offset


def test_ipv4_partial_datagram_as_quoted_by_icmp() -> None:
    packet = IPv4Header(src="192.0.2.1", dst="192.0.2.2", protocol=6).packet(bytes(100))
    header, body = parse_ipv4(packet[:28], partial=True)
    assert header.total_length == 120 and body == bytes(8)


def test_bad_addresses_are_refused() -> None:
    for bad in ("1.2.3", "256.1.1.1", "::1", "1"):
        with pytest.raises(ValueError, match="not an IPv4 address"):
            pack_ipv4(bad)
    with pytest.raises(ValueError, match="not an IPv6 address"):
        IPv6Header(src="192.0.2.1", dst="::1", next_header=6)


@given(ipv6_headers, st.binary(max_size=200))
def test_ipv6_round_trip(header: IPv6Header, payload: bytes) -> None:
    packet = header.packet(payload)
    parsed, body = parse_ipv6(packet)
    assert body == payload and parsed.payload_length == len(payload)
    parsed.payload_length = None
    assert parsed == header
    assert parsed.packet(payload) == packet


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (bytes(39), "truncated IPv6 header"),
        (b"\x40" + bytes(39), "version 4 is not 6"),
        (b"\x60\x00\x00\x00\x00\x10" + bytes(34), "payload length 16 exceeds the 0 bytes"),
    ],
)
def test_ipv6_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedPacket) as info:
        parse_ipv6(data)
    assert info.value.reason.startswith(reason), info.value.reason

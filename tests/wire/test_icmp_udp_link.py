"""ICMP, ICMPv6, UDP, Ethernet and ARP: round trips and the fields TCP relies on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.errors import BadChecksum, MalformedPacket
from tcpkit.wire.ethernet import (
    ARP_REQUEST,
    ETHERTYPE_IPV4,
    ARPPacket,
    EthernetHeader,
    mac_from_str,
    mac_to_str,
    parse_arp,
    parse_ethernet,
)
from tcpkit.wire.icmp import (
    DEST_UNREACHABLE,
    FRAGMENTATION_NEEDED,
    MAX_QUOTE,
    PORT_UNREACHABLE,
    V6_PACKET_TOO_BIG,
    ICMPMessage,
    parse_icmp,
)
from tcpkit.wire.ipv4 import IPv4Header
from tcpkit.wire.tcp import SYN, TCPSegment, parse_tcp
from tcpkit.wire.udp import UDPDatagram, parse_udp
from tests.wire.strategies import icmp_messages, ipv4_addresses, u16, udp_datagrams

V6_PSEUDO = pseudo_header(bytes(15) + b"\x01", bytes(15) + b"\x02", 58)
V4_UDP_PSEUDO = pseudo_header(bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]), 17)


@given(icmp_messages)
def test_icmp_round_trip_v4_and_v6(message: ICMPMessage) -> None:
    for pseudo in (0, V6_PSEUDO):
        data = message.build(pseudo)
        parsed = parse_icmp(data, pseudo)
        parsed.checksum = None
        assert parsed == message
        assert parsed.build(pseudo) == data


def test_destination_unreachable_quotes_the_datagram() -> None:
    ip = IPv4Header(src="192.0.2.1", dst="192.0.2.2", protocol=6)
    offending = ip.packet(TCPSegment(40000, 80, 123, 0, SYN).build(0) + bytes(1000))
    message = ICMPMessage.destination_unreachable(FRAGMENTATION_NEEDED, offending, 1400)
    parsed = parse_icmp(message.build())
    assert parsed.type == DEST_UNREACHABLE and parsed.next_hop_mtu == 1400
    assert len(parsed.body) == MAX_QUOTE == 548
    quoted, transport = parsed.quoted_ipv4()
    assert quoted.dst == "192.0.2.2" and quoted.total_length == len(offending)
    assert parse_tcp(transport).seq == 123


def test_echo_and_packet_too_big_fields() -> None:
    echo = ICMPMessage.echo_request(0x1234, 7, b"ping")
    assert (echo.identifier, echo.sequence) == (0x1234, 7)
    too_big = ICMPMessage(V6_PACKET_TOO_BIG, 0, (1280).to_bytes(4, "big"))
    assert too_big.next_hop_mtu == 1280
    assert ICMPMessage(DEST_UNREACHABLE, PORT_UNREACHABLE).is_error


def test_icmp_bad_checksum() -> None:
    data = bytearray(ICMPMessage.echo_request(1, 1, b"x").build())
    data[2] ^= 1
    with pytest.raises(BadChecksum):
        parse_icmp(bytes(data))
    with pytest.raises(MalformedPacket, match="truncated ICMP header"):
        parse_icmp(b"\x08\x00")


@given(udp_datagrams)
def test_udp_round_trip(datagram: UDPDatagram) -> None:
    data = datagram.build(V4_UDP_PSEUDO)
    parsed = parse_udp(data + b"pad", V4_UDP_PSEUDO)
    assert parsed.payload == datagram.payload
    assert parsed.checksum != 0  # a computed zero goes on the wire as 0xFFFF (RFC 768)
    parsed.checksum = parsed.length = None
    assert parsed == datagram


def test_udp_malformed_and_no_checksum() -> None:
    with pytest.raises(MalformedPacket, match="length 4 is below"):
        parse_udp(b"\x00\x01\x00\x02\x00\x04\x00\x00")
    with pytest.raises(MalformedPacket, match="length 20 exceeds"):
        parse_udp(b"\x00\x01\x00\x02\x00\x14\x00\x00")
    # Checksum zero: the sender computed none, so there is nothing to verify.
    assert parse_udp(b"\x00\x01\x00\x02\x00\x09\x00\x00!", V4_UDP_PSEUDO).payload == b"!"
    bad = bytearray(UDPDatagram(1, 2, b"hi").build(V4_UDP_PSEUDO))
    bad[7] ^= 1
    with pytest.raises(BadChecksum):
        parse_udp(bytes(bad), V4_UDP_PSEUDO)


def test_ethernet_and_arp() -> None:
    mac = mac_from_str("02:00:00:00:00:01")
    assert mac_to_str(mac) == "02:00:00:00:00:01"
    frame = EthernetHeader(b"\xff" * 6, mac, ETHERTYPE_IPV4).build() + b"payload"
    header, payload = parse_ethernet(frame)
    assert header.src == mac and header.ethertype == ETHERTYPE_IPV4 and payload == b"payload"
    arp = ARPPacket(ARP_REQUEST, mac, "192.0.2.1", bytes(6), "192.0.2.2")
    assert parse_arp(arp.build()) == arp
    with pytest.raises(MalformedPacket, match="not IPv4 over Ethernet"):
        parse_arp(b"\x00\x06" + arp.build()[2:])
    with pytest.raises(MalformedPacket, match="truncated Ethernet header"):
        parse_ethernet(b"\x00" * 13)
    with pytest.raises(ValueError, match="not a MAC address"):
        mac_from_str("02:00:00:00:00")


@given(st.binary(min_size=6, max_size=6), st.binary(min_size=6, max_size=6), u16,
       st.binary(max_size=100))
def test_ethernet_round_trip(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> None:
    header = EthernetHeader(dst, src, ethertype)
    parsed, body = parse_ethernet(header.build() + payload)
    assert parsed == header and body == payload


@given(st.sampled_from([1, 2]), st.binary(min_size=6, max_size=6), ipv4_addresses,
       st.binary(min_size=6, max_size=6), ipv4_addresses)
def test_arp_round_trip(op: int, sha: bytes, spa: str, tha: bytes, tpa: str) -> None:
    arp = ARPPacket(op, sha, spa, tha, tpa)
    assert parse_arp(arp.build()) == arp

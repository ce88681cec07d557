"""Hypothesis strategies for every header and option of :mod:`tcpkit.wire`."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from tcpkit.wire.icmp import ICMPMessage
from tcpkit.wire.ipv4 import IPv4Header
from tcpkit.wire.ipv6 import IPv6Header
from tcpkit.wire.tcp import TCPSegment
from tcpkit.wire.tcp_options import (
    MSS,
    NOP,
    SACK_PERMITTED,
    EndOfOptions,
    FastOpen,
    Sack,
    TCPOption,
    Timestamps,
    UnknownOption,
    WindowScale,
)
from tcpkit.wire.udp import UDPDatagram

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ipv4_addresses = st.builds(lambda n: str(ipaddress.IPv4Address(n)), u32)
ipv6_addresses = st.builds(lambda n: str(ipaddress.IPv6Address(n)), st.integers(0, 2**128 - 1))

# Known kinds are generated through their classes; UnknownOption gets the other kinds.
unknown_kinds = st.integers(6, 255).filter(lambda k: k not in (8, 34, 254))
cookies = st.just(b"") | st.binary(min_size=4, max_size=16)
sack_blocks = st.lists(st.tuples(u32, u32), min_size=1, max_size=4).map(tuple)

options = st.one_of(
    st.just(NOP),
    st.builds(MSS, u16),
    st.builds(WindowScale, u8),
    st.just(SACK_PERMITTED),
    st.builds(Sack, sack_blocks),
    st.builds(Timestamps, u32, u32),
    st.builds(FastOpen, cookies, st.booleans()),
    st.builds(UnknownOption, unknown_kinds, st.binary(max_size=10)),
)


@st.composite
def option_lists(draw: st.DrawFn) -> tuple[TCPOption, ...]:
    """Options that fill a whole number of 32-bit words (or end with EOL + padding), at
    most 40 bytes: exactly what a header can carry."""
    chosen: list[TCPOption] = []
    size = 0
    for opt in draw(st.lists(options, max_size=8)):
        n = len(opt.to_bytes())
        if size + n > 40:
            break
        chosen.append(opt)
        size += n
    pad = -size % 4
    if pad or (draw(st.booleans()) and size < 40):
        chosen.append(EndOfOptions(b"\x00" * (pad - 1 if pad else 3)))
    return tuple(chosen)


tcp_segments = st.builds(
    TCPSegment,
    src_port=u16,
    dst_port=u16,
    seq=u32,
    ack=u32,
    flags=st.integers(0, 0xFFF),
    window=u16,
    urgent=u16,
    options=option_lists(),
    payload=st.binary(max_size=300),
)

ipv4_headers = st.builds(
    IPv4Header,
    src=ipv4_addresses,
    dst=ipv4_addresses,
    protocol=u8,
    ttl=u8,
    tos=u8,
    identification=u16,
    flags=st.integers(0, 7),
    fragment_offset=st.integers(0, 0x1FFF).map(lambda units: units * 8),
    options=st.binary(max_size=40).map(lambda b: b + b"\x00" * (-len(b) % 4)),
)

ipv6_headers = st.builds(
    IPv6Header,
    src=ipv6_addresses,
    dst=ipv6_addresses,
    next_header=u8,
    hop_limit=u8,
    traffic_class=u8,
    flow_label=st.integers(0, 2**20 - 1),
)

icmp_messages = st.builds(ICMPMessage, type=u8, code=u8, rest=st.binary(min_size=4, max_size=4),
                          body=st.binary(max_size=600))

udp_datagrams = st.builds(UDPDatagram, src_port=u16, dst_port=u16, payload=st.binary(max_size=600))

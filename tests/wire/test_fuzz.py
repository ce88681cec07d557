"""100,000 random and mutated packets: parsers raise MalformedPacket or nothing else, and
the trace formatter never raises at all."""

from __future__ import annotations

import contextlib
import io
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpkit.wire.capture import LINKTYPE_ETHERNET, LINKTYPE_RAW, CapturedPacket
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.errors import MalformedPacket
from tcpkit.wire.ethernet import parse_arp, parse_ethernet
from tcpkit.wire.icmp import parse_icmp
from tcpkit.wire.ipv4 import parse_ipv4
from tcpkit.wire.ipv6 import parse_ipv6
from tcpkit.wire.pcap import PcapWriter
from tcpkit.wire.tcp import parse_tcp
from tcpkit.wire.tcpdump import Formatter
from tcpkit.wire.udp import parse_udp
from tests.wire import packetgen as gen

PSEUDO = pseudo_header(bytes(4), bytes(4), 6)


def parse_everything(data: bytes) -> None:
    """Every parser tcpkit has, on the same bytes, the way the stack would chain them."""
    for parse in (parse_tcp, parse_udp, parse_icmp, parse_arp, parse_ethernet, parse_ipv6):
        with contextlib.suppress(MalformedPacket):
            parse(data)  # type: ignore[operator]
    for verify in (True, False):
        try:
            _ip, body = parse_ipv4(data, verify=verify)
            parse_tcp(body, PSEUDO)
        except MalformedPacket:
            pass
    with contextlib.suppress(MalformedPacket):
        parse_tcp(data, PSEUDO)


def test_hundred_thousand_packets() -> None:
    rng = random.Random(0xF0220)
    formatter = Formatter()
    makers = (gen.ipv4_packet, gen.ipv6_packet, gen.arp_frame)
    for i in range(100_000):
        r = rng.random()
        if r < 0.2:
            data = rng.randbytes(rng.randrange(0, 80))
        else:
            data = gen.mutate(rng, makers[i % 3](rng))
        parse_everything(data)
        linktype = LINKTYPE_ETHERNET if i % 3 == 2 else LINKTYPE_RAW
        formatter.line(CapturedPacket(i, data, len(data) + rng.choice([0, 0, 5]), linktype))


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_capture_files_raise_only_malformed(tail: bytes) -> None:
    buffer = io.BytesIO()
    with PcapWriter(buffer) as writer:
        writer.write_ns(b"\x45" + bytes(19), 0)
    for raw in (buffer.getvalue() + tail, buffer.getvalue()[:24] + tail, tail,
                bytes.fromhex("0a0d0d0a") + tail):
        try:
            for _ in open_capture(io.BytesIO(raw)):
                pass
        except MalformedPacket:
            pass

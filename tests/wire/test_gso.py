"""Software GSO (wire.gso): a super-segment cut into segments must be, byte for byte,
the segments a sender without GSO builds, as Linux's tcp_gso_segment makes them: the
kernel judges the same code over plain TUN in tests/links/test_tun.py (bulk transfers
with SHA-256 compared, every checksum verified by Linux)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.gso import segment_tcp
from tcpkit.wire.ipv4 import PROTO_TCP, IPv4Header, parse_ipv4
from tcpkit.wire.tcp import ACK, CWR, FIN, PSH, TCPSegment, parse_tcp
from tcpkit.wire.tcp_options import NOP, Timestamps

SRC, DST = "192.0.2.2", "192.0.2.1"


@given(size=st.integers(1, 65000), gso=st.integers(536, 9000), fin=st.booleans(),
       cwr=st.booleans(), ident=st.integers(0, 0xFFFF), seq=st.integers(0, 2**32 - 1),
       timestamps=st.booleans())
def test_the_segments_are_those_a_sender_without_gso_builds(
        size: int, gso: int, fin: bool, cwr: bool, ident: int, seq: int,
        timestamps: bool) -> None:
    payload = bytes(i * 7 % 251 for i in range(size))
    flags = ACK | PSH | (FIN if fin else 0) | (CWR if cwr else 0)
    options = (NOP, NOP, Timestamps(123456, 654321)) if timestamps else ()
    big = TCPSegment(40000, 80, seq, 99, flags, 502, 0, options, payload, gso_size=gso)
    ip = IPv4Header(src=SRC, dst=DST, protocol=PROTO_TCP, identification=ident)
    pseudo = pseudo_header(ip.src_packed, ip.dst_packed, PROTO_TCP)
    tcp_header = big.header(pseudo, offload=True)
    headers = ip.build(len(tcp_header) + size) + tcp_header
    cut = segment_tcp(headers, payload, len(tcp_header), gso)
    assert len(cut) == -(-size // gso)
    for index, (head, piece) in enumerate(cut):
        offset = index * gso
        last = index == len(cut) - 1
        piece_flags = flags & ~(0 if last else FIN | PSH) & ~(CWR if index else 0)
        expected_tcp = TCPSegment(40000, 80, (seq + offset) & 0xFFFFFFFF, 99, piece_flags,
                                  502, 0, options, payload[offset:offset + gso])
        expected_ip = IPv4Header(src=SRC, dst=DST, protocol=PROTO_TCP,
                                 identification=(ident + index) & 0xFFFF)
        expected = expected_ip.packet(expected_tcp.build(pseudo))
        packet = head + bytes(piece)
        assert packet == expected
        header, segment = parse_ipv4(packet)  # both checksums verify
        assert parse_tcp(segment, pseudo).payload == payload[offset:offset + gso]

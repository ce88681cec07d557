"""Software GSO (wire.gso): a super-segment cut into segments must be, byte for byte,
the segments a sender without GSO builds, as Linux's tcp_gso_segment makes them: the
kernel judges the same code over plain TUN in tests/links/test_tun.py (bulk transfers
with SHA-256 compared, every checksum verified by Linux)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.gso import coalesce_tcp, segment_tcp
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


def _packet(seq: int, payload: bytes, *, flags: int = ACK, sport: int = 40000,
            ack: int = 7, tsval: int = 1, ident: int = 0) -> bytes:
    ip = IPv4Header(src=DST, dst=SRC, protocol=PROTO_TCP, identification=ident)
    pseudo = pseudo_header(ip.src_packed, ip.dst_packed, PROTO_TCP)
    seg = TCPSegment(sport, 80, seq & 0xFFFFFFFF, ack, flags, 500, 0,
                     (NOP, NOP, Timestamps(tsval, 9)), payload)
    return ip.packet(seg.build(pseudo))


@given(st.data())
def test_gro_merges_only_what_linux_would_and_loses_nothing(data: st.DataObject) -> None:
    """A batch of segments from two connections, with PSH, other flags, changed
    timestamps or ACKs, gaps and corrupted packets mixed in: the output, read in order,
    carries every payload byte of every packet exactly once, each merged packet is one
    connection's contiguous run of equal-sized segments (a shorter or PSH one last),
    and nothing that fails a check is merged or marked verified."""
    mss = 100
    seqs = {40000: 1000, 40001: 5000}
    batch: list[bytes] = []
    kinds: list[str] = []
    for i in range(data.draw(st.integers(1, 40))):
        sport = data.draw(st.sampled_from(sorted(seqs)))
        size = data.draw(st.sampled_from([mss, mss, mss, 40, 0]))
        flags = data.draw(st.sampled_from([ACK, ACK, ACK, ACK | PSH, ACK | FIN]))
        kind = data.draw(st.sampled_from(["ok"] * 6 + ["gap", "ts", "ack", "bad"]))
        seq = seqs[sport] + (50 if kind == "gap" else 0)
        packet = _packet(seq, bytes([i]) * size, flags=flags, sport=sport,
                         tsval=2 if kind == "ts" else 1, ack=8 if kind == "ack" else 7,
                         ident=i)
        if kind == "bad":
            packet = packet[:36] + bytes([packet[36] ^ 0xFF]) + packet[37:]  # TCP checksum
        seqs[sport] = seq + size
        batch.append(packet)
        kinds.append(kind)
    out = coalesce_tcp(batch)
    # Every input packet's payload, in order, per connection.
    def payloads(packets: list[bytes]) -> dict[int, bytes]:
        got: dict[int, bytes] = {}
        for packet in packets:
            header, segment = parse_ipv4(packet, verify=False)
            seg = parse_tcp(segment)
            got[seg.src_port] = got.get(seg.src_port, b"") + seg.payload
        return got
    assert payloads([p for p, _, _ in out]) == payloads(batch)
    merged = [(p, size) for p, size, _ in out if size]
    for packet, size in merged:
        header, segment = parse_ipv4(packet)  # the IP checksum was rewritten
        seg = parse_tcp(segment)
        assert seg.flags & ~PSH == ACK and len(seg.payload) > size
        assert len(packet) <= 0xFFFF
    for packet, _, verified in out:
        if verified:
            header, segment = parse_ipv4(packet)
            if not any(p == packet for p, _ in merged):
                parse_tcp(segment, pseudo_header(header.src_packed, header.dst_packed,
                                                 PROTO_TCP))  # verified means right
    # Corrupted packets come out untouched and unverified.
    for packet, kind in zip(batch, kinds, strict=True):
        if kind == "bad":
            assert (packet, 0, False) in out


def test_gro_makes_one_segment_of_a_run() -> None:
    run = [_packet(1000 + i * 100, bytes([i]) * 100) for i in range(10)]
    run.append(_packet(2000, b"z" * 30, flags=ACK | PSH))
    out = coalesce_tcp(run)
    assert len(out) == 1
    packet, size, verified = out[0]
    assert size == 100 and verified
    header, segment = parse_ipv4(packet)
    seg = parse_tcp(segment)
    assert seg.seq == 1000 and seg.flags == ACK | PSH
    assert seg.payload == b"".join(bytes([i]) * 100 for i in range(10)) + b"z" * 30

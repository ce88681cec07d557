"""A device that segments TCP itself (TSO over TUN): the engine hands it one super-segment
per GSO packet, and everything else (retransmit queue, counts, what the peer receives)
is what it would be with one segment per MSS."""

from __future__ import annotations

from tcpkit.links.pair import CLIENT, SERVER
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.isn import HostSecrets
from tcpkit.tcp.state import State
from tcpkit.wire.tcp import ACK, FIN, PSH, TCPSegment


def _established(gso: bool) -> tuple[Connection, Connection]:
    config = ConnectionConfig(sndbuf=4 << 20, rcvbuf=4 << 20, wmem_max=8 << 20,
                              rmem_max=8 << 20)
    a = Connection(CLIENT, SERVER, config, HostSecrets(b"a" * 32))
    b = Connection(SERVER, CLIENT, config, HostSecrets(b"b" * 32))
    a.gso = gso
    b.listen()
    a.connect(0.0)
    now = 0.0
    while a.state is not State.ESTABLISHED or b.state is not State.ESTABLISHED:
        for seg in a.segments_to_send():
            b.on_segment(seg, now)
        for seg in b.segments_to_send():
            a.on_segment(seg, now)
        now += 0.001
    return a, b


def _cut(seg: TCPSegment) -> list[TCPSegment]:
    """What the kernel's tcp_gso_segment makes of a super-segment: gso_size pieces, PSH
    and FIN on the last only."""
    if not seg.gso_size:
        return [seg]
    pieces = []
    payload = seg.payload
    for offset in range(0, len(payload), seg.gso_size):
        last = offset + seg.gso_size >= len(payload)
        flags = seg.flags if last else seg.flags & ~(PSH | FIN)
        pieces.append(TCPSegment(seg.src_port, seg.dst_port, (seg.seq + offset) & 0xFFFFFFFF,
                                 seg.ack, flags, seg.window, 0, seg.options,
                                 payload[offset:offset + seg.gso_size]))
    return pieces


def _record(conn: Connection) -> list[tuple[int, int, int, bool]]:
    return [(s.seq - conn.iss, s.end - conn.iss, s.flags, s.skb_end) for s in conn.rtx]


def test_one_super_segment_per_gso_packet_and_the_same_queue() -> None:
    data = bytes(range(256)) * 1024  # 256 KB: several GSO packets
    runs = {}
    for gso in (False, True):
        a, _ = _established(gso)
        a.send(data, 1.0)
        a.close(1.0)
        runs[gso] = (a.segments_to_send(), _record(a), a.packets_out, a.snd_nxt - a.iss,
                     a.sent_skbs)
    plain, offloaded = runs[False], runs[True]
    assert offloaded[1:] == plain[1:]  # retransmit queue, packets_out, SND.NXT, skbs
    assert [s for seg in offloaded[0] for s in _cut(seg)] == plain[0]
    big = [seg for seg in offloaded[0] if seg.gso_size]
    assert big and all(seg.gso_size == plain[0][0].seg_len for seg in big)
    assert all(seg.flags & (ACK | PSH) == ACK | PSH for seg in big)
    assert len(offloaded[0]) < len(plain[0])


def test_the_peer_takes_super_segments_whole() -> None:
    """What the kernel delivers over TUN with TSO: the receiver gets 64 KB segments."""
    a, b = _established(True)
    data = bytes(range(251)) * 4000  # about 1 MB, not a multiple of anything
    a.send(data, 1.0)
    got = bytearray()
    now = 1.0
    while len(got) < len(data):
        for seg in a.segments_to_send():
            b.on_segment(seg, now)
        got += b.receive(1 << 20, now)
        for seg in b.segments_to_send():
            a.on_segment(seg, now)
        now += 0.001
        for conn in (a, b):
            deadline = conn.next_deadline()
            if deadline is not None and deadline <= now:
                conn.on_timer(now)
    assert bytes(got) == data
    assert a.total_retrans == 0

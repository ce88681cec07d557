"""A device that segments TCP itself (TSO over TUN): the engine hands it one super-segment
per GSO packet, and everything else (retransmit queue, counts, what the peer receives)
is what it would be with one segment per MSS."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpkit.links.pair import CLIENT, SERVER
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.isn import HostSecrets
from tcpkit.tcp.state import State
from tcpkit.wire.tcp import ACK, FIN, PSH, TCPSegment
from tests.tcp.kit import established
from tests.tcp.test_bookkeeping import consistent, step


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
    """The retransmit queue, one entry per segment (a whole GSO packet is one record)."""
    return [(s.seq - conn.iss, s.end - conn.iss, s.flags, s.skb_end)
            for record in conn.rtx for s in record.segments()]


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


def test_whole_packets_in_the_queue() -> None:
    """One record per GSO packet (Linux's skb with its pcount), cut where an ACK falls
    inside one; every counter is in segments all the same."""
    a, _ = _established(True)
    a.send(bytes(200_000), 1.0)
    mss = a.mss_cache
    assert all(r.pcount == -(-(r.end - r.seq) // mss) for r in a.rtx)
    assert len(a.rtx) == a.sent_skbs < a.packets_out == sum(r.pcount for r in a.rtx)
    first = a.rtx[0]
    ack = TCPSegment(SERVER[1], CLIENT[1], a.rcv_nxt, (first.seq + 3 * mss + 10) & 0xFFFFFFFF,
                     ACK, 65535)
    pcount, end = first.pcount, first.end
    a.on_segment(ack, 1.01)
    head = a.rtx[0]  # the rest of the packet: three whole segments came off
    assert (head.seq, head.end, head.pcount) == (first.seq + 3 * mss, end, pcount - 3)
    assert a.packets_out == sum(r.pcount for r in a.rtx)


_FIELDS = ("snd_una", "snd_nxt", "packets_out", "sacked_out", "lost_out", "retrans_out",
           "cwnd", "ssthresh", "ca_state", "delivered", "lost", "sent_skbs", "high_seq",
           "reordering", "reord_seen", "rack_mstamp", "rack_end_seq", "rack_rtt_us",
           "total_retrans", "undo_marker", "prr_out", "prr_delivered", "xmit_kind",
           "xmit_deadline", "tlp_high_seq", "state")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sack=st.booleans(), timestamps=st.booleans(),
       nodelay=st.booleans())
def test_whole_packets_change_nothing_a_peer_or_the_books_can_see(
        seed: int, sack: bool, timestamps: bool, nodelay: bool) -> None:
    """The same random story (writes, ACKs and SACKs anywhere, zero windows, timers:
    test_bookkeeping's) told to a sender with and without a device that segments: the
    segments the peer gets, the retransmit queue segment by segment, and the counters
    recovery, RACK, PRR and the timers use are the same after every step."""
    runs = []
    for gso in (False, True):
        conn, peer = established(peer_options={"sack": sack, "timestamps": timestamps},
                                 nodelay=nodelay)
        conn.gso = gso
        runs.append((conn, peer))
    rngs = [random.Random(seed), random.Random(seed)]
    for _ in range(120):
        for (conn, peer), rng in zip(runs, rngs, strict=True):
            step(rng, conn, peer)
        (plain, plain_peer), (whole, whole_peer) = runs
        assert ([s for _, seg in whole_peer.sent for s in _cut(seg)]
                == [seg for _, seg in plain_peer.sent])
        assert [r for record in whole.rtx for r in record.segments()] == plain.rtx
        assert ({f: getattr(whole, f) for f in _FIELDS}
                == {f: getattr(plain, f) for f in _FIELDS})
        assert whole.packets_out == sum(r.pcount for r in whole.rtx)
        consistent(plain)

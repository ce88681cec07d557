"""The receiving side: when ACKs go out (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2,
RFC 5681 §4.2), out-of-order reassembly with SACK (RFC 2018) and D-SACK (RFC 2883),
and the advertised window (RFC 9293 §3.8.6.2.2 receiver SWS avoidance, RFC 7323 §2.4)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpkit.tcp.buffers import linear_truesize
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.events import Counted, DataReceived
from tcpkit.wire.tcp import ACK
from tcpkit.wire.tcp_options import Sack
from tests.tcp.kit import Peer, Rel, established

MSS = 1448  # 1460 less the timestamp option


def after_quickacks(**kw: object) -> tuple[Connection, Peer]:
    """A connection past its start-up quick ACKs (Linux ``tcp_incr_quickack``), with
    data arriving every 50 ms: a pause longer than the RTO would bring quick ACKs back
    (Linux ``tcp_event_data_recv``: "apparently sender failed to restart window")."""
    conn, peer = established(**kw)
    for _ in range(20):
        peer.send(peer.data(b"w" * 100))
        peer.wait(0.05)
        conn.receive(1 << 20, peer.now)
    assert not conn.ack_quick
    return conn, peer


def acks_after(peer: Peer, replies: list[Rel], wait: float = 1.0) -> list[tuple[float, Rel]]:
    start = peer.now
    later = peer.wait(wait)
    return [(0.0, r) for r in replies] + [(t - start, r) for t, r in later]


def sack_blocks(rel: Rel, base: int) -> list[tuple[int, int]]:
    for opt in rel.segment.options:
        if isinstance(opt, Sack):
            return [((a - base) & 0xFFFFFFFF, (b - base) & 0xFFFFFFFF) for a, b in opt.blocks]
    return []


# -- when to acknowledge -----------------------------------------------------------------

def test_quickack_at_start() -> None:
    """Linux enters quick-ACK mode when the first data arrives: each of the first
    segments (up to 16) is acknowledged at once, so the sender's slow start can grow."""
    conn, peer = established()
    for n in range(1, 9):
        replies = peer.send(peer.data(b"q" * MSS))
        assert [(r.flags, r.ack) for r in replies] == [(ACK, 1 + n * MSS)], n


def test_delayed_ack_after_quickacks() -> None:
    """RFC 1122 §4.2.3.2: an ACK may be delayed (less than 0.5 s); Linux waits its
    delayed-ACK timeout, 40 ms (TCP_ATO_MIN) for a lone segment."""
    conn, peer = after_quickacks()
    got = acks_after(peer, peer.send(peer.data(b"x" * 100)))
    assert len(got) == 1
    delay, ack = got[0]
    assert ack.ack == peer.next_seq
    assert 0.04 <= delay <= 0.2 + 0.008


def test_ack_every_second_full_segment() -> None:
    """RFC 5681 §4.2: an ACK SHOULD be generated for at least every second full-sized
    segment. Linux acknowledges more than one unacknowledged MSS at once if the window
    it can offer has not shrunk (``__tcp_ack_snd_check``), otherwise as soon as the
    application reads (``tcp_cleanup_rbuf``): either way, no delayed-ACK wait. (A
    segment that grows the window is acknowledged at once anyway, to advertise it.)"""
    conn, peer = after_quickacks()
    peer.send(peer.data(b"a" * MSS))
    replies = peer.send(peer.data(b"b" * MSS))
    if not replies:
        peer.call("receive", 1 << 20)
        replies = peer.last_replies
    (ack,) = replies
    assert ack.ack == peer.next_seq


def test_out_of_order_acked_at_once_with_sack() -> None:
    """RFC 5681 §4.2 / RFC 2018 §4: out-of-order data is acknowledged at once, the
    ACK naming RCV.NXT and a SACK block for what arrived."""
    conn, peer = after_quickacks()
    base = peer.next_seq
    (ack,) = peer.send(peer.data(b"2" * 100, seq=base + 100))
    assert ack.ack == base
    assert sack_blocks(ack, peer.isn) == [(base + 100, base + 200)]
    (ack,) = peer.send(peer.data(b"1" * 100, seq=base))  # fills the hole
    assert ack.ack == base + 200 and sack_blocks(ack, peer.isn) == []
    assert conn.receive(1000, peer.now) == b"1" * 100 + b"2" * 100


def test_sack_blocks_newest_first_at_most_three_with_timestamps() -> None:
    """RFC 2018 §4: the first block reports the most recently received segment; with
    the timestamp option only three blocks fit in 40 bytes of options."""
    conn, peer = after_quickacks()
    base = peer.next_seq
    for k in (1, 3, 5, 7):
        peer.send(peer.data(b"z" * 10, seq=base + 20 * k))
    # The fourth SACK update is compressed (tcp_comp_sack): it leaves within 1 ms.
    ((delay, last),) = acks_after(peer, [], 0.01)
    assert delay <= 0.001
    blocks = sack_blocks(last, peer.isn)
    assert blocks == [(base + 140, base + 150), (base + 100, base + 110),
                      (base + 60, base + 70)]


def test_duplicate_out_of_order_segment_gets_dsack() -> None:
    """RFC 2883 §4: a duplicate of out-of-order data is reported in a D-SACK block
    (first), followed by the SACK block containing it."""
    conn, peer = after_quickacks()
    base = peer.next_seq
    peer.send(peer.data(b"z" * 10, seq=base + 50))
    replies = peer.send(peer.data(b"z" * 10, seq=base + 50))
    assert sack_blocks(replies[-1], peer.isn)[:2] == [(base + 50, base + 60),
                                                      (base + 50, base + 60)]


def test_reassembly_delivers_in_order_once() -> None:
    conn, peer = established()
    base = peer.next_seq
    chunks = [bytes([65 + i]) * 100 for i in range(10)]
    for i in (3, 1, 7, 9, 0, 2, 5, 4, 8, 6, 3, 0):
        peer.send(peer.data(chunks[i], seq=base + 100 * i))
    assert conn.receive(1 << 20, peer.now) == b"".join(chunks)
    assert not conn.ofo


@settings(max_examples=50, deadline=None)
@given(st.permutations(range(12)), st.lists(st.integers(0, 11), max_size=6))
def test_reassembly_any_order_with_duplicates(order: list[int], dups: list[int]) -> None:
    """Property: whatever the arrival order and duplicates, the stream comes out whole."""
    conn, peer = established()
    base = peer.next_seq
    chunks = [bytes([97 + i]) * 300 for i in range(12)]
    for i in [*order[:6], *dups, *order[6:]]:
        peer.send(peer.data(chunks[i], seq=base + 300 * i))
    assert conn.receive(1 << 20, peer.now) == b"".join(chunks)


def test_out_of_order_queue_is_bounded_by_the_window() -> None:
    """Data beyond the advertised window is not queued (RFC 9293 §3.10.7.4): the
    out-of-order queue can never hold more than one window."""
    conn, peer = established(rcvbuf=16384)
    base = peer.next_seq
    window = conn.rcv_wnd
    for k in range(1, 60):
        peer.send(peer.data(b"o" * 1000, seq=base + 1000 * k))
    held = sum(b - a for a, b in conn.ofo.ranges())
    # Linux ``tcp_data_queue``: a segment starting beyond the window is dropped; the
    # one straddling its end is kept whole.
    assert held <= window + 1000
    assert max(a for a, _ in conn.ofo.ranges()) < conn.rcv_nxt + window


def test_data_received_wakes_the_reader_once_per_collection() -> None:
    """Arrivals between two collections of events make one DataReceived."""
    conn, peer = established()
    conn.on_segment(peer.data(b"abc"), peer.now)
    conn.on_segment(peer.data(b"defg", seq=4), peer.now)
    events = []
    while (event := conn.next_event()) is not None:
        events.append(event)
    assert events.count(DataReceived()) == 1 and conn.readable == 7
    peer.send(peer.data(b"h"))
    assert peer.events.count(DataReceived()) == 1


# -- the advertised window -------------------------------------------------------------

def test_window_right_edge_never_moves_left() -> None:
    """RFC 9293 §3.8.6.2.2 / RFC 7323 §2.4: the receiver must not shrink the window;
    as unread data fills the buffer the window closes from the left only."""
    conn, peer = established(rcvbuf=32768)
    edges = []
    for _ in range(200):
        replies = peer.send(peer.data(b"f" * 1000))
        replies += [r for _, r in peer.wait(0.05)]
        for r in replies:
            edges.append(r.ack + (r.window << conn.rcv_wscale))
        if conn._receive_window() == 0:
            break
    assert edges == sorted(edges)
    assert conn._receive_window() == 0


def test_window_update_after_reading_a_full_buffer() -> None:
    """Receiver SWS avoidance (RFC 9293 §3.8.6.2.2, Linux ``__tcp_cleanup_rbuf``): after
    the application reads, a window update goes out when the window at least doubles
    (so a reader freeing a few bytes at a time does not advertise tiny windows)."""
    conn, peer = established(rcvbuf=8192, peer_options={"mss": 1000})
    while conn._receive_window():
        peer.send(peer.data(b"f" * min(conn._receive_window(), 1000)))
    peer.wait(1)
    assert peer.call("receive", 10) == b"f" * 10
    assert peer.last_replies == []  # 10 bytes free: no update
    peer.call("receive", 1 << 20)
    (update,) = peer.last_replies
    assert update.flags == ACK and update.window > 0


def test_a_bare_fin_is_taken_into_a_zero_window() -> None:
    """Linux 6.18 accepts a bare FIN at RCV.NXT even into a zero window with data
    unread (the kernel selftest tcp_rcv_zero_wnd_fin): some stacks resend it forever
    otherwise. Data at a zero window is still refused."""
    conn, peer = established(rcvbuf=8192, peer_options={"mss": 1000})
    while conn._receive_window():
        peer.send(peer.data(b"f" * min(conn._receive_window(), 1000)))
    peer.wait(1)
    full = conn.rcv_nxt
    peer.send(peer.data(b"g" * 10))
    assert conn.rcv_nxt == full  # data: refused
    peer.send(peer.fin())
    assert conn.rcv_nxt == full + 1 and conn.state.name == "CLOSE_WAIT"


# -- a receive buffer over its size (Linux tcp_try_rmem_schedule) -------------------------

def counted(peer: Peer) -> list[str]:
    return [e.name for e in peer.events if isinstance(e, Counted)]


def test_a_buffer_over_its_size_offers_a_zero_window_at_once() -> None:
    """An empty queue takes a segment reaching beyond the window (Linux 6.18
    ``tcp_sequence``); the buffer then holds more than SO_RCVBUF allows and nothing can
    be pruned (TcpExtRcvPruned). A bare FIN is still taken, and acknowledged at once with
    a zero window (ICSK_ACK_NOMEM), not by the delayed-ACK timer; the kernel selftest
    tcp_rcv_zero_wnd_fin is this story."""
    conn, peer = established(rcvbuf=20000, peer_options={"mss": 1000})
    big = peer.send(peer.data(b"x" * 60000))
    big += [r for _, r in peer.wait(1)]
    assert big[-1].ack == 60001 and big[-1].window == 0
    assert conn.rcv_mem.total > conn.rcvbuf
    more = peer.send(peer.data(b"y" * 100))  # beyond the (zero) window
    assert [(r.ack, r.window) for r in more] == [(60001, 0)]
    assert counted(peer) == ["TcpExtBeyondWindow"]
    fin = peer.send(peer.fin())
    assert [(r.ack, r.window) for r in fin] == [(60002, 0)]
    assert counted(peer) == ["TcpExtBeyondWindow", "TcpExtPruneCalled", "TcpExtRcvPruned"]
    assert conn.state.name == "CLOSE_WAIT"


def test_small_segments_are_collapsed_before_anything_is_refused() -> None:
    """The window is sized by what a full segment costs the buffer; tiny segments cost
    far more (832 bytes each here), so filling the window with them overruns SO_RCVBUF.
    Linux then compacts the queue (``tcp_collapse``) into page-sized skbs instead of
    dropping, and all the data stays."""
    conn, peer = established(rcvbuf=6000, peer_options={"mss": 1000})
    peer.send(peer.data(b"b" * 1000))  # the payload-to-truesize ratio of a full segment
    assert conn.receive(1 << 20, peer.now) == b"b" * 1000
    edge = conn.rcv_nxt + conn._receive_window()
    sent = 0
    while conn.rcv_nxt + 100 <= edge:
        peer.send(peer.data(b"s" * 100))
        sent += 100
        assert conn.readable == sent  # never dropped
    assert sent > 3000 and "TcpExtPruneCalled" in counted(peer)
    assert "TcpExtRcvPruned" not in counted(peer)
    assert conn.rcv_mem.total <= conn.rcvbuf
    assert conn.receive(1 << 20, peer.now) == b"s" * sent


def test_linear_truesize_follows_the_kmalloc_buckets() -> None:
    assert [linear_truesize(n) for n in (0, 256, 257, 704, 705, 1728, 1729, 3776)] == \
        [832, 832, 1280, 1280, 2304, 2304, 4352, 4352]


def test_the_device_says_what_a_segment_costs_and_its_segment_size() -> None:
    """A receiving device may say what it charged for a segment (skb->truesize) and the
    size of the segments an offload merged into it (gso_size): the buffer is charged
    the former, the peer's MSS is measured from the latter (tcp_measure_rcv_mss)."""
    conn, peer = established(peer_options={"mss": 1000})
    seg = peer.data(b"d" * 4000)
    seg.truesize, seg.gso_size = 8448, 1000
    peer.send(seg)
    assert conn.rcv_mss == 1000 and conn.rcv_mem.total == 8448
    assert conn.scaling_ratio == (4000 << 8) // 8448
    other, peer2 = established(peer_options={"mss": 1000})
    peer2.send(peer2.data(b"d" * 4000))
    assert other.rcv_mss == 1448 and other.rcv_mem.total == 4000 + 832  # veth's skb

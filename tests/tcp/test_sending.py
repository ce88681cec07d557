"""The sending side: Nagle (RFC 1122 §4.2.3.4, Minshall's variant as Linux has it),
TCP_NODELAY, TCP_CORK and MSG_MORE, sender SWS avoidance (RFC 9293 §3.8.6.2.1), PSH
(RFC 9293 §3.9.1) and MSS clamping (RFC 9293 §3.7.1, TCP_MAXSEG)."""

from __future__ import annotations

import errno

import pytest

from tcpkit.tcp.events import SendSpaceFreed
from tcpkit.tcp.tcb import WQ_EOR, WQ_PSH
from tcpkit.wire.tcp import ACK, PSH, SYN
from tests.tcp.kit import Peer, established, new_conn

MSS = 1448


def test_nagle_holds_a_small_segment_while_one_is_unacknowledged() -> None:
    """RFC 1122 §4.2.3.4: with unacknowledged data, hold small writes until an ACK
    arrives or a full segment accumulates."""
    conn, peer = established()
    peer.call("send", b"a" * 10)
    assert [r.length for r in peer.last_replies] == [10]
    peer.call("send", b"b" * 10)
    peer.call("send", b"c" * 10)
    assert peer.last_replies == []
    replies = peer.send(peer.ack(ack=11))
    assert [(r.seq, r.length) for r in replies] == [(11, 20)]  # coalesced


def test_nagle_sends_full_segments_at_once() -> None:
    conn, peer = established()
    peer.call("send", b"a" * 10)
    peer.call("send", b"b" * (2 * MSS + 5))
    assert [r.length for r in peer.last_replies] == [MSS, MSS]  # the 15-byte tail waits


def test_nodelay_sends_every_write() -> None:
    """TCP_NODELAY turns Nagle off."""
    conn, peer = established(nodelay=True)
    for chunk in (b"a", b"bb", b"ccc"):
        peer.call("send", chunk)
        assert [r.length for r in peer.last_replies] == [len(chunk)]


def test_setting_nodelay_pushes_held_data() -> None:
    conn, peer = established()
    peer.call("send", b"a" * 10)
    peer.call("send", b"b" * 10)
    assert peer.last_replies == []
    conn.set_nodelay(True, peer.now)
    assert [r.length for r in peer.collect()] == [10]


def test_cork_holds_partial_segments_until_uncorked() -> None:
    """TCP_CORK: only full segments leave while corked (even with nothing in flight);
    uncorking sends the rest."""
    conn, peer = established(cork=True)
    peer.call("send", b"h" * 100)
    peer.call("send", b"b" * (MSS - 50))
    assert [r.length for r in peer.last_replies] == [MSS]
    assert peer.wait(0.1) == []
    conn.set_cork(False, peer.now)
    replies = peer.collect()
    assert [r.length for r in replies] == [50]
    assert replies[0].flags & PSH


def test_msg_more_holds_like_cork() -> None:
    """MSG_MORE corks one write: the partial segment waits for the next one."""
    conn, peer = established()
    peer.call("send", b"head", more=True)
    assert peer.last_replies == []
    peer.call("send", b"tail")
    assert [r.segment.payload for r in peer.last_replies] == [b"headtail"]


def test_psh_on_the_last_segment_of_a_write() -> None:
    """RFC 9293 §3.9.1: PSH marks the end of the data the application handed over;
    Linux sets it on the segment that carries a write's last byte. On a LAN (100 µs)
    the write leaves as one GSO packet, cut into segments by the device."""
    conn, peer = established(rtt=0.0001)
    peer.call("send", b"x" * (3 * MSS + 100))
    assert [bool(r.flags & PSH) for r in peer.last_replies] == [False, False, False, True]


def test_gso_packets_are_autosized_by_pacing_rate_and_rtt() -> None:
    """Linux ``tcp_tso_autosize``: on a 10 ms path in slow start a GSO packet carries
    about 1 ms at the pacing rate (2 * cwnd * MSS / SRTT: 2.9 MB/s, under 2 segments),
    so two segments; ``__tcp_transmit_skb`` forces PSH on the last segment of every
    GSO packet of more than one segment."""
    conn, peer = established("client", rtt=0.01)
    peer.call("send", b"x" * (5 * MSS))
    assert [bool(r.flags & PSH) for r in peer.last_replies] == [False, True, False, True, True]


def test_no_pacing_limit_right_after_a_passive_open() -> None:
    """Linux's child socket gets its first RTT only after tcp_ack has run for the
    handshake's ACK, so its pacing rate stays unlimited until an ACK of data: the
    first write leaves in half-cwnd GSO packets, whatever the RTT (packetdrill's
    prr-ss-* scripts, which Linux passes, depend on it)."""
    conn, peer = established("server", rtt=0.01)
    peer.call("send", b"x" * (10 * MSS))
    assert [bool(r.flags & PSH) for r in peer.last_replies] == [False] * 4 + [True] + \
        [False] * 4 + [True]


def test_half_of_cwnd_per_gso_packet() -> None:
    """Linux ``tcp_cwnd_test``: one GSO packet takes at most half of cwnd, so that two
    are in flight; the write of 10 segments leaves as 5 + 5 on a LAN."""
    conn, peer = established(rtt=0.0001)
    peer.call("send", b"x" * (10 * MSS))
    assert [bool(r.flags & PSH) for r in peer.last_replies] == [False] * 4 + [True] + \
        [False] * 4 + [True]


def test_small_window_waits_for_the_persist_timer() -> None:
    """Sender SWS avoidance (RFC 9293 §3.8.6.2.1): a window smaller than a segment is
    not filled at once; Linux sends a window-sized piece only when the probe timer
    fires (``tcp_write_wakeup``)."""
    conn, peer = established()
    peer.call("send", b"s" * 100)
    peer.send(peer.ack(win=0))
    peer.call("send", b"t" * 5000)
    assert peer.send(peer.ack(win=1)) == []  # 128 bytes (wscale 7): less than an MSS
    sent = [r for _, r in peer.wait(1)]
    assert sent and sent[0].length == 128


def test_segments_never_exceed_the_offered_window() -> None:
    """RFC 9293 §3.8.6: never send beyond SND.UNA + SND.WND. Linux cuts a burst at
    the window's edge (``tcp_mss_split_point``) and sends the partial last piece when
    Nagle allows it (no small segment in flight); the next burst waits for the ACK.
    On a LAN (100 µs), so that one GSO packet may take the whole window."""
    conn, peer = established(peer_options={"wscale": 0}, rtt=0.0001)
    peer.call("send", b"v" * 100)
    peer.send(peer.ack(win=3000))  # acknowledges the 100 bytes: the window may shrink
    peer.call("send", b"w" * 20_000)
    assert [r.length for r in peer.last_replies] == [MSS, MSS, 104]
    assert conn.snd_nxt == conn.snd_una + 3000


def test_user_mss_clamps_what_we_send() -> None:
    """TCP_MAXSEG: our segments are no longer than it (less options)."""
    conn, peer = established(user_mss=1000)
    peer.call("send", b"m" * 3000)
    assert max(r.length for r in peer.last_replies) == 1000 - 12


def test_send_buffer_full_would_block_then_space_freed() -> None:
    """A full send buffer makes send() raise EAGAIN (WouldBlock); acknowledged data
    frees room and a SendSpaceFreed event tells the writer."""
    conn, peer = established()
    total = 0
    with pytest.raises(BlockingIOError) as info:
        for _ in range(1000):
            total += conn.send(b"b" * 10_000, peer.now)
    assert info.value.errno == errno.EAGAIN
    assert total == conn.unacked and conn.send_space == 0
    peer.collect()
    rounds = 0
    while not any(isinstance(e, SendSpaceFreed) for e in peer.events):
        peer.send(peer.ack())  # everything sent so far; cwnd grows, more leaves
        rounds += 1
        assert rounds < 50
    # sk_stream_write_space: the writer is woken once free space is half of what is queued
    (freed,) = [e for e in peer.events if isinstance(e, SendSpaceFreed)]
    assert freed.space >= (conn.sndbuf - freed.space) // 2


def test_the_send_buffer_is_charged_by_skb_and_a_write_overshoots_it() -> None:
    """Linux charges the send buffer 832 bytes per skb plus the payload (sk_wmem_queued),
    checks it only before starting a new write-queue buffer, and fills the last one to
    the size goal regardless; a blocked writer wakes once the free part is half of the
    charge. Measured on Linux 6.18 behind a TUN device with this very exchange (the
    packetdrill script blocking/blocking-write.pkt), ``ss -tm`` w: 63328 after the
    write (60000 of 61000 bytes queued against SO_SNDBUF 42000), 53328 after the ACK of
    10001, 32496 after 30001; the write returned at the ACK of 36001."""
    conn = new_conn(sndbuf=21000, timestamps=False, min_tso_segs=10)
    peer = Peer(conn, timestamps=False, sack=False, wscale=0, mss=1000)
    conn.listen()
    peer.send(peer.seg(SYN, seq=0, options=peer.syn_options(), win=50000))
    peer.now += 0.1
    peer.send(peer.seg(ACK, seq=1, ack=1, win=50000))
    assert conn.send(b"x" * 61000, peer.now) == 60000
    assert conn._wmem_queued() == 63328 and conn.write_blocked
    charges = []
    for ack in (10001, 30001, 36001):
        peer.now += 0.1
        peer.send(peer.seg(ACK, seq=1, ack=ack, win=50000))
        charges.append((conn._wmem_queued(), conn.write_blocked))
    assert charges == [(53328, True), (32496, True), (26496, False)]
    assert conn.send(b"x" * 1000, peer.now) == 1000
    assert conn._wmem_queued() == 28328  # ss -tm after the write returned: w28328


def test_empty_send_returns_zero() -> None:
    conn, peer = established()
    assert conn.send(b"", peer.now) == 0
    assert peer.collect() == []


def test_data_segments_carry_ack() -> None:
    conn, peer = established()
    peer.call("send", b"ack me")
    assert all(r.flags & ACK for r in peer.last_replies)


def test_gso_size_goal_marks_psh_per_large_skb() -> None:
    """tcp_sendmsg fills buffers of up to half the peer's largest window; a long
    write gets PSH at the end of the first such buffer past half a window from the last
    push (``forced_push``), and at its end."""
    conn, peer = established(sndbuf=212992, peer_options={"wscale": 0})
    peer.call("send", b"a")
    peer.send(peer.ack(win=65535))
    goal = conn._size_goal()
    assert goal == (65535 >> 1) // MSS * MSS  # 22 segments
    conn.cwnd = 0  # nothing leaves: the write queue shows how the write was cut
    peer.call("send", b"g" * 100_000)
    ends = [(end - conn.iss, psh) for end, psh in conn.write_queue]
    assert ends == [(2 + goal, 0), (2 + 2 * goal, 1), (2 + 3 * goal, 0), (100_002, 1)]




def test_msg_eor_ends_a_buffer() -> None:
    """MSG_EOR (Linux skb->eor): nothing is appended to the buffer that ends such a
    write, and it is not merged with the next one when it leaves, so the record
    boundary stays a packet boundary (packetdrill's eor/ scripts check the wire)."""
    conn, peer = established(rtt=0.0001, nodelay=True)
    conn.cwnd = 0  # hold everything in the write queue
    peer.call("send", b"a" * 400, eor=True)
    peer.call("send", b"b" * 400)
    assert [(end - conn.iss, bits) for end, bits in conn.write_queue] == [
        (401, WQ_PSH | WQ_EOR), (801, WQ_PSH)]
    conn.cwnd = 10
    replies = peer.send(peer.ack(win=1000))  # a window update: the queue may go now
    assert [(r.seq, r.length, bool(r.flags & PSH)) for r in replies] == [
        (1, 400, True), (401, 400, True)]


def test_a_window_probe_never_carries_the_fin_past_the_window() -> None:
    """A window exactly as large as the data left: the probe (tcp_write_wakeup) sends
    the data and leaves the FIN, which would be one byte beyond the window, for later
    (tcp_fragment moves it to the rest)."""
    conn, peer = established(peer_options={"wscale": 0})
    peer.send(peer.ack(win=0))
    peer.call("send", b"x" * 100)
    peer.call("shutdown")
    peer.send(peer.ack(win=100))
    probes = [r for _, r in peer.wait(2.0) if r.length]
    assert probes and all(r.length == 100 and not r.fin for r in probes)


def test_a_pure_ack_closing_the_window_is_taken() -> None:
    """Linux ``tcp_may_update_window``: an ACK as new as the last window update may
    always close the window to zero (a window may only otherwise grow from it)."""
    conn, peer = established(peer_options={"wscale": 0})
    peer.send(peer.ack(win=0))
    assert conn.snd_wnd == 0


def test_notsent_lowat_bounds_what_waits_unsent() -> None:
    """TCP_NOTSENT_LOWAT (tcp_stream_memory_free): a new write-queue buffer only while
    less than the mark waits unsent, and poll()'s POLLOUT only under half of it. The
    kernel takes 26000 of a 59000-byte write with a mark of 4000 and a size goal of
    16000 (the packetdrill script notsent_lowat/notsent-lowat-setsockopt.pkt, which
    Linux 6.18 passes): the first buffer goes out 5 segments at a time (half of cwnd)
    and is refilled to the goal, until cwnd is full; then nothing new is started."""
    conn, peer = established(user_notsent_lowat=4000, timestamps=False,
                             peer_options={"mss": 1000, "timestamps": False})
    goal = conn._size_goal()  # 32000 here: half of this peer's 64240-byte window
    assert conn.send(b"n" * 59000, peer.now) == 10000 + goal
    assert conn.write_seq - conn.snd_nxt == goal and not conn.writeable
    acked = 1
    while conn.write_seq - conn.snd_nxt >= 2000:
        acked += 2000
        peer.send(peer.ack(ack=acked))
        assert conn.writeable == (conn.write_seq - conn.snd_nxt < 2000)
    assert conn.writeable

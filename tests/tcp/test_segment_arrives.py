"""SEGMENT ARRIVES in the synchronized states (RFC 9293 §3.10.7.4) with RFC 5961's
defences and RFC 7323's PAWS, and the resets of RFC 9293 §3.5.2."""

from __future__ import annotations

import errno

import pytest

from tcpkit.tcp.events import ConnectionFailed, DataReceived
from tcpkit.tcp.ratelimit import ChallengeAckLimiter
from tcpkit.tcp.reset import reset_for
from tcpkit.tcp.state import State
from tcpkit.wire.tcp import ACK, FIN, PSH, RST, SYN, TCPSegment
from tcpkit.wire.tcp_options import Sack
from tests.tcp.kit import Peer, Rel, established, reach


def is_dup_ack(replies: list[Rel], conn_ack: int) -> bool:
    """One empty ACK at <SEQ=SND.NXT><ACK=RCV.NXT> (RFC 9293 §3.10.7.4 first check)."""
    return [(r.flags, r.length, r.ack) for r in replies] == [(ACK, 0, conn_ack)]


def rcv_nxt(peer: Peer) -> int:
    return peer.next_seq


# -- first check: sequence number (the four cases) ---------------------------------------

def test_in_order_data_is_accepted() -> None:
    conn, peer = established()
    peer.send(peer.data(b"hello"))
    assert conn.readable == 5 and rcv_nxt(peer) == 6
    assert any(isinstance(e, DataReceived) for e in peer.events)


def test_case_len0_wnd_positive_in_window_is_acceptable() -> None:
    """SEG.LEN=0, RCV.WND>0: acceptable if RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND; an
    empty ACK ahead of RCV.NXT is processed without reply (the ACK field is used)."""
    conn, peer = established()
    peer.call("send", b"x" * 100)
    assert peer.send(peer.ack(seq=rcv_nxt(peer) + 1000)) == []
    assert conn.snd_una == conn.snd_nxt  # its ACK field was used


@pytest.mark.parametrize("offset", [-1, -1000, 10**7])
def test_case_len0_outside_window_gets_an_ack(offset: int) -> None:
    """SEG.LEN=0 outside the window: not acceptable: send <SEQ=SND.NXT><ACK=RCV.NXT>
    <CTL=ACK> and drop it (RFC 9293 §3.10.7.4)."""
    conn, peer = established()
    peer.call("send", b"x" * 100)
    replies = peer.send(peer.ack(seq=rcv_nxt(peer) + offset))
    assert is_dup_ack(replies, rcv_nxt(peer))
    assert conn.snd_una < conn.snd_nxt  # the ACK field was not used


def test_case_data_overlapping_the_left_edge_is_trimmed() -> None:
    """SEG.LEN>0, RCV.WND>0: acceptable if either end is in the window; the part
    already received is trimmed (RFC 9293 §3.10.7.4 "segments with higher beginning
    sequence numbers ... trimmed")."""
    conn, peer = established()
    peer.send(peer.data(b"abcd"))
    peer.send(peer.data(b"cdef", seq=3))
    assert conn.receive(100, peer.now) == b"abcdef"


def test_case_data_entirely_old_gets_dsack() -> None:
    """An old duplicate is answered by an ACK; with SACK, a D-SACK block names it
    (RFC 2883 §4.1.1) and quick-ACK mode starts."""
    conn, peer = established()
    peer.send(peer.data(b"abcd"))
    peer.wait(1)
    replies = peer.send(peer.data(b"abcd", seq=1))
    assert is_dup_ack(replies, 5)
    sack = next(o for o in replies[0].segment.options if isinstance(o, Sack))
    assert [(b[0] - peer.isn, b[1] - peer.isn) for b in sack.blocks] == [(1, 5)]


def test_case_data_beyond_window_is_dropped_with_an_ack() -> None:
    conn, peer = established()
    far = rcv_nxt(peer) + conn.rcv_wnd + 10
    replies = peer.send(peer.data(b"zz", seq=far))
    assert is_dup_ack(replies, 1)
    assert conn.readable == 0 and not conn.ofo


def test_case_zero_window() -> None:
    """RCV.WND=0: only SEG.SEQ=RCV.NXT with no data is acceptable; data is not (Linux
    also answers it with an ACK advertising the zero window)."""
    conn, peer = established(rcvbuf=4096, peer_options={"mss": 1000})
    for _ in range(100):
        room = conn._receive_window()
        if not room:
            break
        peer.send(peer.data(b"d" * min(room, 500)))
    assert conn._receive_window() == 0
    queued = conn.readable
    replies = peer.send(peer.data(b"more"))
    # Dropped, and answered at once (with whatever window the buffer allows now).
    assert [(r.flags, r.ack) for r in replies] == [(ACK, rcv_nxt(peer))]
    assert conn.readable == queued
    peer.wait(1)
    assert peer.send(peer.ack()) == []  # SEG.SEQ = RCV.NXT, SEG.LEN = 0: acceptable


def test_out_of_window_acks_are_rate_limited() -> None:
    """Linux ``tcp_invalid_ratelimit`` (500 ms): one ACK per half second answers
    out-of-window segments without data (RFC 5961 §10 leaves the rate to the stack)."""
    conn, peer = established()
    assert len(peer.send(peer.ack(seq=rcv_nxt(peer) - 5000))) == 1
    assert peer.send(peer.ack(seq=rcv_nxt(peer) - 5000)) == []
    peer.wait(0.5)
    assert len(peer.send(peer.ack(seq=rcv_nxt(peer) - 5000))) == 1


# -- second check: RST (RFC 5961 §3.2) -------------------------------------------------

def test_rst_at_rcv_nxt_resets() -> None:
    """RFC 5961 §3.2: RST with SEG.SEQ = RCV.NXT: reset (ECONNRESET in ESTABLISHED)."""
    conn, peer = established()
    assert peer.send(peer.rst()) == []
    assert conn.state is State.CLOSED
    failed = [e for e in peer.events if isinstance(e, ConnectionFailed)]
    assert [f.errno for f in failed] == [errno.ECONNRESET]


def test_rst_in_window_but_not_exact_gets_challenge_ack() -> None:
    """RFC 5961 §3.2: a RST inside the window but not at RCV.NXT is answered by a
    challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT>; the connection survives."""
    conn, peer = established()
    replies = peer.send(peer.rst(seq=rcv_nxt(peer) + 100))
    assert is_dup_ack(replies, 1)
    assert conn.state is State.ESTABLISHED


def test_rst_outside_window_is_silently_dropped() -> None:
    conn, peer = established()
    assert peer.send(peer.rst(seq=rcv_nxt(peer) + 10**8)) == []
    assert peer.send(peer.rst(seq=rcv_nxt(peer) - 10)) == []
    assert conn.state is State.ESTABLISHED


def test_rst_in_close_wait_reports_epipe() -> None:
    """Linux ``tcp_reset``: in CLOSE_WAIT the error is EPIPE (the peer had finished)."""
    conn, peer = reach("CLOSE_WAIT")
    peer.send(peer.rst())
    assert conn.state is State.CLOSED and conn.take_error() == errno.EPIPE


def test_rst_after_peer_fin_may_use_fin_sequence() -> None:
    """Linux ``tcp_reset_check``: once the peer's FIN is in, a RST at RCV.NXT-1 (the
    FIN's own number, as some stacks send) is accepted."""
    conn, peer = reach("CLOSE_WAIT")
    peer.send(peer.rst(seq=rcv_nxt(peer) - 1))
    assert conn.state is State.CLOSED


def test_challenge_acks_are_rate_limited_per_connection_and_host() -> None:
    """RFC 5961 §7: challenge ACKs are limited, per connection (500 ms) and per host
    (``tcp_challenge_ack_limit`` per second)."""
    conn, peer = established()
    rst = peer.rst(seq=rcv_nxt(peer) + 1)
    assert len(peer.send(rst)) == 1
    assert peer.send(rst) == []  # within 500 ms of the last
    host = ChallengeAckLimiter(limit=1)
    conn.challenge_acks = host
    answered = 0
    for _ in range(4):
        peer.wait(0.6)
        answered += len(peer.send(rst))
    assert 1 <= answered < 4  # the host budget (1/s, randomised 1..1) ran out


def test_rst_accepted_even_if_it_fails_paws() -> None:
    """Linux ``tcp_validate_incoming``: "Reset is accepted even if it did not pass PAWS"."""
    conn, peer = established()
    peer.tsval -= 100_000
    rst = peer.seg(RST, seq=rcv_nxt(peer))
    peer.send(rst)
    assert conn.state is State.CLOSED


# -- fourth check: SYN (RFC 5961 §4) ------------------------------------------------

@pytest.mark.parametrize("offset", [0, 500, -1, 10**8])
def test_syn_in_synchronized_state_gets_challenge_ack(offset: int) -> None:
    """RFC 5961 §4.2: any SYN in a synchronized state gets a challenge ACK, wherever
    it falls; the connection is not reset (RFC 9293 §3.10.7.4 fourth check)."""
    conn, peer = established()
    syn = peer.seg(SYN, seq=rcv_nxt(peer) + offset, options=peer.syn_options())
    replies = peer.send(syn)
    assert is_dup_ack(replies, 1)
    assert conn.state is State.ESTABLISHED


# -- fifth check: ACK -------------------------------------------------------------------

def test_segment_without_ack_is_dropped() -> None:
    """RFC 9293 §3.10.7.4 fifth check: "if the ACK bit is off, drop the segment"."""
    conn, peer = established()
    assert peer.send(peer.data(b"data", flags=PSH)) == []
    assert conn.readable == 0


def test_ack_of_unsent_data_is_answered_and_dropped() -> None:
    """RFC 9293 §3.10.7.4: SEG.ACK > SND.NXT: send an ACK, drop the segment (its data
    too: Linux 6.x ``tcp_ack`` returns before the data is queued)."""
    conn, peer = established()
    replies = peer.send(peer.data(b"data", ack=500))
    assert is_dup_ack(replies, 1)
    assert conn.readable == 0


def test_old_duplicate_ack_is_ignored_but_data_taken() -> None:
    """RFC 9293 §3.10.7.4: SEG.ACK < SND.UNA is a duplicate and can be ignored; the
    segment's text is still processed."""
    conn, peer = established()
    peer.call("send", b"x" * 100)
    peer.send(peer.ack())
    peer.send(peer.data(b"hi", ack=50))
    assert conn.readable == 2 and conn.snd_una - conn.iss == 101


def test_ack_too_old_is_challenged() -> None:
    """RFC 5961 §5.2: an ACK below SND.UNA - MAX.SND.WND is invalid: challenge ACK and
    drop (Linux: the data is dropped too)."""
    conn, peer = established(peer_options={"wscale": None})
    while conn.snd_una - conn.iss < 2 * conn.max_window:
        peer.call("send", b"y" * conn.send_space)
        peer.send(peer.ack(win=65535))
    peer.wait(1)
    too_old = (conn.snd_una - conn.max_window - 10) - conn.iss
    replies = peer.send(peer.data(b"zz", ack=too_old))
    assert is_dup_ack(replies, 1)
    assert conn.readable == 0


def test_window_update_only_from_newer_segments() -> None:
    """RFC 9293 §3.10.7.4: SND.WND is updated only if SND.WL1 < SEG.SEQ or (SND.WL1 =
    SEG.SEQ and SND.WL2 =< SEG.ACK), so a reordered old segment cannot shrink it."""
    conn, peer = established()
    peer.send(peer.data(b"a" * 10, win=800))
    assert conn.snd_wnd == 800 << 7
    peer.send(peer.ack(seq=1, win=100))  # older than the data segment
    assert conn.snd_wnd == 800 << 7
    peer.send(peer.ack(win=900))
    assert conn.snd_wnd == 900 << 7


# -- PAWS (RFC 7323 §5) --------------------------------------------------------------

def test_paws_drops_old_timestamps_with_an_ack() -> None:
    """RFC 7323 §5.3 R1: a segment whose TSval is older than TS.Recent is an old
    duplicate: send an ACK and drop it."""
    conn, peer = established()
    peer.send(peer.data(b"new"))
    peer.tsval -= 1000
    peer.wait(1)
    replies = peer.send(peer.data(b"old"))
    assert is_dup_ack(replies, 4)
    assert conn.readable == 3


def test_ts_recent_follows_the_left_edge() -> None:
    """RFC 7323 §4.3: TS.Recent takes the TSval of a segment covering Last.ACK.sent; our
    next segment echoes it."""
    conn, peer = established()
    peer.tsval = 5000
    peer.send(peer.data(b"abc"))
    peer.call("send", b"reply")
    stamp = next(o for o in peer.last_replies[0].segment.options if hasattr(o, "tsecr"))
    assert stamp.tsecr == 5000  # type: ignore[attr-defined]


def test_paws_forgets_after_24_days_idle() -> None:
    """RFC 7323 §5.5: TS.Recent older than 24 days is invalid; the segment is taken."""
    conn, peer = established(keepalive=False)
    peer.send(peer.data(b"x"))
    peer.now += 25 * 24 * 3600
    peer.tsval = (peer.tsval - 2**30) % 2**32
    peer.send(peer.data(b"y"))
    assert conn.receive(10, peer.now) == b"xy"


# -- RFC 9293 §3.5.2 reset generation -------------------------------------------------

def test_reset_for_a_segment_with_ack() -> None:
    """§3.5.2 case 1: <SEQ=SEG.ACK><CTL=RST>."""
    seg = TCPSegment(40000, 80, seq=100, ack=5555, flags=ACK | PSH, payload=b"abc")
    rst = reset_for(seg)
    assert rst is not None
    assert (rst.src_port, rst.dst_port, rst.seq, rst.flags) == (80, 40000, 5555, RST)


@pytest.mark.parametrize(("flags", "payload", "length"), [
    (SYN, b"", 1), (SYN | FIN, b"ab", 4), (PSH, b"abc", 3), (FIN, b"", 1)])
def test_reset_for_a_segment_without_ack(flags: int, payload: bytes, length: int) -> None:
    """§3.5.2 case 1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN and FIN counted."""
    rst = reset_for(TCPSegment(1, 2, seq=0xFFFFFFFF, flags=flags, payload=payload))
    assert rst is not None
    assert (rst.seq, rst.ack, rst.flags) == (0, (0xFFFFFFFF + length) & 0xFFFFFFFF, RST | ACK)
    assert rst.window == 0 and rst.options == ()


def test_no_reset_for_a_reset() -> None:
    assert reset_for(TCPSegment(1, 2, seq=1, flags=RST)) is None


def test_closed_connection_answers_with_reset() -> None:
    """RFC 9293 §3.10.7.1: in CLOSED everything but a RST gets a RST."""
    conn, peer = reach("CLOSED")
    (rst,) = peer.send(peer.seg(ACK, seq=1, ack=0))
    assert rst.flags == RST
    assert peer.send(peer.seg(RST, seq=1)) == []

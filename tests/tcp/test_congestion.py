"""Congestion control (RFC 5681), NewReno recovery (RFC 6582), limited transmit
(RFC 3042), SACK-based recovery (RFC 6675), the initial window (RFC 6928) and the
restart after idle (RFC 5681 §4.1, RFC 7661), with Linux's ``reno``."""

from __future__ import annotations

import pytest

from tcpkit.links.pair import EnginePair
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.congestion import ALGORITHMS, Reno, create
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.tcb import CAState
from tcpkit.wire.tcp_options import Sack
from tests.tcp.kit import Peer, Rel, established, new_conn

MSS = 1448


def sender(**kw: object) -> tuple[Connection, Peer]:
    """Our side sends; the scripted peer acknowledges as each test wants. SO_SNDBUF is
    large so that the send buffer never limits what cwnd allows."""
    return established(nodelay=True, sndbuf=212992, **kw)


def test_initial_window_is_ten_segments() -> None:
    """RFC 6928: IW = 10 segments (Linux TCP_INIT_CWND)."""
    conn, peer = sender()
    peer.call("send", b"i" * 100_000)
    assert [r.length for r in peer.last_replies] == [MSS] * 10


def test_slow_start_doubles_per_round_trip() -> None:
    """RFC 5681 §3.1: cwnd grows by one segment per segment acknowledged below ssthresh."""
    conn, peer = sender()
    peer.call("send", b"s" * 200_000)
    first = peer.last_replies
    peer.now += 0.01
    sent: list[Rel] = []
    for r in first:
        sent += peer.send(peer.ack(ack=r.seq + r.length))
    assert conn.cwnd == 20
    assert len(sent) == 20  # two new segments per ACK


def test_congestion_avoidance_adds_one_per_window() -> None:
    """RFC 5681 §3.1 (congestion avoidance): about one segment per RTT above ssthresh."""
    conn, peer = sender()
    conn.ssthresh = 10
    peer.call("send", b"c" * 200_000)
    flight = peer.last_replies
    for _ in range(3):
        peer.now += 0.01
        nxt: list[Rel] = []
        for r in flight:
            nxt += peer.send(peer.ack(ack=r.seq + r.length))
        flight = nxt
    assert conn.cwnd == 13


def lose_first_and_dupack(peer: Peer, flight: list[Rel], count: int,
                          sack: bool = False) -> list[list[Rel]]:
    """The first segment of ``flight`` is lost; the next ``count`` arrive, each
    producing a duplicate ACK (with a SACK block if ``sack``)."""
    base = flight[0].seq
    out = []
    for r in flight[1:count + 1]:
        blocks = ((base + MSS, r.seq + r.length),) if sack else ()
        out.append(peer.send(peer.ack(ack=base, sack=blocks)))
    return out


def test_fast_retransmit_on_the_third_duplicate_ack_with_limited_transmit() -> None:
    """RFC 5681 §3.2: the third duplicate ACK retransmits the missing segment; RFC 3042:
    each of the first two sends one new segment (limited transmit)."""
    conn, peer = sender(peer_options={"sack": False})
    peer.call("send", b"f" * 100_000)
    flight = peer.last_replies
    replies = lose_first_and_dupack(peer, flight, 3)
    new_seq = flight[-1].seq + MSS
    assert [[(r.seq, r.length) for r in rs] for rs in replies] == [
        [(new_seq, MSS)], [(new_seq + MSS, MSS)], [(1, MSS)]]
    assert conn.ca_state == CAState.RECOVERY
    assert conn.ssthresh == 5  # half of cwnd 10 (Linux tcp_reno_ssthresh)


def test_newreno_partial_ack_retransmits_the_next_hole() -> None:
    """RFC 6582 §3.2 (3): a partial ACK means the next segment is lost too: it is
    retransmitted and recovery goes on until everything sent before recovery began is
    acknowledged. Linux paces that retransmission with proportional rate reduction
    (RFC 6937): it leaves with the first ACK that lets pipe go below cwnd, here the
    next duplicate, not on the partial ACK itself while pipe (7) exceeds ssthresh (5)."""
    conn, peer = sender(peer_options={"sack": False})
    peer.call("send", b"n" * 100_000)
    flight = peer.last_replies
    lose_first_and_dupack(peer, flight, 3)
    recover = conn.high_seq  # SND.NXT when the third duplicate ACK arrived
    # Segments 1 and 3 were lost: the retransmission of 1 brings a partial ACK up to 3.
    third = flight[2]
    assert peer.send(peer.ack(ack=third.seq)) == []
    assert conn.ca_state == CAState.RECOVERY and conn.lost_out == 1
    replies = peer.send(peer.ack(ack=third.seq))
    assert [(r.seq, r.length) for r in replies] == [(third.seq, MSS)]
    peer.send(peer.ack(ack=recover - conn.iss))
    # Linux (tcp_try_undo_recovery) holds Recovery until data above "recover" is
    # acknowledged, against false fast retransmits (RFC 6582 §3.2 step 5, note).
    assert conn.ca_state == CAState.RECOVERY
    peer.send(peer.ack())
    assert conn.ca_state == CAState.OPEN
    # cwnd = ssthresh at the end of recovery, then this ACK's congestion avoidance.
    assert conn.ssthresh == 5 and 5 <= conn.cwnd <= 6


def test_sack_recovery_retransmits_only_the_holes() -> None:
    """RFC 6675: with SACK, only the missing segments are retransmitted."""
    conn, peer = sender()
    peer.call("send", b"k" * 100_000)
    flight = peer.last_replies
    replies = lose_first_and_dupack(peer, flight, 4, sack=True)
    resent = [(r.seq, r.length) for rs in replies for r in rs if r.seq < flight[-1].seq]
    assert resent == [(1, MSS)]
    assert conn.ca_state == CAState.RECOVERY


def test_rto_collapses_cwnd_to_one() -> None:
    """RFC 5681 §3.1 (equation 4 and after): on a timeout ssthresh = max(FlightSize/2,
    2 SMSS) (Linux: cwnd/2) and cwnd = 1 segment (the loss window)."""
    conn, peer = sender()
    peer.call("send", b"r" * 100_000)
    peer.wait(0.25)  # the probe
    peer.wait(0.3)  # the RTO
    assert conn.ca_state == CAState.LOSS
    assert conn.cwnd == 1 and conn.ssthresh == 5


def test_slow_start_after_idle_restarts_from_the_initial_window() -> None:
    """RFC 5681 §4.1 / Linux ``tcp_slow_start_after_idle_check``: after an idle period
    longer than the RTO, cwnd decays (halves per idle RTO) to at most the initial window."""
    conn, peer = sender()
    grow_cwnd(conn, peer, 40)
    peer.wait(10)
    peer.call("send", b"x" * 200_000)
    assert conn.cwnd == 10
    assert len(peer.last_replies) == 10


def test_slow_start_after_idle_can_be_turned_off() -> None:
    conn, peer = sender(slow_start_after_idle=False)
    grow_cwnd(conn, peer, 40)
    cwnd = conn.cwnd
    peer.wait(10)
    peer.call("send", b"x" * 200_000)
    assert conn.cwnd == cwnd and len(peer.last_replies) == cwnd


def grow_cwnd(conn: Connection, peer: Peer, target: int) -> None:
    """Send full windows, each acknowledged an RTT later, until cwnd reaches ``target``;
    end with nothing in flight."""
    peer.send(peer.ack(win=65535))  # 8 MB with wscale 7: the window is never the limit
    while conn.cwnd < target:
        peer.call("send", b"g" * (conn.cwnd * MSS))
        peer.now += 0.01
        for r in peer.last_replies:
            peer.send(peer.ack(ack=r.seq + r.length, win=65535))
    assert conn.unacked == 0


def test_application_limited_sender_does_not_grow_cwnd() -> None:
    """RFC 7661 §4.3 (Linux ``tcp_is_cwnd_limited``): a sender not using its window
    does not grow it."""
    conn, peer = sender()
    for _ in range(50):
        peer.call("send", b"a" * 100)
        peer.now += 0.01
        peer.send(peer.ack())
    assert conn.cwnd == 10


def test_two_engines_bulk_transfer_is_byte_exact() -> None:
    data = bytes(range(256)) * 4000
    pair = EnginePair(delay=0.01)
    pair.connect()
    got = pair.transfer(data)
    assert got == data
    assert pair.a.total_retrans == 0


def test_algorithms_are_pluggable_by_name() -> None:
    assert isinstance(create("reno"), Reno)
    assert set(ALGORITHMS) >= {"reno", "newreno"}
    with pytest.raises(ValueError, match="unknown congestion control"):
        new_conn(congestion_control="nonsense")
    assert ConnectionConfig().congestion_control == "reno"


def test_sack_option_without_padding_is_read() -> None:
    """A SACK option need not follow two NOPs (RFC 2018 §3 pads by convention only)."""
    conn, peer = sender(peer_options={"timestamps": False})
    peer.call("send", b"u" * 100_000)
    flight = peer.last_replies
    base = conn.iss
    block = ((base + flight[1].seq) & 0xFFFFFFFF, (base + flight[4].seq) & 0xFFFFFFFF)
    peer.send(peer.seg(0x10, seq=1, ack=1, options=(Sack((block,)),)))
    assert conn.sacked_out == 3

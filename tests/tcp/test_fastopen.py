"""TCP Fast Open, the client's side, in the engine (RFC 7413; Linux tcp_send_syn_data,
tcp_rcv_fastopen_synack). packetdrill's fastopen client scripts check the same against
the script writers' Linux (tests/tools/test_packetdrill.py)."""

from __future__ import annotations

from tcpkit.tcp.events import Counted, FastOpenLearned
from tcpkit.tcp.fastopen import FastOpenAttempt
from tcpkit.tcp.state import State
from tcpkit.wire.tcp import ACK, PSH, SYN, TCPSegment
from tcpkit.wire.tcp_options import MSS, NOP, FastOpen, WindowScale
from tests.tcp.kit import Peer, new_conn

COOKIE = bytes.fromhex("abcd1234")


def client(attempt: FastOpenAttempt, data: bytes = b"") -> tuple[Peer, int]:
    conn = new_conn(timestamps=False)
    peer = Peer(conn)
    taken = conn.connect(peer.now, fastopen=attempt, data=data)
    peer.collect()
    return peer, taken


def synack(peer: Peer, ack: int, *options: object, mss: int = 1460) -> TCPSegment:
    opts = (MSS(mss), NOP, WindowScale(6), *options)
    return peer.seg(SYN | ACK, seq=0, ack=ack, options=opts, win=14600)  # type: ignore[arg-type]


def learned(peer: Peer) -> list[FastOpenLearned]:
    return [e for e in peer.events if isinstance(e, FastOpenLearned)]


def test_without_a_cookie_the_syn_asks_for_one_and_the_answer_is_kept() -> None:
    peer, taken = client(FastOpenAttempt(), b"ignored without a cookie")
    assert taken == 0
    (syn,) = [peer.rel(s) for _, s in peer.sent]
    assert syn.flags == SYN and syn.length == 0
    assert syn.segment.options[-3:] == (FastOpen(), NOP, NOP)  # after nop,wscale
    replies = peer.send(synack(peer, 1, FastOpen(COOKIE), NOP, NOP))
    assert [r.flags for r in replies] == [ACK]
    assert learned(peer) == [FastOpenLearned(1460, COOKIE, False, False, 0)]


def test_a_cookie_lets_data_ride_in_the_syn() -> None:
    """As much as an MSS less 40 option bytes: the cached MSS 940 leaves 900."""
    peer, taken = client(FastOpenAttempt(COOKIE, mss=940), b"d" * 2000)
    assert taken == 900
    (syn,) = [peer.rel(s) for _, s in peer.sent]
    assert (syn.flags, syn.length) == (SYN, 900)
    assert FastOpen(COOKIE) in syn.segment.options
    replies = peer.send(synack(peer, 901))
    assert [(r.flags, r.seq, r.length) for r in replies] == [(ACK, 901, 0)]
    conn = peer.conn
    assert conn.state is State.ESTABLISHED and conn.fastopen is not None
    assert conn.fastopen.data_acked and conn.packets_out == 0
    assert Counted("TcpExtTCPFastOpenActive") in peer.events
    # The SYN-ACK carried no cookie: none to keep, no loss either.
    assert learned(peer) == [FastOpenLearned(1460, None, False, False, 0)]


def test_data_the_synack_leaves_unacknowledged_goes_again_at_once() -> None:
    """tcp_rcv_fastopen_synack: the server took only the SYN (or part of the data);
    the rest is lost and resent without waiting, in MSS-sized pieces, carrying the
    ACK (no separate one)."""
    peer, taken = client(FastOpenAttempt(COOKIE), b"d" * 1420)
    assert taken == 1420
    replies = peer.send(synack(peer, 101, mss=1000))
    assert [(r.flags, r.seq, r.length) for r in replies] == [
        (ACK, 101, 1000), (ACK | PSH, 1101, 320)]
    assert Counted("TcpExtTCPFastOpenActiveFail") in peer.events
    conn = peer.conn
    assert conn.fastopen is not None and not conn.fastopen.data_acked
    assert conn.packets_out == 2 and conn.retrans_out == 2


def test_a_retransmitted_syn_is_plain_and_a_late_synack_means_the_data_was_lost() -> None:
    peer, _ = client(FastOpenAttempt(COOKIE), b"d" * 100)
    deadline = peer.conn.next_deadline()
    assert deadline is not None
    (_, again), = peer.wait_until(deadline)
    assert again.flags == SYN and again.length == 0
    assert not any(isinstance(o, FastOpen) for o in again.segment.options)
    replies = peer.send(synack(peer, 1))
    assert [(r.seq, r.length) for r in replies] == [(1, 100)]
    assert learned(peer) == [FastOpenLearned(1460, None, False, True, 0)]


def test_a_cookie_nobody_asked_for_is_ignored() -> None:
    conn = new_conn(timestamps=False)
    peer = Peer(conn)
    conn.connect(peer.now)
    peer.collect()
    peer.send(synack(peer, 1, FastOpen(COOKIE), NOP, NOP))
    assert learned(peer) == [] and conn.state is State.ESTABLISHED


def test_the_largest_cookies_fit_beside_every_syn_option() -> None:
    """tcp_syn_options: mss, sackOK and TS, and wscale take 20 bytes; an experimental
    option with a 16-byte cookie takes the other 20 of the 40."""
    conn = new_conn()
    peer = Peer(conn)
    conn.connect(peer.now, fastopen=FastOpenAttempt(b"c" * 16, experimental=True))
    peer.collect()
    options = peer.sent[0][1].options
    assert options[-1] == FastOpen(b"c" * 16, experimental=True)
    assert sum(len(o.to_bytes()) for o in options) == 40

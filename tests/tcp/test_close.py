"""Ending a connection: FIN handshakes (RFC 9293 §3.6), TIME-WAIT, half-close, aborts
with RST (RFC 9293 §3.10.5, RFC 2525 §2.17) and the errors a user sees, reported once
(Linux ``sock_error``, ``sk_stream_error``)."""

from __future__ import annotations

import errno

import pytest

from tcpkit.links.pair import EnginePair
from tcpkit.tcp.events import ConnectionFailed, PeerFinished, StateChanged
from tcpkit.tcp.state import State
from tcpkit.wire.tcp import ACK, FIN, PSH, RST
from tests.tcp.kit import Peer, established, reach


def connected_pair(**kw: object) -> EnginePair:
    pair = EnginePair(**kw)  # type: ignore[arg-type]
    pair.connect()
    return pair


def flags_of(pair: EnginePair, since: int = 0) -> list[str]:
    """The wire log as 'a:F.' style strings (tcpdump's flag letters)."""
    letters = {FIN: "F", 0x02: "S", RST: "R", PSH: "P", ACK: "."}
    out = []
    for record in pair.log[since:]:
        f = record.segment.flags
        out.append(record.sender + ":" + "".join(v for k, v in letters.items() if f & k))
    return out


def errno_of(call: object) -> int:
    assert isinstance(call, OSError)
    return call.errno


# -- orderly close ----------------------------------------------------------------------

def test_four_way_close() -> None:
    """RFC 9293 §3.6 case 1 (figure 12): the closer ends in TIME-WAIT, the other side
    reads EOF, closes and ends in CLOSED once its FIN is acknowledged."""
    pair = connected_pair()
    start = len(pair.log)
    pair.call("a", "close")
    pair.run(until=pair.now + 0.1)
    assert pair.a.state is State.FIN_WAIT_2 and pair.b.state is State.CLOSE_WAIT
    assert any(isinstance(e, PeerFinished) for e in pair.events["b"])
    assert pair.call("b", "receive", 100) == b""
    pair.call("b", "close")
    pair.run(until=pair.now + 1)
    assert pair.a.state is State.TIME_WAIT and pair.b.state is State.CLOSED
    assert flags_of(pair, start) == ["a:F.", "b:.", "b:F.", "a:."]
    pair.run()
    assert pair.a.state is State.CLOSED


def ack_delays(peer: Peer, segment: object) -> list[float]:
    start = peer.now
    peer.send(segment)  # type: ignore[arg-type]
    peer.wait(1)
    return [t - start for t, seg in peer.sent if seg.flags == ACK and t >= start]


def test_bare_fin_is_acked_on_the_next_tick_and_data_fin_after_delayed_ack() -> None:
    """Linux: a bare FIN schedules an ACK that goes out on the next jiffy (4 ms at
    HZ=250) unless the application answers first; data ending with FIN is acknowledged
    by the delayed-ACK timer (40 ms). Measured on Linux 6.18 (../KERNEL_LAB.md)."""
    conn, peer = established()
    (delay,) = ack_delays(peer, peer.fin())
    assert 0 < delay <= 0.008
    conn, peer = established()
    (delay,) = ack_delays(peer, peer.data(b"hello", flags=ACK | PSH | FIN))
    assert 0.04 <= delay <= 0.048


def test_simultaneous_close() -> None:
    """RFC 9293 §3.6 case 3 (figure 13): both FINs cross, both sides pass through
    CLOSING and end in TIME-WAIT."""
    pair = connected_pair()
    pair.call("a", "close")
    pair.call("b", "close")
    pair.run(until=pair.now + 1)
    assert pair.a.state is State.TIME_WAIT and pair.b.state is State.TIME_WAIT
    for side in "ab":
        states = [e.new for e in pair.events[side] if hasattr(e, "new")]
        assert State.CLOSING in states


def test_half_close_keeps_the_other_direction() -> None:
    """RFC 9293 §3.6: after our FIN (shutdown(SHUT_WR)) we keep receiving."""
    pair = connected_pair()
    pair.call("a", "shutdown")
    pair.run(until=pair.now + 0.1)
    pair.call("b", "send", b"still talking")
    pair.run(until=pair.now + 0.1)
    assert pair.call("a", "receive", 100) == b"still talking"
    with pytest.raises(BrokenPipeError):
        pair.call("a", "send", b"x")  # our direction is closed: EPIPE
    pair.call("b", "close")
    pair.run(until=pair.now + 0.1)
    assert pair.call("a", "receive", 100) == b""
    assert pair.a.state is State.TIME_WAIT


def test_fin_waits_for_queued_data() -> None:
    """RFC 9293 §3.10.4: CLOSE queues the FIN after the data already sent."""
    pair = connected_pair()
    assert pair.transfer(b"z" * 500_000) == b"z" * 500_000  # close() follows the data
    a_states = [e.new for e in pair.events["a"] if isinstance(e, StateChanged)]
    assert a_states[-2:] == [State.TIME_WAIT, State.CLOSED] and pair.b.state is State.CLOSED
    assert pair.a.error == pair.b.error == 0
    fins = [r for r in pair.log if r.segment.flags & FIN]
    assert [r.sender for r in fins] == ["a", "b"]
    last_data = max(r.segment.seq + len(r.segment.payload) for r in pair.log
                    if r.sender == "a" and r.segment.payload)
    assert fins[0].segment.seq + len(fins[0].segment.payload) == last_data


# -- TIME-WAIT ------------------------------------------------------------------------

def test_time_wait_reacks_a_retransmitted_fin_and_restarts_2msl() -> None:
    """RFC 9293 §3.10.7.4 (TIME-WAIT): a retransmitted FIN is acknowledged again and
    the 2MSL timeout restarts."""
    conn, peer = reach("TIME_WAIT")
    peer.wait(30)
    fin_again = peer.fin(seq=peer.next_seq - 1)
    (ack,) = peer.send(fin_again)
    assert ack.flags == ACK and ack.ack == peer.next_seq
    restarted = peer.now
    peer.wait(59)
    assert conn.state is State.TIME_WAIT
    peer.wait(4)
    assert conn.state is State.CLOSED and conn.clock >= restarted + 60


def test_time_wait_assassination_by_rst() -> None:
    """RFC 1337 §2 hazard H1: Linux's default (tcp_rfc1337=0) lets a RST end
    TIME-WAIT early."""
    conn, peer = reach("TIME_WAIT")
    peer.send(peer.rst())
    assert conn.state is State.CLOSED
    assert conn.take_error() == 0  # nobody to tell


def test_rfc1337_protects_time_wait_from_rst() -> None:
    """RFC 1337 §3 fix F1 (tcp_rfc1337=1): RSTs are ignored in TIME-WAIT."""
    conn, peer = reach("TIME_WAIT", rfc1337=True)
    peer.send(peer.rst())
    assert conn.state is State.TIME_WAIT
    peer.wait(63)
    assert conn.state is State.CLOSED


def test_time_wait_accepts_a_new_syn_above_the_old_sequence() -> None:
    """RFC 1122 §4.2.2.13 / RFC 6191: a SYN with a higher sequence number (or newer
    timestamp) may reopen the 4-tuple; the host gets the ISN to use."""
    conn, peer = reach("TIME_WAIT")
    peer.tsval += 10
    syn = peer.seg(0x02, seq=peer.next_seq + 100_000, options=peer.syn_options())
    assert peer.send(syn) == []
    assert conn.reopen_isn is not None
    assert conn.reopen_isn == (conn.snd_nxt + 65537) & 0xFFFFFFFF


def test_time_wait_answers_an_old_segment_with_an_ack() -> None:
    conn, peer = reach("TIME_WAIT")
    peer.wait(1)
    (ack,) = peer.send(peer.data(b"old", seq=1))
    assert ack.flags == ACK


# -- FIN_WAIT_2 -------------------------------------------------------------------------

def test_fin_wait_2_waits_forever_for_a_half_closed_socket() -> None:
    """Linux: tcp_fin_timeout applies only to orphans; after shutdown(SHUT_WR) the
    application may keep reading as long as it likes."""
    conn, peer = reach("FIN_WAIT_2")
    peer.wait(10_000)
    assert conn.state is State.FIN_WAIT_2


def test_orphan_fin_wait_2_times_out_silently() -> None:
    """Linux ``tcp_fin_timeout`` (60 s): the orphan's FIN_WAIT_2 ends without a RST (it
    lingers as a FIN_WAIT2 time-wait socket that just expires)."""
    conn, peer = reach("FIN_WAIT_1")
    peer.call("close")
    peer.send(peer.ack())
    start = peer.now
    sent = peer.wait(120)
    assert conn.state is State.CLOSED
    assert 60 <= conn.clock - start <= 62.1
    assert sent == []


def test_orphan_fin_wait_2_longer_timeout_uses_the_keepalive_timer() -> None:
    conn, peer = reach("FIN_WAIT_1", fin_timeout=100.0)
    peer.call("close")
    peer.send(peer.ack())
    start = peer.now
    peer.wait(300)
    assert conn.state is State.CLOSED
    assert 100 <= conn.clock - start <= 105


def test_data_after_close_is_answered_with_rst() -> None:
    """RFC 9293 §3.10.7.4 / Linux: new data for a socket closed by the application
    gets a RST (nobody can read it) and the connection is aborted."""
    conn, peer = reach("FIN_WAIT_1")
    peer.call("close")
    peer.send(peer.ack())
    (rst,) = peer.send(peer.data(b"late"))
    assert rst.rst
    assert conn.state is State.CLOSED


# -- aborts: RST instead of FIN -------------------------------------------------------

def test_close_with_unread_data_sends_rst() -> None:
    """RFC 2525 §2.17 (Linux ``tcp_close``): close() with unread data sends a RST, not a
    FIN; the peer's next call fails with ECONNRESET, once; then reads give EOF and
    writes EPIPE."""
    pair = connected_pair()
    pair.call("b", "send", b"unread")
    pair.run(until=pair.now + 0.1)
    start = len(pair.log)
    pair.call("a", "close")
    pair.run(until=pair.now + 0.1)
    assert flags_of(pair, start) == ["a:R."]
    assert pair.a.state is State.CLOSED and pair.b.state is State.CLOSED
    with pytest.raises(ConnectionResetError):
        pair.call("b", "receive", 100)
    assert pair.call("b", "receive", 100) == b""
    with pytest.raises(BrokenPipeError):
        pair.call("b", "send", b"more")


def test_reset_error_reported_once_via_send() -> None:
    """The first send after a RST reports ECONNRESET; the next ones EPIPE."""
    conn, peer = established()
    peer.send(peer.rst())
    with pytest.raises(ConnectionResetError):
        peer.call("send", b"x")
    with pytest.raises(BrokenPipeError):
        peer.call("send", b"x")
    assert conn.receive(10, peer.now) == b""


def test_linger_zero_close_sends_rst() -> None:
    """SO_LINGER {1, 0}: close() aborts with a RST (RFC 9293 §3.10.5 ABORT)."""
    pair = connected_pair()
    pair.a.config.linger = 0
    start = len(pair.log)
    pair.call("a", "close")
    pair.run(until=pair.now + 0.1)
    assert flags_of(pair, start) == ["a:R."]
    assert pair.b.take_error() == errno.ECONNRESET


def test_rst_carries_an_acceptable_sequence_number() -> None:
    """Linux ``tcp_acceptable_seq``: the RST uses SND.NXT so the peer's RFC 5961 check
    (SEG.SEQ = RCV.NXT) accepts it."""
    conn, peer = established()
    peer.call("send", b"abc")
    peer.call("abort")
    (rst,) = peer.last_replies
    assert rst.flags == RST | ACK and rst.seq == 4


def test_epipe_after_reset_in_close_wait() -> None:
    """Linux ``tcp_reset``: a RST in CLOSE_WAIT is reported as EPIPE (the peer had
    already finished; we were writing into a closed pipe)."""
    conn, peer = reach("CLOSE_WAIT")
    peer.send(peer.rst())
    with pytest.raises(BrokenPipeError):
        peer.call("send", b"x")
    assert conn.receive(10, peer.now) == b""


def test_write_into_a_peer_that_closed_triggers_rst_and_then_epipe() -> None:
    """The broken-pipe story: the peer closed (FIN), we write anyway; the peer's stack
    answers our data with a RST; our next write fails with EPIPE."""
    pair = connected_pair()
    pair.call("b", "close")
    pair.run(until=pair.now + 0.1)
    assert pair.a.state is State.CLOSE_WAIT
    assert pair.call("a", "send", b"first") == 5  # succeeds: the FIN said nothing of reads
    pair.run(until=pair.now + 0.1)
    assert pair.a.state is State.CLOSED
    with pytest.raises(BrokenPipeError):
        pair.call("a", "send", b"second")
    failures = [e.errno for e in pair.events["a"] if isinstance(e, ConnectionFailed)]
    assert failures == [errno.EPIPE]


def test_receive_on_unconnected_is_enotconn() -> None:
    conn, peer = reach("CLOSED")
    with pytest.raises(OSError) as info:
        peer.call("receive", 10)
    assert info.value.errno == errno.ENOTCONN
    conn, peer = reach("LISTEN")
    with pytest.raises(OSError) as info:
        peer.call("receive", 10)
    assert info.value.errno == errno.ENOTCONN


def test_shutdown_unconnected_is_enotconn() -> None:
    conn, peer = reach("CLOSED")
    with pytest.raises(OSError) as info:
        peer.call("shutdown")
    assert info.value.errno == errno.ENOTCONN


def test_close_in_close_wait_sends_fin_then_closed_on_ack() -> None:
    conn, peer = reach("CLOSE_WAIT")
    peer.call("close")
    assert [r.flags for r in peer.last_replies] == [FIN | ACK]
    peer.send(peer.ack())
    assert conn.state is State.CLOSED and conn.take_error() == 0


def test_abort_is_idempotent() -> None:
    conn, peer = established()
    peer.call("abort")
    peer.call("abort")
    assert conn.state is State.CLOSED
    assert peer.send(peer.ack()) != []  # a closed TCB answers with RST


"""Retransmission (RFC 6298), giving up (RFC 1122 §4.2.3.5, tcp_retries2,
TCP_USER_TIMEOUT of RFC 5482) and zero-window probing (RFC 9293 §3.8.6.1)."""

from __future__ import annotations

import errno
import itertools

import pytest

from tcpkit.tcp.connection import Connection
from tcpkit.tcp.state import State
from tests.tcp.kit import Peer, established


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def data_sends(sent: list[tuple[float, object]]) -> list[float]:
    return [t for t, r in sent if getattr(r, "length", 0)]


def near(expected: float, got: float) -> bool:
    """Never early; at most one timer-wheel slot late (under 1/8 of the delay + a tick)."""
    return expected - 1e-9 <= got <= expected * 1.13 + 0.005


def test_first_rto_from_the_handshake_rtt() -> None:
    """RFC 6298 §2.2-2.4 with Linux's estimator: one 10 ms sample from the handshake
    gives RTO = SRTT + max(4 RTTVAR, TCP_RTO_MIN): 210 ms, in whole jiffies."""
    conn, peer = established(rtt=0.01)
    assert conn.rtt.srtt_us == 10_000 << 3
    assert conn.rtt.rto_jiffies == 53  # 210 ms at HZ=250, rounded up


def resends_of_unanswered_data(**settings: object) -> tuple[Connection, float, float, list[float]]:
    conn, peer = established(**settings)
    rto = conn.rtt.rto_jiffies / 250
    start = peer.now
    peer.call("send", b"x" * 100)
    times = data_sends(peer.wait(2000))
    return conn, rto, start, times


def test_tail_loss_probe_then_rto_backoff_up_to_120s() -> None:
    """Linux sends a tail loss probe first (RFC 8985 §7: PTO = 2 SRTT, plus 200 ms
    with one segment out, but never later than the RTO), then the RTO fires 1 RTO
    after the probe and doubles each time (RFC 6298 §5.5) up to TCP_RTO_MAX, 120 s."""
    conn, rto, start, times = resends_of_unanswered_data()
    steps = gaps([start, *times])
    assert near(min(0.02 + 0.2, rto), steps[0])  # the probe
    for k, step in enumerate(steps[1:]):
        # Each timer is late by up to one wheel slot, and the next starts from there.
        assert near(min(rto * 2**k, 120.0), step), (k, steps)


def test_retries2_ends_in_etimedout_after_linux_time_budget() -> None:
    """tcp_retries2 = 15 (RFC 1122 §4.2.3.5 R2): Linux turns it into a time budget,
    ``tcp_model_timeout``: 924.6 s with the 200 ms minimum RTO, from the first RTO
    retransmission (the loss probe does not start it); the connection dies at the
    first RTO expiry past it, with ETIMEDOUT and no RST."""
    conn, rto, start, times = resends_of_unanswered_data()
    assert conn.state is State.CLOSED
    first_rto = times[1]
    assert 924.6 <= conn.clock - first_rto <= 924.6 + 120 * 1.13
    assert conn.take_error() == errno.ETIMEDOUT
    assert len(times) == 1 + 15  # the loss probe, then 15 retransmissions


def test_retries2_small() -> None:
    """tcp_retries2=3: the budget is (2**4 - 1) x 200 ms = 3 s from the first RTO
    retransmission; the expiry after the 4th is past it (test_kernel_stories has the
    kernel tell the same story: a probe, four retransmissions, ETIMEDOUT ~7.2 s)."""
    conn, rto, start, times = resends_of_unanswered_data(retries2=3, rtt=0.001)
    assert len(times) == 1 + 4
    assert conn.clock - times[1] >= 3.0 > times[-1] - times[1]
    assert conn.take_error() == errno.ETIMEDOUT


def test_user_timeout_ends_retransmission_early() -> None:
    """RFC 5482 / TCP_USER_TIMEOUT: unacknowledged data older than the timeout ends
    the connection with ETIMEDOUT; Linux counts from the first RTO retransmission and
    clamps the last RTO so it fires on time (~2.8 s after the send, as measured)."""
    conn, peer = established(user_timeout=2.0)
    peer.call("send", b"x" * 100)
    sent = peer.wait(30)
    first_rto = data_sends(sent)[1]
    assert conn.state is State.CLOSED and conn.take_error() == errno.ETIMEDOUT
    assert 2.0 <= conn.clock - first_rto <= 2.04  # plus a timer-wheel slot
    with pytest.raises(BrokenPipeError):
        peer.call("send", b"more")


def test_ack_stops_retransmission_and_restarts_timer() -> None:
    """RFC 6298 §5.2-5.3: an ACK of all data turns the timer off; of some, restarts it."""
    conn, peer = established()
    peer.call("send", b"a" * 3000)
    peer.send(peer.ack(ack=1449))
    assert conn.xmit_deadline is not None
    peer.send(peer.ack())
    assert conn.xmit_deadline is None
    assert peer.wait(5) == []


def test_karn_no_rtt_sample_from_retransmitted_segment() -> None:
    """RFC 6298 §3 (Karn): an ACK of a retransmitted segment gives no RTT sample when
    timestamps cannot tell the copies apart; the backed-off RTO stays until new data
    is acknowledged."""
    conn, peer = established(peer_options={"timestamps": False})
    srtt = conn.rtt.srtt_us
    peer.call("send", b"x" * 100)
    peer.wait(0.5)  # one retransmission
    peer.now += 2.0  # an ACK that, if sampled, would claim a huge RTT
    peer.send(peer.ack())
    assert conn.rtt.srtt_us == srtt


def test_timestamps_give_rtt_samples_even_for_retransmissions() -> None:
    """RFC 7323 §4.2 / Linux: the echoed TSval of the copy that arrived measures RTT."""
    conn, peer = established()
    srtt = conn.rtt.srtt_us
    peer.call("send", b"x" * 100)
    peer.wait(0.3)
    peer.send(peer.ack())
    assert conn.rtt.srtt_us != srtt


def zero_window(**settings: object) -> tuple[Connection, Peer]:
    """Our data acknowledged with a zero window, and more data waiting."""
    conn, peer = established(**settings)
    peer.call("send", b"p" * 100)
    peer.send(peer.ack(win=0))
    peer.call("send", b"q" * 100)
    assert peer.last_replies == []  # nothing fits a zero window
    return conn, peer


def test_zero_window_probes_back_off_and_never_give_up_while_answered() -> None:
    """RFC 9293 §3.8.6.1: with a zero window the sender probes; RFC 1122 §4.2.2.17:
    it keeps the connection open as long as the receiver answers. Linux's probe is an
    empty segment with SEG.SEQ = SND.UNA - 1 (``tcp_xmit_probe_skb``)."""
    conn, peer = zero_window()
    probes: list[float] = []
    for _ in range(25):
        sent = peer.wait_until(conn.next_deadline() or peer.now + 1)
        for t, r in sent:
            assert r.length == 0 and r.seq == 100  # SND.UNA - 1
            probes.append(t)
            peer.send(peer.ack(win=0))
    steps = gaps(probes)
    assert steps[0] < steps[3] < steps[6]
    assert 119 <= max(steps) <= 136  # capped at TCP_RTO_MAX
    assert conn.state is State.ESTABLISHED
    replies = peer.send(peer.ack(win=100))  # the window opens: data flows
    assert [r.length for r in replies] == [100]


def test_zero_window_probes_unanswered_give_up() -> None:
    """Linux ``tcp_probe_timer``: tcp_retries2 unanswered probes end with ETIMEDOUT."""
    conn, peer = zero_window(retries2=4)
    peer.wait(1000)
    assert conn.state is State.CLOSED and conn.take_error() == errno.ETIMEDOUT


def test_orphan_zero_window_gives_up_sooner() -> None:
    """Linux ``tcp_orphan_retries``: a closed socket stuck behind a zero window is
    dropped after a few probes once the backoff is long."""
    conn, peer = zero_window()
    peer.call("close")
    sent = peer.wait(5000)
    assert conn.state is State.CLOSED
    assert len(sent) <= 10


def test_retransmission_resends_same_bytes() -> None:
    conn, peer = established()
    peer.call("send", b"0123456789")
    first = peer.last_replies[0].segment.payload
    resent = [r for _, r in peer.wait(1) if r.length]
    assert resent and resent[0].segment.payload == first and resent[0].seq == 1



def test_retransmission_after_partial_ack_sends_only_the_rest() -> None:
    """A segment acknowledged in part is retransmitted from SND.UNA (Linux
    ``tcp_trim_head``), never from its old start (a FIN on it would move backwards)."""
    conn, peer = established()
    peer.call("send", b"d" * 1000)
    peer.wait(0.3)  # the loss probe
    peer.send(peer.ack(ack=501))  # half the data
    resent = [r for _, r in peer.wait(1.0)]
    assert resent and all((r.seq, r.length) == (501, 500) for r in resent)
    assert resent[0].segment.payload == b"d" * 500

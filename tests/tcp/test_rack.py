"""RACK loss detection (RFC 8985 §6) as Linux 6.18 does it (tcp_recovery.c): by time,
not by counting duplicate ACKs. The kernel judges the same rules in the lab's
lossy-transfer scenario (tests/lab); these tests pin each rule on its own.

The handshake takes 10 ms, so min RTT and SRTT are 10 ms and the reordering window is
min(min_rtt/4, srtt) = 2.5 ms."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.rtt import RttEstimator
from tcpkit.tcp.tcb import XMIT_RETRANS, CAState
from tests.tcp.kit import Peer, Rel, established

MSS = 1448
RTT = 0.01


def sender() -> tuple[Connection, Peer]:
    return established(nodelay=True, sndbuf=212992, rtt=RTT)


def write(peer: Peer, segments: int = 1) -> list[Rel]:
    peer.call("send", b"d" * (MSS * segments))
    return peer.last_replies


def sack(peer: Peer, ack: int, *blocks: tuple[int, int]) -> list[Rel]:
    return peer.send(peer.ack(ack=ack, sack=blocks))


def resent(replies: list[Rel], below: int) -> list[int]:
    return [r.seq for r in replies if r.length and r.seq < below]


def test_an_old_hole_is_lost_at_the_first_sack() -> None:
    """A segment sent more than RACK.rtt + reo_wnd before one that is SACKed is lost:
    one SACK is enough (RFC 8985 §6.2 step 5), no third duplicate ACK needed."""
    conn, peer = sender()
    first = write(peer)[0]
    peer.now += 0.005
    second = write(peer)[0]
    peer.now += RTT  # the second's SACK arrives one RTT after it left
    replies = sack(peer, first.seq, (second.seq, second.seq + MSS))
    assert resent(replies, second.seq) == [first.seq]
    assert conn.ca_state == CAState.RECOVERY


def test_a_young_hole_waits_for_the_reordering_timer() -> None:
    """Sent together, a hole may just be reordering: the REO timer waits out RACK.rtt +
    reo_wnd since the hole was sent (+2 ms, TCP_TIMEOUT_MIN_US, in whole jiffies),
    then the segment is lost and fast recovery starts (``tcp_rack_reo_timeout``)."""
    conn, peer = sender()
    flight = write(peer, 4)
    peer.now += RTT
    assert resent(sack(peer, 1, (flight[1].seq, flight[2].seq)), flight[1].seq) == []
    assert conn.ca_state == CAState.DISORDER
    fired = peer.wait(0.05)
    assert [r.seq for _, r in fired if r.length] == [1]
    # 2.5 ms + 2 ms is two jiffies at HZ 250, armed at jiffy 5 (t = 0.02): the wheel
    # fires it at jiffy 8.
    assert fired[0][0] == 0.032
    assert conn.ca_state == CAState.RECOVERY


def test_the_duplicate_threshold_is_a_fast_path() -> None:
    """Without reordering seen, ``reordering`` (3) SACKed segments make the window zero:
    the hole is lost at once (``tcp_rack_reo_wnd``), like RFC 6675's rule."""
    conn, peer = sender()
    flight = write(peer, 5)
    peer.now += RTT
    replies: list[Rel] = []
    for r in flight[1:4]:
        replies += sack(peer, 1, (flight[1].seq, r.seq + MSS))
    assert resent(replies, flight[1].seq) == [1]
    assert conn.sacked_out == 3


def test_a_lost_retransmission_is_found_without_a_timeout() -> None:
    """RACK treats a retransmission like any segment: when data sent after it is
    SACKed and its time is up, it is lost again and resent (Linux FLAG_LOST_RETRANS)."""
    conn, peer = sender()
    write(peer)
    peer.now += 0.005
    rest = write(peer, 9)  # cwnd (10) is full now
    write(peer, 4)  # waits for room
    peer.now += RTT
    assert resent(sack(peer, 1, (rest[0].seq, rest[0].seq + MSS)), rest[0].seq) == [1]
    peer.now += 0.005
    end = rest[-1].seq + MSS
    new = [r for r in sack(peer, 1, (rest[0].seq, end)) if r.seq >= end]
    assert new, "PRR lets new data out as SACKs report deliveries"
    peer.now += RTT  # the resend was lost; the new data arrives
    replies = sack(peer, 1, (rest[0].seq, new[-1].seq + new[-1].length))
    assert resent(replies, rest[0].seq) == [1]
    assert conn.total_retrans == 2 and conn.total_rto == 0


def test_a_hole_filled_late_is_reordering_and_widens_the_window() -> None:
    """A never-resent segment below the highest SACK that arrives after all is
    reordering (``tcp_check_sack_reordering``): from then on RACK keeps its window even
    with three SACKs above a hole."""
    conn, peer = sender()
    flight = write(peer, 4)
    peer.now += RTT
    sack(peer, 1, (flight[1].seq, flight[3].seq))
    peer.send(peer.ack(ack=flight[3].seq))  # the hole fills itself, before the REO timer
    assert conn.reord_seen == 1 and conn.total_retrans == 0
    peer.send(peer.ack())
    peer.now += 0.05
    flight = write(peer, 5)
    peer.now += RTT
    replies: list[Rel] = []
    for r in flight[1:4]:
        replies += sack(peer, flight[0].seq, (flight[1].seq, r.seq + MSS))
    assert resent(replies, flight[1].seq) == []  # waits for the timer despite 3 SACKs
    fired = peer.wait(0.05)
    assert [r.seq for _, r in fired if r.length][:1] == [flight[0].seq]


def test_an_rto_spares_what_was_sent_within_rack_rtt() -> None:
    """On a timeout, RACK does not call lost what left less than RACK.rtt (here the
    handshake's 50 ms) ago (``tcp_timeout_mark_lost``); the head always is."""
    conn, peer = established(nodelay=True, sndbuf=212992, rtt=0.05)
    first = write(peer)[0]
    peer.wait_until(conn.xmit_deadline)  # type: ignore[arg-type]  # the loss probe
    assert conn.xmit_kind == XMIT_RETRANS
    peer.wait_until(conn.xmit_deadline - 0.005)  # type: ignore[operator]
    recent = write(peer)
    assert [r.seq for r in recent] == [first.seq + MSS]
    for _ in range(5):
        if conn.ca_state == CAState.LOSS:
            break
        peer.wait_until(conn.xmit_deadline or peer.now)
    assert conn.ca_state == CAState.LOSS
    assert [s.lost for s in conn.rtx] == [True, False]
    assert conn.lost_out == 1


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=40))
def test_min_rtt_is_the_lowest_sample_of_the_window(samples: list[int]) -> None:
    rtt = RttEstimator(ConnectionConfig())
    for i, sample in enumerate(samples):
        rtt.sample_min(sample, i * 1.0, 300.0)
        assert rtt.min_rtt_us == min(samples[: i + 1])


def test_min_rtt_forgets_samples_older_than_the_window() -> None:
    """Linux ``minmax_running_min``: after the window the best sample expires and the
    next best of the window takes over."""
    rtt = RttEstimator(ConnectionConfig())
    rtt.sample_min(100, 0.0, 10.0)
    rtt.sample_min(300, 4.0, 10.0)
    rtt.sample_min(200, 8.0, 10.0)
    assert rtt.min_rtt_us == 100
    rtt.sample_min(400, 10.5, 10.0)
    assert rtt.min_rtt_us == 200
    rtt.sample_min(500, 30.0, 10.0)
    assert rtt.min_rtt_us == 500

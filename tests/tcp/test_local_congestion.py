"""The host's device refuses a packet (a queueing discipline with no room: Linux's
``queue_xmit`` returns NET_XMIT_DROP): local congestion as ``__tcp_transmit_skb`` and its
callers handle it. The kernel does the same in tests/tcp/test_kernel_stories.py
(device_refuses_*), and packetdrill's user-timeout-probe passes."""

from __future__ import annotations

import errno
import itertools

from tcpkit.tcp.events import ConnectionFailed, Counted
from tcpkit.tcp.tcb import CAState
from tcpkit.wire.tcp import ACK
from tests.tcp.kit import Peer, established


def refusing(peer: Peer, refuse: bool) -> None:
    peer.conn.device_refuses = (lambda: True) if refuse else None


def test_refused_data_stays_unsent_and_the_window_is_reduced() -> None:
    """tcp_write_xmit stops at the refused packet; tcp_enter_cwr halves cwnd's target."""
    conn, peer = established()
    cwnd = conn.cwnd
    refusing(peer, True)
    assert peer.call("send", b"x" * 24) == 24
    assert peer.last_replies == []
    assert conn.snd_nxt == conn.iss + 1 and conn.packets_out == 0
    assert conn.write_seq == conn.iss + 25
    assert conn.ca_state is CAState.CWR and conn.ssthresh == cwnd // 2
    # Nothing in flight to bring an ACK: the probe timer is what retries, after an RTO
    # (tcp_check_probe_timer).
    refusing(peer, False)
    deadline = conn.next_deadline()
    assert deadline is not None and deadline - peer.now >= conn.config.rto_min
    (_, probe), = peer.wait_until(deadline)
    assert probe.seq == 1 and probe.length == 24 and conn.packets_out == 1


def test_probes_retry_every_half_second_until_the_user_timeout() -> None:
    """tcp_send_probe0 after a refused probe: TCP_RESOURCE_PROBE_INTERVAL, no backoff;
    tcp_probe_timer gives up once TCP_USER_TIMEOUT has passed since the first probe."""
    conn, peer = established(user_timeout=3.0)
    refusing(peer, True)
    start = peer.now
    peer.call("send", b"x" * 24)
    seen: list[tuple[float, int]] = []
    while conn.error == 0 and peer.now < start + 10:
        deadline = conn.next_deadline()
        assert deadline is not None
        peer.wait_until(deadline)
        seen.append((peer.now - start, conn.probes_out))
        assert conn.rtt.backoff == 0
    assert [p for _, p in seen][:6] == [1, 2, 3, 4, 5, 6]
    first = seen[0][0]
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(seen)]
    assert all(0.5 <= g <= 0.512 for g in gaps[:-1]), gaps
    assert 3.0 <= seen[-1][0] - first <= 3.012
    assert peer.sent == peer.sent[:3]  # nothing reached the wire after the handshake
    assert [e.errno for e in peer.events if isinstance(e, ConnectionFailed)] == [
        errno.ETIMEDOUT]


def test_refused_retransmission_retries_soon_without_backing_off() -> None:
    """tcp_retransmit_timer: a retransmission the device refused is counted
    (TcpExtTCPRetransFail, and in total_retrans), is not in flight as one, and the timer
    comes back after TCP_RESOURCE_PROBE_INTERVAL with the RTO not doubled."""
    conn, peer = established()
    peer.call("send", b"y" * 100)
    assert [r.length for r in peer.last_replies] == [100]
    refusing(peer, True)
    rto = conn.rtt.rto
    got = peer.wait(rto + 0.1)  # the loss probe, then the RTO: both refused
    assert got == []
    fails = [e for e in peer.events if e == Counted("TcpExtTCPRetransFail")]
    assert len(fails) >= 1 and conn.total_retrans == len(fails)
    assert conn.retrans_out == 0 and conn.rtt.backoff == 0 and conn.retransmits == 1
    assert conn.rtt.rto == rto
    refusing(peer, False)
    deadline = conn.next_deadline()
    assert deadline is not None
    (when, again), = peer.wait_until(deadline)
    assert again.seq == 1 and again.length == 100 and again.flags & ACK
    assert conn.retrans_out == 1 and conn.rtt.backoff == 1


def test_refused_keepalive_probe_is_retried_sooner() -> None:
    """tcp_keepalive_timer: a probe lost to local congestion is not counted and the next
    comes after TCP_RESOURCE_PROBE_INTERVAL, not TCP_KEEPINTVL."""
    conn, peer = established(keepalive=True, keepalive_time=10.0, keepalive_intvl=5.0)
    refusing(peer, True)
    first = conn.next_deadline()
    assert first is not None
    assert peer.wait_until(first) == [] and conn.probes_out == 0
    retry = conn.next_deadline()
    assert retry is not None and 0.5 <= retry - first <= 0.513
    refusing(peer, False)
    (_, probe), = peer.wait_until(retry)
    assert probe.seq == 0 and probe.length == 0 and conn.probes_out == 1
    assert conn.next_deadline() == conn.keepalive_deadline
    assert 5.0 <= (conn.keepalive_deadline or 0) - retry <= 5.3

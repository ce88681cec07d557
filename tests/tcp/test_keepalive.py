"""Keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6) with Linux's settings: SO_KEEPALIVE,
TCP_KEEPIDLE (7200 s), TCP_KEEPINTVL (75 s), TCP_KEEPCNT (9)."""

from __future__ import annotations

import errno
import itertools

import pytest

from tcpkit.links.pair import EnginePair
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.events import ConnectionFailed
from tcpkit.tcp.state import State
from tcpkit.wire.tcp import ACK, RST
from tests.tcp.kit import Rel, established


def late_by_wheel(expected: float, got: float) -> bool:
    """Linux timers fire up to one wheel slot late: under 1/8 of the delay."""
    return expected <= got <= expected * 1.13 + 0.004


def probes(sent: list[tuple[float, Rel]]) -> list[tuple[float, Rel]]:
    return [(t, r) for t, r in sent if r.flags == ACK and r.length == 0]


def test_off_by_default() -> None:
    """RFC 1122 §4.2.3.6: keep-alives MUST default to off."""
    conn, peer = established()
    assert peer.wait(100_000) == []
    assert conn.state is State.ESTABLISHED


def test_probe_is_an_ack_at_snd_una_minus_one() -> None:
    """RFC 1122 §4.2.3.6 / Linux ``tcp_xmit_probe_skb``: a probe carries SEG.SEQ =
    SND.NXT-1 and no data, so the receiver must answer with an ACK."""
    conn, peer = established(keepalive=True)
    start = peer.now
    sent = peer.wait(7400)
    (when, probe), *_ = probes(sent)
    assert probe.seq == 0 and probe.length == 0  # ISN + 1 - 1
    assert late_by_wheel(7200, when - start)


def test_answered_probes_keep_the_connection() -> None:
    conn, peer = established(keepalive=True, keepalive_time=60.0)
    answered = 0
    while peer.now < 1000:
        for _, _probe in probes(peer.wait_until(conn.next_deadline() or peer.now + 1)):
            peer.send(peer.ack())
            answered += 1
    assert answered >= 10
    assert conn.state is State.ESTABLISHED


def test_silence_ends_in_etimedout_after_the_linux_schedule() -> None:
    """Linux defaults: the first probe after 7200 s idle, then every 75 s; after 9
    unanswered probes the next expiry sends a RST and reports ETIMEDOUT: ~7875 s."""
    conn, peer = established(keepalive=True)
    start = peer.now
    sent = peer.wait(9000)
    times = [t - start for t, _ in probes(sent)]
    assert len(times) == 9
    assert late_by_wheel(7200, times[0])
    assert all(late_by_wheel(75, b - a) for a, b in itertools.pairwise(times))
    assert [r.flags for _, r in sent][-1] == RST | ACK
    assert conn.state is State.CLOSED
    assert late_by_wheel(75, conn.clock - start - times[-1])
    assert [e.errno for e in peer.events if isinstance(e, ConnectionFailed)] == [
        errno.ETIMEDOUT]


def test_short_settings_as_in_the_kernel_lab() -> None:
    """idle=1 intvl=1 cnt=2 on a dead peer: ETIMEDOUT after about 3 s (measured on
    Linux 6.18: ../KERNEL_LAB.md; test_kernel_stories runs it side by side)."""
    conn, peer = established(keepalive=True, keepalive_time=1.0, keepalive_intvl=1.0,
                             keepalive_probes=2)
    start = peer.now
    peer.wait(10)
    assert conn.state is State.CLOSED and conn.take_error() == errno.ETIMEDOUT
    assert 3.0 <= conn.clock - start <= 3.1


def test_rst_answer_resets_the_connection() -> None:
    """A peer that rebooted answers the probe with a RST: ECONNRESET."""
    conn, peer = established(keepalive=True, keepalive_time=10.0)
    peer.wait(11)
    peer.send(peer.rst())
    assert conn.state is State.CLOSED and conn.take_error() == errno.ECONNRESET


def test_received_data_restarts_the_idle_clock() -> None:
    conn, peer = established(keepalive=True, keepalive_time=100.0)
    peer.wait(90)
    peer.send(peer.data(b"still here"))
    conn.receive(100, peer.now)
    sent = peer.wait(95)
    assert probes(sent) == [] or all(t - 90 >= 100 for t, _ in probes(sent))


def test_user_timeout_overrides_the_probe_count() -> None:
    """Linux: with TCP_USER_TIMEOUT set, keepalive gives up once that much time passed
    since the last ACK (and a probe was sent), whatever TCP_KEEPCNT says."""
    conn, peer = established(keepalive=True, keepalive_time=10.0, keepalive_intvl=10.0,
                             keepalive_probes=100, user_timeout=35.0)
    start = peer.now
    peer.wait(100)
    assert conn.state is State.CLOSED and conn.take_error() == errno.ETIMEDOUT
    assert 35 <= conn.clock - start <= 45


def test_enable_on_a_live_connection() -> None:
    """setsockopt(SO_KEEPALIVE) after connect arms the timer from now."""
    conn, peer = established()
    peer.wait(50)
    conn.set_keepalive(peer.now, enabled=True, idle=20.0, interval=5.0, count=1)
    start = peer.now
    sent = peer.wait(100)
    assert late_by_wheel(20, probes(sent)[0][0] - start)
    assert conn.state is State.CLOSED


@pytest.mark.parametrize("kw", [{"idle": 0}, {"interval": 40000}, {"count": 128}])
def test_invalid_keepalive_settings_are_einval(kw: dict[str, float]) -> None:
    conn, peer = established()
    with pytest.raises(OSError) as info:
        conn.set_keepalive(peer.now, **kw)  # type: ignore[arg-type]
    assert info.value.errno == errno.EINVAL


def test_half_open_found_by_keepalive_between_engines() -> None:
    """The story keepalive exists for: the peer vanished without a word (the cable is
    cut), and only the probes discover it."""
    cut = False

    def fault(now: float, sender: str, seg: object) -> list[float]:
        return [] if cut else [0.001]

    cfg = ConnectionConfig(keepalive=True, keepalive_time=30.0, keepalive_intvl=5.0,
                           keepalive_probes=3)
    pair = EnginePair(client=cfg, fault=fault)  # type: ignore[arg-type]
    pair.connect()
    cut = True
    pair.run(until=200)
    assert pair.a.state is State.CLOSED and pair.a.take_error() == errno.ETIMEDOUT
    assert pair.b.state is State.ESTABLISHED  # the server never knew


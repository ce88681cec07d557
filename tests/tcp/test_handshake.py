"""Opening a connection: SYN and SYN-ACK options (RFC 9293 §3.7.1, RFC 7323, RFC 2018)
in Linux's layout, the retries of each, and what LISTEN and SYN-SENT do with odd
segments (RFC 9293 §3.10.7.2, §3.10.7.3, §3.5.2)."""

from __future__ import annotations

import errno

import pytest

from tcpkit.links.pair import EnginePair
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.events import Connected, ConnectionFailed
from tcpkit.tcp.state import State
from tcpkit.wire.tcp import ACK, FIN, PSH, RST, SYN
from tcpkit.wire.tcp_options import (
    MSS,
    NOP,
    SACK_PERMITTED,
    Timestamps,
    WindowScale,
)
from tests.tcp.kit import Peer, established, new_conn, reach


def kinds(options: tuple[object, ...]) -> list[str]:
    return [type(o).__name__ for o in options]


def our_syn(**settings: object) -> Peer:
    conn = new_conn(**settings)
    peer = Peer(conn)
    peer.call("connect")
    return peer


# -- the SYN (RFC 9293 §3.7.1, RFC 7323 §2-3, RFC 2018 §2) ---------------------------

def test_syn_carries_linux_options_in_linux_order() -> None:
    """Linux ``tcp_options_write``: mss, sackOK, TS, nop, wscale (20 bytes)."""
    (syn,) = our_syn().last_replies
    assert syn.flags == SYN and syn.seq == 0 and syn.length == 0
    opts = syn.segment.options
    assert kinds(opts) == ["MSS", "SackPermitted", "Timestamps", "NoOperation", "WindowScale"]
    assert opts[0] == MSS(1460)  # MTU 1500 - 20 - 20
    assert isinstance(opts[2], Timestamps) and opts[2].tsecr == 0
    # The default receive buffer (tcp_rmem[1] 131072) gives a 64240-byte first window
    # (44 full segments) and wscale 10, from tcp_rmem[2] = 32 MiB.
    assert syn.window == 64240
    assert opts[4] == WindowScale(10)


@pytest.mark.parametrize(("settings", "layout"), [
    ({"timestamps": False}, ["MSS", "NoOperation", "NoOperation", "SackPermitted",
                             "NoOperation", "WindowScale"]),
    ({"sack": False}, ["MSS", "NoOperation", "NoOperation", "Timestamps", "NoOperation",
                       "WindowScale"]),
    ({"sack": False, "timestamps": False}, ["MSS", "NoOperation", "WindowScale"]),
    ({"window_scaling": False}, ["MSS", "SackPermitted", "Timestamps"]),
])
def test_syn_layout_when_options_are_off(settings: dict[str, object], layout: list[str]) -> None:
    """Each sysctl (tcp_timestamps, tcp_sack, tcp_window_scaling) drops its option and
    Linux pads the rest with NOPs to 32-bit boundaries as shown."""
    (syn,) = our_syn(**settings).last_replies
    assert kinds(syn.segment.options) == layout


@pytest.mark.parametrize(("settings", "mss"), [
    ({"mtu": 1400}, 1360), ({"ipv6": True}, 1440), ({"user_mss": 1000}, 1000),
    ({"user_mss": 9000}, 1460), ({"mtu": 9000}, 8960),
])
def test_syn_mss_from_the_mtu_and_tcp_maxseg(settings: dict[str, object], mss: int) -> None:
    """RFC 9293 §3.7.1 / RFC 879: MSS = MTU - IP and TCP headers; TCP_MAXSEG only lowers it."""
    (syn,) = our_syn(**settings).last_replies
    assert syn.segment.options[0] == MSS(mss)


def test_small_receive_buffer_chooses_small_window_and_scale() -> None:
    """Linux ``tcp_select_initial_window``: SO_RCVBUF locks the clamp; the scale is the
    smallest shift that covers the buffer's window (RFC 7323 §2.3). Linux 6.18 sends
    win 7300, wscale 0 for SO_RCVBUF 8192 (stored doubled, half of it a window, rounded
    down to whole segments); test_kernel_handshake compares it with the kernel."""
    (syn,) = our_syn(rcvbuf=8192).last_replies
    assert syn.segment.options[-1] == WindowScale(0)
    assert syn.window == 7300


# -- the SYN-ACK: only what was offered, in the same layout ------------------------------

@pytest.mark.parametrize(("peer_options", "layout"), [
    ({}, ["MSS", "SackPermitted", "Timestamps", "NoOperation", "WindowScale"]),
    ({"wscale": None}, ["MSS", "SackPermitted", "Timestamps"]),
    ({"sack": False}, ["MSS", "NoOperation", "NoOperation", "Timestamps", "NoOperation",
                       "WindowScale"]),
    ({"timestamps": False}, ["MSS", "NoOperation", "NoOperation", "SackPermitted",
                             "NoOperation", "WindowScale"]),
    ({"timestamps": False, "sack": False, "wscale": None}, ["MSS"]),
])
def test_synack_agrees_only_to_what_the_syn_offered(peer_options: dict[str, object],
                                                    layout: list[str]) -> None:
    """RFC 7323 §2.2/§3.2 and RFC 2018 §2: an option is used only if both sides sent it."""
    conn, peer = reach("LISTEN")
    peer = Peer(conn, **peer_options)  # type: ignore[arg-type]
    (synack,) = peer.send(peer.syn())
    assert synack.flags == SYN | ACK and synack.ack == 1
    assert kinds(synack.segment.options) == layout
    stamps = [o for o in synack.segment.options if isinstance(o, Timestamps)]
    if stamps:
        assert stamps[0].tsecr == peer.tsval - 1  # echoes the SYN's TSval


def test_synack_window_unscaled_and_clamped_without_window_scaling() -> None:
    """RFC 7323 §2.2: windows in SYNs are never scaled; without the peer's wscale our
    window must fit 16 bits."""
    conn, peer = reach("LISTEN")
    peer = Peer(conn, wscale=None)
    (synack,) = peer.send(peer.syn())
    assert synack.window == 65160  # 45 segments of 1448 (1460 less the TS option)
    peer.send(peer.ack(ack=1))
    assert conn.rcv_wscale == 0 and conn.snd_wscale == 0
    assert conn.window_clamp <= 65535


def test_peer_window_scale_applies_after_the_handshake() -> None:
    """RFC 7323 §2.3: the peer's windows are shifted by its wscale, except in the SYN."""
    conn, peer = established(peer_options={"wscale": 7})
    assert conn.snd_wnd == 502 << 7
    conn, peer = established(side="client", peer_options={"wscale": 7})
    assert conn.snd_wnd == 65160  # the SYN-ACK's window, unscaled
    peer.send(peer.ack(win=600))
    assert conn.snd_wnd == 600 << 7


def test_wscale_above_14_is_taken_as_14() -> None:
    """RFC 7323 §2.3: a shift above 14 is used as 14 (Linux logs and clamps it)."""
    conn, peer = established(peer_options={"wscale": 15})
    assert conn.snd_wscale == 14


def test_peer_mss_clamps_our_segments() -> None:
    """RFC 9293 §3.7.1: never send more than the peer's MSS (less our options)."""
    conn, peer = established(peer_options={"mss": 536})
    peer.call("send", b"x" * 5000)
    lengths = [r.length for r in peer.last_replies]
    assert lengths == [536 - 12] * 9 + [284]  # 12: the TS option


def test_no_mss_option_means_536() -> None:
    """RFC 9293 §3.7.1: without an MSS option the default send MSS is 536."""
    conn, peer = reach("LISTEN", timestamps=False)
    peer = Peer(conn, timestamps=False)
    peer.send(peer.seg(SYN, seq=0, options=(NOP, NOP, SACK_PERMITTED), win=64240))
    peer.send(peer.ack(ack=1, win=65535))
    peer.call("send", b"x" * 2000)
    assert [r.length for r in peer.last_replies] == [536, 536, 536, 392]


# -- active open: SYN-SENT (RFC 9293 §3.10.7.3) ---------------------------------------

def test_synack_establishes_and_acknowledges() -> None:
    conn, peer = established(side="client")
    last = peer.rel(peer.sent[-1][1])
    assert (last.flags, last.seq, last.ack) == (ACK, 1, 1)
    assert any(isinstance(e, Connected) for e in peer.events)


def test_rst_answering_syn_is_connection_refused() -> None:
    """RFC 9293 §3.10.7.3: an acceptable RST in SYN-SENT: "connection refused"."""
    conn, peer = reach("SYN_SENT")
    peer.send(peer.seg(RST | ACK, seq=0, ack=1, options=()))
    assert conn.state is State.CLOSED
    assert [e.errno for e in peer.events if isinstance(e, ConnectionFailed)] == [
        errno.ECONNREFUSED]
    assert conn.take_error() == errno.ECONNREFUSED
    assert conn.take_error() == 0  # reported once (SO_ERROR clears it)


def test_rst_with_wrong_ack_in_synsent_is_ignored() -> None:
    """RFC 9293 §3.10.7.3 first check: an unacceptable ACK with RST is dropped, no reply."""
    conn, peer = reach("SYN_SENT")
    assert peer.send(peer.seg(RST | ACK, seq=0, ack=5, options=())) == []
    assert peer.send(peer.seg(RST, seq=0, options=())) == []  # RST without ACK: dropped
    assert conn.state is State.SYN_SENT


def test_bad_ack_in_synsent_gets_reset() -> None:
    """RFC 9293 §3.5.2 case 2 / §3.10.7.3: an ACK of something not sent gets
    <SEQ=SEG.ACK><CTL=RST>, and the connection stays in SYN-SENT."""
    conn, peer = reach("SYN_SENT")
    bad = peer.seg(SYN | ACK, seq=0, ack=1000, options=peer.syn_options())
    (rst,) = peer.send(bad)
    assert rst.flags == RST and rst.segment.seq == bad.ack and rst.segment.options == ()
    assert conn.state is State.SYN_SENT
    # Linux: the stray SYN-ACK suggests our SYN was lost, so it is resent within 2 jiffies.
    resent = peer.wait(0.05)
    assert [r.flags for _, r in resent] == [SYN]


def test_synack_must_echo_our_timestamp() -> None:
    """RFC 7323 §5.5 (Linux ``tcp_rcv_synsent_state_process``): a SYN-ACK whose TSecr is
    not a TSval we sent is answered with a RST."""
    conn, peer = reach("SYN_SENT")
    peer.last_tsval_seen = 12345  # not what we sent
    synack = peer.seg(SYN | ACK, seq=0, ack=1, options=peer.syn_options())
    assert [r.flags for r in peer.send(synack)] == [RST]
    assert conn.state is State.SYN_SENT


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip([0.0, *times], times, strict=False)]


def wheel(expected: float, got: float) -> bool:
    """Linux timers never fire early and fire at most one slot of their timer-wheel
    level late (kernel/time/timer.c): under 1/8 of the delay, plus a tick."""
    return expected <= got <= expected * 1.13 + 0.004


def test_syn_retransmissions_linux_6_timing() -> None:
    """RFC 6298 §5.5 exponential backoff, except Linux 6.x's first
    ``tcp_syn_linear_timeouts`` (4) retries stay one initial RTO apart; with
    tcp_syn_retries=2 the connect fails with ETIMEDOUT about 7 s after the first SYN.
    test_kernel_handshake runs the same story against the kernel."""
    conn, peer = reach("SYN_SENT", syn_retries=2)
    sent = peer.wait(30)
    times = [t for t, r in sent if r.flags == SYN]
    assert len(times) == 5 and all(wheel(1.0, g) for g in gaps(times)), times
    assert all(r.seq == 0 for _, r in sent)
    assert conn.state is State.CLOSED
    assert wheel(2.0, conn.clock - times[-1])
    assert conn.take_error() == errno.ETIMEDOUT


def test_syn_retransmissions_default() -> None:
    """tcp_syn_retries=6 (the default): one SYN, then retries 1 s apart for the first
    ``tcp_syn_linear_timeouts`` (4) RTOs plus one, then backed off (2, 4, 8, 16, 32 s),
    and ETIMEDOUT after the last one's 64 s RTO."""
    conn, peer = reach("SYN_SENT")
    sent = peer.wait(300)
    times = [t for t, r in sent if r.flags == SYN]
    expected = [1.0] * 5 + [2.0, 4.0, 8.0, 16.0, 32.0]
    assert len(times) == len(expected)
    assert all(wheel(e, g) for e, g in zip(expected, gaps(times), strict=True)), gaps(times)
    assert wheel(64.0, conn.clock - times[-1])
    assert conn.state is State.CLOSED and conn.take_error() == errno.ETIMEDOUT


# -- passive open: LISTEN (§3.10.7.2) and SYN-RECEIVED ----------------------------------

def test_listen_answers_ack_with_reset_and_ignores_rst() -> None:
    """RFC 9293 §3.10.7.2: an ACK in LISTEN gets <SEQ=SEG.ACK><CTL=RST>; a RST is ignored;
    a segment with neither SYN nor ACK is dropped."""
    conn, peer = reach("LISTEN")
    stray = peer.seg(ACK, seq=1, ack=777)
    (rst,) = peer.send(stray)
    assert rst.flags == RST and rst.segment.seq == stray.ack
    assert peer.send(peer.rst(seq=1)) == []
    assert peer.send(peer.seg(PSH, seq=1, payload=b"x", options=())) == []
    assert peer.send(peer.seg(SYN | FIN, seq=0, options=peer.syn_options())) == []
    assert conn.state is State.LISTEN


def test_data_on_a_syn_is_not_acknowledged() -> None:
    """RFC 9293 §3.10.7.2 lets a SYN's data be queued; Linux (without TCP Fast Open)
    drops it, so the SYN-ACK acknowledges only the SYN and the data comes again."""
    conn, peer = reach("LISTEN")
    (synack,) = peer.send(peer.seg(SYN, seq=0, payload=b"early", options=peer.syn_options()))
    assert synack.ack == 1


def test_retransmitted_syn_gets_the_synack_again() -> None:
    conn, peer = reach("SYN_RECEIVED")
    first = peer.sent[-1][1]
    (again,) = peer.send(peer.syn())
    assert again.flags == SYN | ACK and again.segment.seq == first.seq


def test_bad_ack_in_syn_received_gets_reset() -> None:
    """RFC 9293 §3.10.7.4 (SYN-RECEIVED, fifth check): an unacceptable ACK gets
    <SEQ=SEG.ACK><CTL=RST>; the half-open connection stays."""
    conn, peer = reach("SYN_RECEIVED")
    bad = peer.ack(ack=55)
    (rst,) = peer.send(bad)
    assert rst.flags == RST and rst.segment.seq == bad.ack
    assert conn.state is State.SYN_RECEIVED


def test_synack_retransmissions() -> None:
    """tcp_synack_retries=5: SYN-ACKs at 1, 3, 7, 15, 31 s (RFC 6298 backoff from the
    1 s initial RTO), then the embryonic connection is dropped at 63 s without a RST."""
    conn, peer = reach("SYN_RECEIVED")
    sent = peer.wait(100)
    times = [t for t, r in sent if r.flags == SYN | ACK]
    expected = [1.0, 2.0, 4.0, 8.0, 16.0]
    assert all(wheel(e, g) for e, g in zip(expected, gaps(times), strict=True)), times
    assert conn.state is State.CLOSED
    assert wheel(32.0, conn.clock - times[-1])
    assert not any(r.rst for _, r in sent)


# -- two engines --------------------------------------------------------------------

def test_two_engines_connect_and_agree() -> None:
    pair = EnginePair()
    pair.connect()
    a, b = pair.a, pair.b
    assert a.ts_ok and b.ts_ok and a.sack_ok and b.sack_ok
    assert a.snd_wscale == b.rcv_wscale == 10 and b.snd_wscale == a.rcv_wscale == 10
    assert a.mss_cache == b.mss_cache == 1448
    assert a.snd_nxt == b.rcv_nxt and b.snd_nxt == a.rcv_nxt
    assert [line.split(" ", 1)[1].split(", seq")[0].split(", ack")[0]
            for line in pair.trace()] == [
        "IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [S]",
        "IP 192.0.2.2.80 > 192.0.2.1.40000: Flags [S.]",
        "IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [.]",
    ]
    assert sum(isinstance(e, Connected) for e in pair.events["a"]) == 1
    assert sum(isinstance(e, Connected) for e in pair.events["b"]) == 1


def test_send_before_established_would_block() -> None:
    conn, peer = reach("SYN_SENT")
    with pytest.raises(BlockingIOError):
        peer.call("send", b"x")


def test_connect_twice_is_an_error() -> None:
    """Linux: connect() while connecting gives EALREADY, when connected EISCONN."""
    conn, peer = reach("SYN_SENT")
    with pytest.raises(OSError) as info:
        peer.call("connect")
    assert info.value.errno == errno.EALREADY
    conn, peer = established(side="client")
    with pytest.raises(OSError) as info:
        peer.call("connect")
    assert info.value.errno == errno.EISCONN


def test_listen_twice_is_invalid() -> None:
    conn, peer = reach("LISTEN")
    with pytest.raises(OSError) as info:
        conn.listen()
    assert info.value.errno == errno.EINVAL


def test_config_defaults_are_linux() -> None:
    cfg = ConnectionConfig()
    assert (cfg.syn_retries, cfg.synack_retries, cfg.retries2) == (6, 5, 15)
    assert (cfg.keepalive_time, cfg.keepalive_intvl, cfg.keepalive_probes) == (7200, 75, 9)
    assert (cfg.rto_initial, cfg.rto_min, cfg.rto_max, cfg.fin_timeout) == (1, 0.2, 120, 60)
    assert cfg.init_cwnd == 10


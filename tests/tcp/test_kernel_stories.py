"""The engine against the Linux kernel, side by side, in the same run.

Each story runs twice: with real sockets in two network namespaces joined by a veth
pair (captured with tcpdump), and with two tcpkit engines in virtual time. The test
compares what each call returned (and when, for calls that wait) and every segment
each side sent: flags, relative sequence and acknowledgment numbers, length, window,
options and time (within a jiffy and the timer wheel's slack; see
:func:`tests.tcp.kernel_story.tolerance`). Needs root, ip, ethtool, tcpdump and
nftables: skipped elsewhere with the reason, never under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tcpkit.lab.netns import VethPair
from tests.conftest import require_root, require_tool
from tests.tcp.kernel_story import Step, Story, differences, side_by_side, tell_kernel, tell_tcpkit

S = Step

STORIES = [
    Story("request_response_close", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "a", "send", (100,)),
        S(0.3, "b", "recv", (1000,)), S(0.3, "b", "send", (5000,)),
        S(0.4, "a", "recv", (10000,)), S(0.5, "a", "close"),
        S(0.6, "b", "recv", (100,)), S(0.6, "b", "close"),
    ], duration=1.0),
    # RFC 2525 §2.17: close() with unread data resets the connection; the error is
    # reported once, then reads see EOF and writes EPIPE.
    Story("close_with_unread_data", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "a", "send", (100,)),
        S(0.3, "b", "accept"), S(0.4, "b", "close"),
        S(0.5, "a", "recv", (100,)), S(0.55, "a", "recv", (100,)),
        S(0.6, "a", "send", (10,)), S(0.65, "a", "so_error"),
    ], duration=1.0),
    # The broken pipe: the peer closed; our first write succeeds and draws a RST, the
    # next one fails with EPIPE (the RST came in CLOSE_WAIT); reads see the FIN's EOF.
    Story("broken_pipe", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.3, "b", "close"), S(0.4, "a", "send", (100,)), S(0.5, "a", "send", (100,)),
        S(0.55, "a", "send", (100,)), S(0.6, "a", "recv", (100,)),
    ], duration=1.0),
    # Nagle (RFC 1122 §4.2.3.4): once the receiver's start-up quick ACKs are used up,
    # its ACKs wait 40 ms, and small writes queue behind the unacknowledged one.
    Story("nagle_after_quickacks", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        *[S(0.2 + 0.005 * i, "a", "send", (100,)) for i in range(20)],
        S(0.3, "a", "send", (100,)), S(0.3005, "a", "send", (100,)),
        S(0.301, "a", "send", (100,)), S(0.4, "b", "recv", (10000,)),
        S(0.5, "a", "close"), S(0.6, "b", "close"),
    ], duration=1.0),
    Story("connection_refused", [
        S(0.1, "a", "connect"), S(0.2, "a", "so_error"),
    ], duration=0.5),
    Story("abort_with_linger_zero", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.3, "a", "abort"), S(0.4, "b", "recv", (10,)), S(0.45, "b", "recv", (10,)),
        S(0.5, "b", "send", (10,)),
    ], duration=1.0),
    Story("half_close", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "a", "shutdown"),
        S(0.3, "b", "recv", (100,)), S(0.3, "b", "send", (3000,)),
        S(0.4, "a", "recv", (10000,)), S(0.5, "b", "close"), S(0.6, "a", "recv", (100,)),
        S(0.7, "a", "close"),
    ], duration=1.0),
    # SYNs into the void: Linux 6.x keeps the first retries one second apart.
    Story("syn_retries", [
        S(0, "b", "blackhole"), S(0.1, "a", "connect"),
    ], duration=8.5, sysctls={"tcp_syn_retries": 2}),
    # The peer vanished with our data unacknowledged: a tail loss probe, RTOs, and
    # ETIMEDOUT once tcp_retries2's time budget is spent.
    Story("retries2", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.3, "b", "blackhole"), S(0.4, "a", "send", (100,)),
        S(0.45, "a", "recv_wait", (100, 10.0)), S(4.5, "a", "send", (10,)),
    ], duration=5.0, sysctls={"tcp_retries2": 3}),
    Story("keepalive_finds_dead_peer", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.3, "b", "blackhole"), S(0.35, "a", "recv_wait", (100, 10.0)),
    ], duration=4.5, client_options={"keepalive": 1, "keepidle": 1, "keepintvl": 1,
                                     "keepcnt": 2}),
    Story("user_timeout", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.3, "b", "blackhole"), S(0.4, "a", "send", (100,)),
        S(0.45, "a", "recv_wait", (100, 10.0)), S(3.5, "a", "send", (10,)),
    ], duration=4.0, client_options={"user_timeout_ms": 2000}),
    # The reader stopped reading: the window closes and the sender probes it with
    # backed-off zero-window probes; the reader then closes with data unread: RST.
    # (Not a reopening: a segment arriving while the kernel reader is inside recv()
    # waits in the socket backlog and merges with the next one there, which only the
    # timing of two processes decides.)
    # Without window scaling, a buffer bigger than 64 KB: the SYN-ACK says 65535, but
    # the window promised is the whole initial space (tcp_info rcv_wnd), and later
    # ACKs keep it; rcv_ssthresh is clamped to 64 KB until data shows the
    # payload-to-truesize ratio.
    Story("no_window_scaling_big_buffer", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.2, "b", "rcv_window"), S(0.3, "a", "send", (1000,)),
        S(0.35, "b", "rcv_window"), S(0.4, "b", "recv", (1000,)),
        S(0.5, "a", "send", (1000,)), S(0.55, "b", "rcv_window"),
        S(0.6, "a", "close"), S(0.7, "b", "close"),
    ], duration=1.0, sysctls={"tcp_window_scaling": 0}, server_options={"rcvbuf": 270000}),
    Story("zero_window", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        *[S(0.3 + 0.01 * i, "a", "send", (4000,)) for i in range(5)],
        S(3.0, "b", "close"), S(3.1, "a", "send", (10,)),
    ], duration=3.5, server_options={"rcvbuf": 4096}),
    # The device refuses what the client sends (a qdisc with no room: local congestion).
    # Data waits unsent; the probe timer retries every TCP_RESOURCE_PROBE_INTERVAL
    # without backing off, and TCP_USER_TIMEOUT ends it (packetdrill's
    # user-timeout-probe, here with the kernel in the same run).
    Story("device_refuses_new_data", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.3, "a", "send", (24,)), S(0.4, "b", "recv", (100,)),
        S(0.45, "b", "blackhole"),  # its exit's FIN stays out of the story
        S(0.5, "a", "qdisc_drop"),
        S(0.6, "a", "send", (24,)), S(2.0, "a", "probes"), S(3.7, "a", "probes"),
        S(3.75, "a", "send", (24,)), S(3.95, "a", "send", (24,)), S(4.0, "a", "probes"),
    ], duration=4.2, client_options={"user_timeout_ms": 3000}),
    # Data in flight to a vanished peer when the device starts refusing: the loss probe
    # and each retransmission fail locally, so the RTO retries every 500 ms without
    # doubling, until TCP_USER_TIMEOUT.
    Story("device_refuses_retransmits", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.3, "b", "blackhole"), S(0.4, "a", "send", (100,)), S(0.45, "a", "qdisc_drop"),
        S(1.5, "a", "probes"), S(1.55, "a", "recv_wait", (100, 5.0)), S(3.5, "a", "probes"),
    ], duration=4.0, client_options={"user_timeout_ms": 2000}),
    # An orphan in FIN_WAIT_2 gives up after tcp_fin_timeout; the late FIN meets a RST.
    Story("fin_wait_2_timeout", [
        S(0, "b", "listen"), S(0.1, "a", "connect"), S(0.2, "b", "accept"),
        S(0.3, "a", "close"), S(4.5, "b", "shutdown"), S(4.6, "b", "so_error"),
    ], duration=5.0, sysctls={"tcp_fin_timeout": 3}),
]


@pytest.fixture(scope="module")
def tools() -> None:
    require_root()
    for tool in ("ip", "ethtool", "tcpdump", "nft"):
        require_tool(tool)


@pytest.fixture
def veth(tools: None) -> Iterator[VethPair]:
    pair = VethPair.create()
    try:
        yield pair
    finally:
        pair.delete()


@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.name)
def test_story_matches_linux(story: Story, veth: VethPair, tmp_path: Path) -> None:
    kernel = tell_kernel(story, veth, tmp_path)
    tcpkit = tell_tcpkit(story)
    problems = differences(kernel, tcpkit)
    assert not problems, "\n".join(problems) + "\n" + side_by_side(kernel, tcpkit)

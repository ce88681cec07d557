"""ICMP errors a host sends are rate limited per destination, judged by the kernel: the
same TCP segments (to a port a firewall rejects) reach a Linux namespace and a tcpkit
host at the same times, and the number answered and held back in each phase must agree.
Phases: a burst, then single segments at intervals that are far from the bucket's
boundaries (scheduling jitter must not decide the outcome)."""

from __future__ import annotations

import time

import pytest

from tcpkit.lab.worlds import A, B, KernelWorld
from tcpkit.stack import Host
from tcpkit.stack.routes import Interface
from tcpkit.wire import icmp
from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.ipv4 import PROTO_TCP, IPv4Header, pack_ipv4
from tcpkit.wire.tcp import SYN, TCPSegment
from tests.conftest import require_root, require_tool

PORT = 9
# (when, how many segments): a burst, then one at a time.
PHASES = [(0.0, 10), (0.5, 1), (1.6, 1), (2.1, 1), (2.4, 1), (4.0, 3)]
COUNTERS = ("IcmpOutDestUnreachs", "IcmpOutRateLimitHost")

Tally = list[tuple[int, int]]


def segment(n: int) -> bytes:
    """A SYN from A to B (the TCP part: the raw socket or the test adds the IP header)."""
    seg = TCPSegment(40000 + n, PORT, seq=1000 * n, flags=SYN, window=1000)
    return seg.build(pseudo_header(pack_ipv4(A), pack_ipv4(B), PROTO_TCP))


def tell_tcpkit(ratelimit_ms: int | None) -> Tally:
    now = [0.0]
    host = Host("b", clock=lambda: now[0])
    if ratelimit_ms is not None:
        host.sysctl["net.ipv4.icmp_ratelimit"] = ratelimit_ms
    eth0: Interface = host.add_interface("eth0", f"{B}/24")
    eth0.transmit = lambda _packet, _next_hop: None
    host.neighbour_found(eth0, A)
    host.reject(icmp.PORT_UNREACHABLE)
    tally: Tally = []
    n = 0
    for when, count in PHASES:
        now[0] = when
        for _ in range(count):
            n += 1
            host.receive(IPv4Header(src=A, dst=B, protocol=PROTO_TCP).packet(segment(n)), eth0)
        tally.append(tuple(host.counters[name] for name in COUNTERS))  # type: ignore[misc]
    return tally


def tell_kernel(ratelimit_ms: int | None) -> Tally:
    import socket as stdlib

    world = KernelWorld()
    tally: Tally = []
    try:
        if ratelimit_ms is not None:
            world.sysctl("b", "net.ipv4.icmp_ratelimit", ratelimit_ms)
        rules = ("add table inet tkreject\n"
                 "add chain inet tkreject in { type filter hook input priority 0; }\n"
                 f"add rule inet tkreject in tcp dport {PORT} reject with icmp type "
                 "port-unreachable\n")
        world.nft(rules)

        def sender() -> None:
            raw = stdlib.socket(stdlib.AF_INET, stdlib.SOCK_RAW, stdlib.IPPROTO_TCP)
            start = time.monotonic()
            n = 0
            with raw:
                for when, count in PHASES:
                    time.sleep(max(0.0, start + when - time.monotonic()))
                    for _ in range(count):
                        n += 1
                        raw.sendto(segment(n), (B, 0))
                    # The ICMP is sent within sendto (veth delivers in the same softirq).
                    tally.append(tuple(world.counter("b", name)  # type: ignore[misc]
                                       for name in COUNTERS))

        world.spawn("a", sender)
        world.run(30)
    finally:
        world.close()
    return tally


@pytest.mark.parametrize("ratelimit_ms", [None, 300, 0], ids=["default", "300ms", "off"])
def test_icmp_rate_limit_matches_the_kernel(ratelimit_ms: int | None) -> None:
    require_root()
    require_tool("ip")
    require_tool("nft")
    kernel = tell_kernel(ratelimit_ms)
    assert tell_tcpkit(ratelimit_ms) == kernel
    if ratelimit_ms != 0:
        assert kernel[-1][1] > 0, "the pattern must make the kernel hold some back"


def test_reject_refuses_codes_icmp_has_not() -> None:
    host = Host("b")
    with pytest.raises(ValueError, match=r"not in 0\.\.15"):
        host.reject(16)
    host.reject(icmp.ADMIN_PROHIBITED)
    host.reject(None)
    assert host.rejecting is None

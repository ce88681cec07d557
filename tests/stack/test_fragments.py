"""IPv4 reassembly judged by the kernel: the same fragments of an ICMP echo request are
sent to a Linux namespace and to a tcpkit host, and whether each answers (with the whole
payload echoed) must agree. Patterns: in order, reversed, an exact duplicate, overlaps,
a missing piece, conflicting ends, a bad length, beyond 65535 bytes."""

from __future__ import annotations

import select
import socket as stdlib

import pytest

from tcpkit.lab.worlds import A, B, KernelWorld
from tcpkit.stack import Host
from tcpkit.stack.routes import Interface
from tcpkit.wire import icmp
from tcpkit.wire.ipv4 import FLAG_MF, PROTO_ICMP, IPv4Header, parse_ipv4
from tests.conftest import require_root, require_tool

MTU = 9000  # replies come back whole: one datagram to read in both worlds
BODY = bytes(range(256)) * 10  # an echo request of 2568 bytes

Piece = tuple[int, int, bool, bytes | None]  # offset, end, more fragments, other data
PATTERNS: dict[str, list[Piece]] = {
    "in_order": [(0, 1000, True, None), (1000, 2000, True, None), (2000, -1, False, None)],
    "reversed": [(2000, -1, False, None), (1000, 2000, True, None), (0, 1000, True, None)],
    "exact_duplicate": [(0, 1000, True, None), (0, 1000, True, None),
                        (1000, -1, False, None)],
    "overlap_same_bytes": [(0, 1000, True, None), (504, 1504, True, None),
                           (1000, -1, False, None)],
    "overlap_other_bytes": [(0, 1000, True, None), (504, 1504, True, b"x" * 1000),
                            (1000, -1, False, None)],
    "missing_middle": [(0, 1000, True, None), (2000, -1, False, None)],
    "conflicting_ends": [(0, 1000, True, None), (1000, 2000, False, None),
                         (1000, -1, False, None)],
    "more_with_odd_length": [(0, 1004, True, None), (1000, -1, False, None)],
    "cut_to_nothing": [(0, 4, True, None), (0, 1000, True, None), (1000, -1, False, None)],
    "last_before_seen_data": [(1000, 2000, True, None), (0, 800, False, None)],
    "more_beyond_last": [(0, 1000, False, None), (1000, 2000, True, None),
                         (0, 1000, True, None)],
    "tiny_first": [(0, 8, True, None), (8, -1, False, None)],
    "beyond_65535": [(0, 1000, True, None), (65000, 65600, False, None)],
}


def fragments(name: str, ident: int) -> list[bytes]:
    """The IPv4 fragments of pattern ``name`` from A to B."""
    message = icmp.ICMPMessage.echo_request(ident, 1, BODY).build()
    packets = []
    for offset, end, more, other in PATTERNS[name]:
        stop = len(message) if end < 0 else end
        data = other if other is not None else message[offset:stop]
        if len(data) < stop - offset:
            data += bytes(stop - offset - len(data))
        header = IPv4Header(src=A, dst=B, protocol=PROTO_ICMP, identification=ident,
                            flags=FLAG_MF if more else 0, fragment_offset=offset)
        packets.append(header.packet(data))
    return packets


def answered(replies: list[bytes], ident: int) -> str:
    for packet in replies:
        header, payload = parse_ipv4(packet)
        message = icmp.parse_icmp(payload)
        if message.type == icmp.ECHO_REPLY and message.identifier == ident:
            return "echoed whole" if message.body == BODY else "echoed other bytes"
    return "no answer"


def tell_tcpkit(name: str, ident: int) -> str:
    host = Host("b")
    eth0: Interface = host.add_interface("eth0", f"{B}/24", mtu=MTU)
    sent: list[bytes] = []
    eth0.transmit = lambda packet, _next_hop: sent.append(packet)
    for packet in fragments(name, ident):
        host.receive(packet, eth0)
    return answered(sent, ident)


def tell_kernel(world: KernelWorld, names: list[str]) -> dict[str, str]:
    results: dict[str, str] = {}

    def sender() -> None:
        out = stdlib.socket(stdlib.AF_INET, stdlib.SOCK_RAW, stdlib.IPPROTO_RAW)
        listen = stdlib.socket(stdlib.AF_INET, stdlib.SOCK_RAW, stdlib.IPPROTO_ICMP)
        with out, listen:
            for ident, name in enumerate(names, start=100):
                for packet in fragments(name, ident):
                    out.sendto(packet, (B, 0))
                replies = []
                while select.select([listen], [], [], 0.3)[0]:
                    replies.append(listen.recv(65535))
                results[name] = answered(replies, ident)

    world.spawn("a", sender)
    world.run(60)
    return results


@pytest.fixture(scope="module")
def kernel_results() -> dict[str, str]:
    require_root()
    require_tool("ip")
    world = KernelWorld()
    try:
        for ns, ifname in ((world.pair.a, world.pair.a_if), (world.pair.b, world.pair.b_if)):
            ns.ip("link", "set", ifname, "mtu", str(MTU))
        return tell_kernel(world, list(PATTERNS))
    finally:
        world.close()


@pytest.mark.parametrize("name", list(PATTERNS))
def test_reassembly_matches_the_kernel(name: str, kernel_results: dict[str, str]) -> None:
    ident = 100 + list(PATTERNS).index(name)
    assert tell_tcpkit(name, ident) == kernel_results[name]


def test_the_patterns_are_not_all_alike(kernel_results: dict[str, str]) -> None:
    """The comparison means something only if the kernel answers some and not others."""
    def outcomes(outcome: str) -> int:
        return sum(v == outcome for v in kernel_results.values())

    assert outcomes("echoed whole") >= 3
    assert outcomes("no answer") >= 3

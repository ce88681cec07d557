"""A host with net.ipv4.ip_forward=1 routes datagrams on (RFC 1812 §5.2), and datagrams
too big for a link are cut into fragments (RFC 791 §3.2). The router's ICMP errors and
path MTU discovery through it are judged by the kernel in the lab's ``path-mtu``
scenario (tests/lab); here, the cases a TCP story does not reach: time exceeded, no
route, fragments of fragments, options, and that a fragmented datagram reassembles to
the original bytes for any size and MTU."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpkit.stack import Host
from tcpkit.stack.fragments import Reassembler, fragment
from tcpkit.stack.routes import Interface
from tcpkit.wire import icmp
from tcpkit.wire.ipv4 import FLAG_DF, FLAG_MF, PROTO_ICMP, PROTO_UDP, IPv4Header, parse_ipv4

A, R_A, R_B, B = "192.0.2.1", "192.0.2.254", "198.51.100.254", "198.51.100.2"


def reassemble(pieces: list[bytes]) -> tuple[IPv4Header, bytes]:
    queue = Reassembler(30, 1 << 22)
    result: object = None
    for piece in pieces:
        header, payload = parse_ipv4(piece)
        result = queue.add(header, payload, 0.0)
    assert isinstance(result, tuple), result
    return result


@given(size=st.integers(1, 20000), mtu=st.integers(68, 9000),
       options=st.sampled_from([b"", b"\x01\x01\x01\x01", b"\x94\x04\x00\x00",
                                b"\x07\x07\x04" + bytes(4) + b"\x00"]))
def test_fragments_fit_and_reassemble_to_the_original(size: int, mtu: int,
                                                       options: bytes) -> None:
    payload = bytes(i & 0xFF for i in range(size))
    header = IPv4Header(src=A, dst=B, protocol=PROTO_UDP, identification=77, flags=0,
                        options=options)
    pieces = fragment(header, payload, mtu)
    offsets = []
    for piece in pieces:
        assert len(piece) <= mtu
        part, _ = parse_ipv4(piece)
        offsets.append(part.fragment_offset)
        assert part.fragment_offset % 8 == 0
        assert part.identification == 77
        # Only options with the copied flag (0x80 in the type) go past the first one.
        copied = b"\x94\x04\x00\x00" if options == b"\x94\x04\x00\x00" else b""
        assert part.options == (options if not part.fragment_offset else copied)
    assert offsets == sorted(offsets)
    whole, data = reassemble(pieces)
    assert data == payload
    assert not whole.flags & FLAG_MF and whole.fragment_offset == 0
    assert parse_ipv4(whole.packet(data))[1] == payload


def test_a_fragment_is_cut_further_keeping_its_place() -> None:
    payload = bytes(range(256)) * 12
    first = IPv4Header(src=A, dst=B, protocol=PROTO_UDP, identification=5, flags=0)
    halves = fragment(first, payload, 1500)
    again: list[bytes] = []
    for half in halves:
        header, data = parse_ipv4(half)
        again += fragment(header, data, 576)
    assert len(again) > len(halves)
    assert reassemble(again)[1] == payload


def test_an_mtu_with_no_room_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        fragment(IPv4Header(src=A, dst=B, protocol=PROTO_UDP, flags=0), b"x" * 100, 24)


class Router:
    """A router between A's subnet and B's, and what it sends each way."""

    def __init__(self, *, forwarding: bool = True, mtu: int = 1500) -> None:
        self.host = Host("r")
        self.host.sysctl["net.ipv4.ip_forward"] = int(forwarding)
        self.sent: dict[str, list[bytes]] = {"a": [], "b": []}
        self.eth0: Interface = self.host.add_interface("eth0", f"{R_A}/24")
        eth1 = self.host.add_interface("eth1", f"{R_B}/24", mtu=mtu)
        self.eth0.transmit = lambda packet, _hop: self.sent["a"].append(packet)
        eth1.transmit = lambda packet, _hop: self.sent["b"].append(packet)

    def inject(self, header: IPv4Header, payload: bytes) -> None:
        self.host.receive(header.packet(payload), self.eth0)

    def icmp_back(self) -> list[tuple[IPv4Header, icmp.ICMPMessage]]:
        out = []
        for packet in self.sent["a"]:
            header, payload = parse_ipv4(packet)
            assert header.protocol == PROTO_ICMP
            out.append((header, icmp.parse_icmp(payload)))
        return out


def datagram(dst: str = B, *, ttl: int = 64, df: bool = True) -> IPv4Header:
    return IPv4Header(src=A, dst=dst, protocol=PROTO_UDP, ttl=ttl, identification=9,
                      flags=FLAG_DF if df else 0)


def test_forwarded_with_one_less_ttl() -> None:
    router = Router()
    router.inject(datagram(ttl=5), b"hello")
    [out] = router.sent["b"]
    header, payload = parse_ipv4(out)  # the checksum was recomputed
    assert (header.ttl, payload, header.src, header.dst) == (4, b"hello", A, B)
    assert router.host.counters["IpForwDatagrams"] == 1


def test_ttl_running_out_is_answered_with_time_exceeded_from_the_router() -> None:
    router = Router()
    router.inject(datagram(ttl=1), b"hello")
    assert not router.sent["b"]
    [(header, message)] = router.icmp_back()
    assert (header.src, header.dst) == (R_A, A)
    assert (message.type, message.code) == (icmp.TIME_EXCEEDED, 0)
    assert router.host.counters["IcmpOutTimeExcds"] == 1


def test_no_route_is_answered_with_net_unreachable() -> None:
    router = Router()
    router.inject(datagram("203.0.113.9"), b"hello")
    [(_, message)] = router.icmp_back()
    assert (message.type, message.code) == (icmp.DEST_UNREACHABLE, icmp.NET_UNREACHABLE)
    assert router.host.counters["IpExtInNoRoutes"] == 1


def test_too_big_with_df_gets_fragmentation_needed_with_the_mtu() -> None:
    router = Router(mtu=1280)
    router.inject(datagram(), b"x" * 1400)
    [(header, message)] = router.icmp_back()
    assert (message.code, message.next_hop_mtu) == (icmp.FRAGMENTATION_NEEDED, 1280)
    assert header.tos == 0xC0 and not header.dont_fragment  # as Linux icmp_send
    quoted, _ = message.quoted_ipv4()
    assert quoted.dst == B
    assert router.host.counters["IpFragFails"] == 1


def test_too_big_without_df_goes_in_fragments() -> None:
    router = Router(mtu=576)
    router.inject(datagram(df=False), bytes(range(256)) * 6)
    assert len(router.sent["b"]) == 3 and not router.sent["a"]
    assert reassemble(router.sent["b"])[1] == bytes(range(256)) * 6
    assert router.host.counters["IpFragCreates"] == 3


def test_a_host_that_does_not_forward_drops_what_is_not_its_own() -> None:
    router = Router(forwarding=False)
    router.inject(datagram(), b"hello")
    assert router.sent == {"a": [], "b": []}
    assert router.host.counters["IpInAddrErrors"] == 1


def test_path_mtu_only_goes_down_and_locks_at_the_floor() -> None:
    host = Host("a")
    host.add_interface("eth0", f"{A}/24")
    host.add_route("default", via=R_A)
    assert host.learn_path_mtu(B, 1400, 0.0) == 1400
    assert host.learn_path_mtu(B, 1450, 0.0) == 1400  # never up
    assert host.learn_path_mtu(B, 0, 0.0) == 552  # a router that does not say: the floor
    assert host.learn_path_mtu(B, 300, 0.0) == 552  # locked
    assert host.path_mtu(B) == 552
    assert host.learn_path_mtu("203.0.113.1", 100, 0.0) == 552

"""A device that finishes TCP checksums and cuts super-segments (TSO over TUN): what
``Host.ip_output`` hands it, and what it keeps from it."""

from __future__ import annotations

from tcpkit.stack import Host
from tcpkit.wire.checksum import internet_checksum, offload_checksum, pseudo_header
from tcpkit.wire.ipv4 import PROTO_TCP, parse_ipv4
from tcpkit.wire.tcp import ACK, PSH, TCPSegment

SRC, DST = "192.0.2.2", "192.0.2.1"

Handed = tuple[bytes, bytes | memoryview, int, int]


def _host(mtu: int = 1500) -> tuple[Host, list[Handed], list[bytes]]:
    host = Host("tk")
    interface = host.add_interface("tun0", f"{SRC}/24", mtu=mtu)
    handed: list[Handed] = []
    plain: list[bytes] = []
    interface.transmit = lambda packet, next_hop: plain.append(packet)
    interface.transmit_tcp = lambda headers, payload, tcp_len, gso: handed.append(
        (headers, payload, tcp_len, gso))
    return host, handed, plain


def test_a_gso_packet_goes_as_headers_and_the_payload_itself() -> None:
    host, handed, plain = _host()
    body = bytes(range(256)) * 256  # 64 KB
    payload = memoryview(body)[100:100 + 45 * 1448]
    seg = TCPSegment(40000, 80, 1, 2, ACK | PSH, 500, payload=payload,  # type: ignore[arg-type]
                     gso_size=1448)
    host.ip_output(SRC, DST, PROTO_TCP, seg)
    assert not plain and len(handed) == 1
    headers, given, tcp_len, gso = handed[0]
    assert given is payload  # never copied on the way to the device
    assert (tcp_len, gso) == (20, 1448)
    ip, tcp_header = parse_ipv4(headers + bytes(given))
    assert ip.total_length == 20 + 20 + len(payload) and ip.dont_fragment
    assert internet_checksum(headers[:20]) == 0
    # The checksum field holds the pseudo-header sum the device completes.
    partial = int.from_bytes(tcp_header[16:18], "big")
    assert partial == offload_checksum(pseudo_header(ip.src_packed, ip.dst_packed, PROTO_TCP,
                                                     len(tcp_header)))


def test_a_lone_segment_larger_than_the_path_mtu_takes_the_slow_way() -> None:
    """The offload path must not carry what the MTU forbids: with DF (TCP), it is
    dropped and counted as Linux's ip_fragment does (IpFragFails)."""
    host, handed, plain = _host(mtu=1500)
    host.ip_output(SRC, DST, PROTO_TCP, TCPSegment(40000, 80, 1, 2, ACK, 500,
                                                    payload=bytes(1461)))
    assert not handed and not plain
    assert host.counters["IpFragFails"] == 1
    host.ip_output(SRC, DST, PROTO_TCP, TCPSegment(40000, 80, 1, 2, ACK, 500,
                                                    payload=bytes(1460)))
    assert len(handed) == 1 and len(handed[0][0]) + len(handed[0][1]) == 1500

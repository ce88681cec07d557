"""Seeded generators of packets, well formed and broken, for the oracle and fuzz tests.

The well-formed ones are built with tcpkit's own builders; the broken ones start from
those and flip bytes, cut them short or scramble the option area. Every generator takes a
``random.Random`` so a failure can be replayed from its seed.
"""

from __future__ import annotations

import random

from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.icmp import ICMPMessage
from tcpkit.wire.ipv4 import IPv4Header
from tcpkit.wire.ipv6 import IPv6Header
from tcpkit.wire.tcp import TCPSegment
from tcpkit.wire.tcp_options import (
    MSS,
    NOP,
    SACK_PERMITTED,
    EndOfOptions,
    Sack,
    Timestamps,
    UnknownOption,
    WindowScale,
)
from tcpkit.wire.udp import UDPDatagram

V4_ADDRESSES = ["192.0.2.1", "192.0.2.2", "198.51.100.7", "10.0.0.1", "255.255.255.255"]
V6_ADDRESSES = ["2001:db8::1", "2001:db8::2", "fe80::1", "::1", "::ffff:192.0.2.1",
                "2001:db8:0:1:0:0:0:1", "::", "1::", "2001:0:0:1::2"]
# Ports with no application decoder in tcpdump, plus the text ones tcpkit decodes.
TCP_PORTS = [1, 1023, 5000, 8000, 32768, 45001, 60999, 65535, 80, 8080, 21, 22, 25, 43,
             554, 8554]
UDP_PORTS = [1, 1000, 5001, 33434, 40000, 65535]
# Ports where neither tcpdump nor tshark runs an application dissector.
QUIET_PORTS = [45001, 45002, 50000, 55555]


def random_options(rng: random.Random, well_formed: bool = False) -> list[object]:
    """A plausible option list: Linux's SYN layout, the timestamp layout, SACK, oddities
    (the oddities only when not ``well_formed``)."""
    choice = rng.randrange(5 if well_formed else 7)
    ts = Timestamps(rng.getrandbits(32), rng.getrandbits(32))
    if choice == 0:
        return []
    if choice == 1:
        return [MSS(rng.choice([536, 1460, 65495])), SACK_PERMITTED, ts, NOP,
                WindowScale(rng.randrange(15))]
    if choice == 2:
        return [NOP, NOP, ts]
    if choice == 3:
        blocks = tuple(
            (a, (a + rng.randrange(1, 3000)) & 0xFFFFFFFF)
            for a in (rng.getrandbits(32) for _ in range(rng.randint(1, 3)))
        )
        return [NOP, NOP, ts, NOP, NOP, Sack(blocks)]
    if choice == 4:
        return [MSS(1460), NOP, WindowScale(7), SACK_PERMITTED, EndOfOptions(b"\x00")]
    if choice == 5:
        kind = rng.choice([6, 7, 11, 12, 13, 19, 20, 28, 29, 34, 253, 254, 99])
        sizes = {6: 4, 7: 4, 11: 4, 12: 4, 13: 4, 19: 16, 20: 2, 28: 2}
        size = sizes.get(kind, rng.randrange(0, 18))
        if kind == 254 and rng.random() < 0.5:
            body = b"\xf9\x89" + bytes(rng.choice([0, 4, 8, 3]))
        else:
            body = rng.randbytes(size)
        return [UnknownOption(kind, body), NOP, NOP]
    return [NOP] * rng.randrange(1, 5) + [EndOfOptions(b"\x00" * rng.randrange(4))]


def tcp_segment(rng: random.Random, well_formed: bool = False) -> TCPSegment:
    flags = rng.choice([0x02, 0x12, 0x10, 0x18, 0x11, 0x19, 0x04, 0x14, 0x01, 0x00, 0x20,
                        0x30, 0xC2, 0x52, 0x10 if well_formed else rng.getrandbits(12)])
    payload_len = rng.choice([0, 0, 0, 1, 5, 100, 1460, rng.randrange(3000)])
    if rng.random() < 0.3:
        text = rng.choice([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n",
                           b"SSH-2.0-OpenSSH_9.2\r\n", b"220 ready\r\n", b"USER bob\n",
                           b"HEAD /x\r", b"junk\x01\r\n", b"DESCRIBE rtsp://x RTSP/1.0\r\n"])
        payload = text[: rng.randrange(1, len(text) + 1)]
    else:
        payload = rng.randbytes(payload_len)
    options = random_options(rng, well_formed)
    if well_formed:
        # A strict dissector wants MSS, window scale and SACK-permitted on SYNs only.
        while bool(flags & 0x02) != any(isinstance(o, MSS) for o in options) and options:
            options = random_options(rng, well_formed)
    ports = QUIET_PORTS if well_formed else TCP_PORTS
    return TCPSegment(
        src_port=rng.choice(ports),
        dst_port=rng.choice(ports),
        seq=rng.getrandbits(32),
        ack=rng.getrandbits(32),
        flags=flags,
        window=rng.getrandbits(16),
        urgent=rng.getrandbits(16) if rng.random() < 0.2 and (flags & 0x20 or not well_formed)
        else 0,
        options=tuple(options),  # type: ignore[arg-type]
        payload=payload,
    )


def icmp_message(rng: random.Random, quoted: bytes, well_formed: bool = False) -> ICMPMessage:
    kind = rng.randrange(4 if well_formed else 8)
    if kind == 0:
        return ICMPMessage.echo_request(rng.getrandbits(16), rng.getrandbits(16), rng.randbytes(56))
    if kind == 1:
        return ICMPMessage.echo_reply(rng.getrandbits(16), rng.getrandbits(16), rng.randbytes(8))
    if kind == 2:
        return ICMPMessage.destination_unreachable(rng.randrange(16 if well_formed else 17), quoted,
                                                   rng.choice([0, 1280, 1500]))
    if kind == 3:
        return ICMPMessage.time_exceeded(rng.randrange(3), quoted)
    return ICMPMessage(rng.randrange(20), rng.randrange(6), rng.randbytes(4), rng.randbytes(
        rng.randrange(0, 40)))


def ipv4_packet(rng: random.Random, well_formed: bool = False) -> bytes:
    """An IPv4 packet; ``well_formed`` ones are whole datagrams of TCP, UDP or ICMP that a
    strict dissector (tshark) accepts, the others may be fragments or odd protocols."""
    src, dst = rng.choice(V4_ADDRESSES), rng.choice(V4_ADDRESSES)
    if well_formed:
        proto = rng.choice([6, 6, 6, 1, 17])
        flags, offset = rng.choice([0, 2]), 0
    else:
        proto = rng.choice([6, 6, 6, 6, 1, 1, 17, 47, 99, 59])
        flags, offset = rng.choice([0, 2, 2, 1]), rng.choice([0, 0, 0, 0, 8, 1480])
    ip = IPv4Header(src=src, dst=dst, protocol=proto, ttl=rng.randrange(1, 256),
                    identification=rng.getrandbits(16), flags=flags, fragment_offset=offset,
                    options=rng.choice([b"", b"", b"\x01\x01\x01\x00", b"\x94\x04\x00\x00"]))
    pseudo = pseudo_header(ip.src_packed, ip.dst_packed, proto)
    if proto == 6:
        body = tcp_segment(rng, well_formed).build(pseudo)
    elif proto == 1:
        inner_proto = 6 if well_formed else rng.choice([6, 17, 1])
        inner_ip = IPv4Header(src=dst, dst=src, protocol=inner_proto)
        inner = inner_ip.packet(
            TCPSegment(rng.choice(TCP_PORTS), rng.choice(TCP_PORTS), rng.getrandbits(32),
                       flags=0x02).build(pseudo_header(inner_ip.src_packed, inner_ip.dst_packed, 6))
        )
        body = icmp_message(rng, inner, well_formed).build()
    elif proto == 17:
        udp_ports = QUIET_PORTS if well_formed else UDP_PORTS
        body = UDPDatagram(rng.choice(udp_ports), rng.choice(udp_ports),
                           rng.randbytes(rng.randrange(60))).build(pseudo)
    else:
        body = rng.randbytes(rng.randrange(40))
    return ip.packet(body)


def ipv6_packet(rng: random.Random, well_formed: bool = False) -> bytes:
    src, dst = rng.choice(V6_ADDRESSES), rng.choice(V6_ADDRESSES)
    nh = rng.choice([6, 6, 6, 58, 58, 17])
    ip = IPv6Header(src=src, dst=dst, next_header=nh, hop_limit=rng.randrange(256),
                    flow_label=rng.getrandbits(20))
    pseudo = pseudo_header(ip.src_packed, ip.dst_packed, nh)
    if nh == 6:
        body = tcp_segment(rng, well_formed).build(pseudo)
    elif nh == 17:
        udp_ports = QUIET_PORTS if well_formed else UDP_PORTS
        body = UDPDatagram(rng.choice(udp_ports), rng.choice(udp_ports),
                           rng.randbytes(rng.randrange(60))).build(pseudo)
    else:
        icmp_type = rng.choice([1, 1, 2, 3, 128, 129] if well_formed else
                               [1, 1, 2, 3, 4, 128, 129, 133, 134, 135, 136, 137])
        inner_ip6 = IPv6Header(src=dst, dst=src, next_header=6)
        inner = inner_ip6.packet(
            TCPSegment(rng.choice(TCP_PORTS), rng.choice(TCP_PORTS), flags=0x02).build(
                pseudo_header(inner_ip6.src_packed, inner_ip6.dst_packed, 6)))
        if icmp_type in (135, 136, 137):
            body_bytes = IPv6Header(src=src, dst=dst, next_header=59).build(0)[8:] + b"\0" * 8
        elif icmp_type in (1, 2, 3, 4):
            body_bytes = inner
        else:
            body_bytes = rng.randbytes(rng.randrange(32))
        code = rng.choice([0, 1, 2, 3, 4]) if icmp_type in (1, 3, 4) else 0
        rest = bytes(4) if well_formed and icmp_type in (1, 3) else rng.randbytes(4)
        if well_formed and icmp_type == 2:
            rest = (1280).to_bytes(4, "big")
        body = ICMPMessage(icmp_type, code, rest, body_bytes).build(pseudo)
    return ip.packet(body)


def ethernet_frame(rng: random.Random, packet: bytes, ethertype: int) -> bytes:
    frame = rng.randbytes(6) + rng.randbytes(6) + ethertype.to_bytes(2, "big") + packet
    if len(frame) < 60 and rng.random() < 0.5:
        frame += b"\x00" * (60 - len(frame))  # padding the IP length must cut off
    return frame


def arp_frame(rng: random.Random) -> bytes:
    op = rng.choice([1, 2])
    tha = b"\x00" * 6 if rng.random() < 0.7 else rng.randbytes(6)
    body = (b"\x00\x01\x08\x00\x06\x04" + op.to_bytes(2, "big") + rng.randbytes(6)
            + bytes(rng.randbytes(4)) + tha + rng.randbytes(4))
    return ethernet_frame(rng, body, 0x0806)


def mutate(rng: random.Random, data: bytes) -> bytes:
    """Flip, insert or cut bytes (weighted toward the headers, where parsers decide)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        action = rng.randrange(5)
        if not out:
            break
        pos = min(int(rng.expovariate(1 / 30)), len(out) - 1)
        if action == 0:
            out[pos] ^= 1 << rng.randrange(8)
        elif action == 1:
            out[pos] = rng.randrange(256)
        elif action == 2:
            del out[rng.randrange(len(out)):]
        elif action == 3:
            out[pos:pos] = rng.randbytes(rng.randint(1, 4))
        else:
            del out[pos : pos + rng.randint(1, 4)]
    return bytes(out)

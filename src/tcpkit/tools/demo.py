"""Show a TCP conversation as tcpdump prints it.

For now the conversation is built packet by packet with tcpkit's wire formats, using the
values a Linux 6.x client and server put in them (window 64240 with scale 7 in the SYN,
options ``mss,sackOK,TS,nop,wscale``); the failure lab will replace it with a story
played by two simulated hosts. ``--pcap FILE`` also writes the packets, so you can read
them with ``tcpdump -n -r FILE`` and see the same lines.
"""

from __future__ import annotations

import argparse
import sys

from tcpkit.wire.capture import LINKTYPE_RAW, CapturedPacket
from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.ipv4 import PROTO_TCP, IPv4Header
from tcpkit.wire.pcap import PcapWriter
from tcpkit.wire.tcp import ACK, FIN, PSH, SYN, TCPSegment
from tcpkit.wire.tcp_options import MSS, NOP, SACK_PERMITTED, Timestamps, WindowScale
from tcpkit.wire.tcpdump import Formatter, TimeFormat

CLIENT = ("192.0.2.1", 45678)
SERVER = ("192.0.2.2", 80)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pcap", metavar="FILE", help="also write the packets to FILE")


def conversation() -> list[CapturedPacket]:
    """Handshake, an HTTP request and reply, and the four-way close, with Linux's values."""
    c_isn, s_isn = 0x3C1F_0A21, 0x9A0B_77E4
    request = b"GET / HTTP/1.1\r\nHost: 192.0.2.2\r\n\r\n"
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    c_ts, s_ts = 2_000_000, 7_000_000

    def ts(a: int, b: int) -> tuple[object, ...]:
        return (NOP, NOP, Timestamps(a, b))

    # (time in µs, from client?, seq, ack, flags, window, options, payload)
    steps: list[tuple[int, bool, int, int, int, int, tuple[object, ...], bytes]] = [
        (0, True, c_isn, 0, SYN, 64240,
         (MSS(1460), SACK_PERMITTED, Timestamps(c_ts, 0), NOP, WindowScale(7)), b""),
        (120, False, s_isn, c_isn + 1, SYN | ACK, 65160,
         (MSS(1460), SACK_PERMITTED, Timestamps(s_ts, c_ts), NOP, WindowScale(7)), b""),
        (241, True, c_isn + 1, s_isn + 1, ACK, 502, ts(c_ts, s_ts), b""),
        (388, True, c_isn + 1, s_isn + 1, PSH | ACK, 502, ts(c_ts, s_ts), request),
        (512, False, s_isn + 1, c_isn + 1 + len(request), ACK, 509, ts(s_ts, c_ts), b""),
        (1795, False, s_isn + 1, c_isn + 1 + len(request), PSH | ACK, 509,
         ts(s_ts + 1, c_ts), reply),
        (1902, True, c_isn + 1 + len(request), s_isn + 1 + len(reply), ACK, 502,
         ts(c_ts + 1, s_ts + 1), b""),
        (2410, True, c_isn + 1 + len(request), s_isn + 1 + len(reply), FIN | ACK, 502,
         ts(c_ts + 1, s_ts + 1), b""),
        (2533, False, s_isn + 1 + len(reply), c_isn + 2 + len(request), FIN | ACK, 509,
         ts(s_ts + 2, c_ts + 1), b""),
        (2650, True, c_isn + 2 + len(request), s_isn + 2 + len(reply), ACK, 502,
         ts(c_ts + 2, s_ts + 2), b""),
    ]
    start_ns = 1_700_000_000 * 1_000_000_000
    packets = []
    for i, (us, from_client, seq, ack, flags, window, options, payload) in enumerate(steps):
        src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        ip = IPv4Header(src=src[0], dst=dst[0], protocol=PROTO_TCP, identification=0x4D00 + i)
        segment = TCPSegment(src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, flags, window,
                             options=options, payload=payload)  # type: ignore[arg-type]
        data = ip.packet(segment.build(pseudo_header(ip.src_packed, ip.dst_packed, PROTO_TCP)))
        packets.append(CapturedPacket(start_ns + us * 1000, data, len(data), LINKTYPE_RAW))
    return packets


def run(args: argparse.Namespace) -> int:
    packets = conversation()
    print("A TCP conversation between a client and a web server, as tcpdump -n -tt prints it.")
    print("(Packets built by hand with Linux's values; the simulated network is on its way.)")
    print()
    formatter = Formatter(time_format=TimeFormat.EPOCH)
    for packet in packets:
        print(formatter.line(packet))
    if args.pcap:
        try:
            with PcapWriter(args.pcap, LINKTYPE_RAW) as writer:
                for packet in packets:
                    writer.write_ns(packet.data, packet.ts_ns)
        except OSError as exc:
            print(f"tcpkit demo: cannot write {args.pcap}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"\nWrote {len(packets)} packets to {args.pcap}: try tcpdump -n -tt -r {args.pcap}")
    return 0

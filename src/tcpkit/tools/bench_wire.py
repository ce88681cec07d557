"""The wire suite: checksum implementations, TCP/IPv4 parse and build, the trace formatter.

The checksum table shows tcpkit's choice beside the other ways Python can compute it,
with the per-byte loop as the reference (ratio = how many times faster than it). Parse and
build are compared with the floor of any parser: one ``struct.unpack_from`` of the 40
header bytes. The formatter is compared with tcpdump itself reading the same file, when
tcpdump is installed.
"""

from __future__ import annotations

import array
import functools
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from tcpkit.tools.timing import per_call_us
from tcpkit.wire.capture import LINKTYPE_RAW
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.checksum import internet_checksum, pseudo_header
from tcpkit.wire.ipv4 import PROTO_TCP, IPv4Header, parse_ipv4
from tcpkit.wire.pcap import PcapWriter
from tcpkit.wire.tcp import ACK, PSH, TCPSegment, parse_tcp
from tcpkit.wire.tcp_options import NOP, Timestamps
from tcpkit.wire.tcpdump import Formatter


def _fold(total: int) -> int:
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def per_byte_loop(data: bytes) -> int:
    """The textbook RFC 1071 loop, one pair of bytes per Python iteration."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    return _fold(total)


def struct_words(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    return _fold(sum(struct.unpack(f"!{len(data) // 2}H", data)))


def array_words(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    words = array.array("H", data)
    if sys.byteorder == "little":
        words.byteswap()
    return _fold(sum(words))


def memoryview_words(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = _fold(sum(memoryview(data).cast("H")))
    swapped = ~total & 0xFFFF
    if sys.byteorder == "little":
        swapped = ((swapped >> 8) | (swapped << 8)) & 0xFFFF
    return ~swapped & 0xFFFF


def int_single_mod(data: bytes) -> int:
    value = int.from_bytes(data, "big") << (8 * (len(data) % 2))
    rest = value % 0xFFFF
    if rest == 0 and value:
        rest = 0xFFFF
    return ~rest & 0xFFFF


CANDIDATES: dict[str, Callable[[bytes], int]] = {
    "per-byte loop (reference)": per_byte_loop,
    "struct.unpack + sum": struct_words,
    "array('H') + sum": array_words,
    "memoryview.cast('H') + sum": memoryview_words,
    "int.from_bytes % 0xFFFF": int_single_mod,
    "tcpkit (from_bytes in quarters > 1 KiB)": internet_checksum,
}


def checksum_table(quick: bool) -> list[str]:
    sizes = (40, 1460, 65536)
    rng_data = {size: os.urandom(size) for size in sizes}
    expected = {size: per_byte_loop(rng_data[size]) for size in sizes}
    lines = ["checksum, µs per call (x = times faster than the per-byte loop)",
             f"  {'implementation':40} " + " ".join(f"{s:>16}" for s in ("40 B", "1460 B",
                                                                          "64 KiB"))]
    reference: dict[int, float] = {}
    for name, fn in CANDIDATES.items():
        cells = []
        for size in sizes:
            data = rng_data[size]
            if fn(data) != expected[size]:
                raise AssertionError(f"{name} computes a wrong checksum for {size} bytes")
            us = per_call_us(functools.partial(fn, data), quick)
            reference.setdefault(size, us)
            cells.append(f"{us:9.2f} ({reference[size] / us:4.1f}x)")
        lines.append(f"  {name:40} " + " ".join(f"{c:>16}" for c in cells))
    return lines


def segment_bytes() -> tuple[IPv4Header, TCPSegment, bytes]:
    ip = IPv4Header(src="192.0.2.1", dst="192.0.2.2", protocol=PROTO_TCP, identification=7)
    seg = TCPSegment(45678, 80, 1_000_000, 2_000_000, PSH | ACK, 502,
                     options=(NOP, NOP, Timestamps(123456, 654321)), payload=os.urandom(1448))
    packet = ip.packet(seg.build(pseudo_header(ip.src_packed, ip.dst_packed, PROTO_TCP)))
    return ip, seg, packet


def parse_build(quick: bool) -> list[str]:
    ip, seg, packet = segment_bytes()
    floor = struct.Struct("!BBHHHBBH4s4sHHIIHHHH")

    def parse_full() -> object:
        header, payload = parse_ipv4(packet)
        return parse_tcp(payload, pseudo_header(header.src_packed, header.dst_packed, PROTO_TCP))

    def parse_no_checksums() -> object:
        _header, payload = parse_ipv4(packet, verify=False)
        return parse_tcp(payload)

    def build() -> bytes:
        return ip.packet(seg.build(pseudo_header(ip.src_packed, ip.dst_packed, PROTO_TCP)))

    base = per_call_us(lambda: floor.unpack_from(packet), quick)
    rows = [
        ("struct.unpack_from of 40 header bytes (floor)", base),
        ("parse TCP/IPv4 + TS, 1448 B, both checksums", per_call_us(parse_full, quick)),
        ("parse TCP/IPv4 + TS, 1448 B, no checksums", per_call_us(parse_no_checksums, quick)),
        ("build TCP/IPv4 + TS, 1448 B, both checksums", per_call_us(build, quick)),
    ]
    lines = ["TCP/IPv4 segment with timestamps, µs per call (x = times the floor)"]
    lines += [f"  {name:48} {us:8.2f} µs ({us / base:5.1f}x)" for name, us in rows]
    return lines


def formatter_vs_tcpdump(quick: bool) -> list[str]:
    _ip, _seg, packet = segment_bytes()
    count = 2000 if quick else 20000
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.pcap")
        with PcapWriter(path, LINKTYPE_RAW) as writer:
            for i in range(count):
                writer.write_ns(packet, i * 1000)
        start = time.perf_counter()
        for _line in Formatter().lines(open_capture(path)):
            pass
        ours = time.perf_counter() - start
        lines = [f"trace formatter: {count} packets in {ours * 1e3:.0f} ms "
                 f"({count / ours:,.0f} packets/s)"]
        tcpdump = shutil.which("tcpdump")
        if tcpdump:
            start = time.perf_counter()
            subprocess.run([tcpdump, "-n", "-r", path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)
            theirs = time.perf_counter() - start
            lines.append(f"  tcpdump -n -r on the same file: {theirs * 1e3:.0f} ms "
                         f"(tcpkit takes {ours / theirs:.1f}x as long)")
        else:
            lines.append("  (tcpdump not installed: no reference)")
    return lines


def run_suite(quick: bool) -> list[str]:
    return [*checksum_table(quick), "", *parse_build(quick), "", *formatter_vs_tcpdump(quick)]

"""Real kernel TCP traffic, captured by tcpdump: tcpkit must read every packet, rebuild it
byte for byte (checksums computed, not copied) and print it exactly as tcpdump does.

The kernel's own TCP plays client and server: a handshake, data both ways and a close over
IPv4 and IPv6; a lost segment (dropped by an nftables rule at the receiver) that makes the
receiver send SACK blocks; a close with unread data that sends a RST; a connection
refused. The stories run twice: on loopback inside one namespace, and between two
namespaces joined by a veth pair with checksum offload off. On loopback, offload is fixed
on, so the captured TCP checksum is only the pseudo-header sum
(:func:`tcpkit.wire.checksum.offload_checksum`); over the veth pair it is the full
checksum the kernel computed in software. tcpkit rebuilds both exactly.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tcpkit.lab.netns import Namespace, VethPair
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.checksum import offload_checksum, pseudo_header
from tcpkit.wire.errors import BadChecksum
from tcpkit.wire.ethernet import (
    ETHERTYPE_ARP,
    ETHERTYPE_IPV4,
    ETHERTYPE_IPV6,
    parse_arp,
    parse_ethernet,
)
from tcpkit.wire.icmp import parse_icmp
from tcpkit.wire.ipv4 import PROTO_ICMPV6, PROTO_TCP, parse_ipv4
from tcpkit.wire.ipv6 import parse_ipv6
from tcpkit.wire.tcp import ACK, FIN, RST, SYN, TCPSegment, parse_tcp
from tcpkit.wire.tcp_options import Sack, find_option
from tcpkit.wire.tcpdump import Formatter
from tests.conftest import require_root, require_tool
from tests.wire.oracle import compare

pytestmark = [pytest.mark.oracle, pytest.mark.root]

SERVER = r"""
import socket, subprocess, sys, threading, time
V4, V6 = sys.argv[1], sys.argv[2]

def listen(family, addr, port):
    s = socket.socket(family)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen()
    return s

def echo_story(srv):
    # handshake, 5 bytes in, 3000 bytes out, then the client's FIN and ours
    c, _ = srv.accept()
    got = b""
    while len(got) < 5:
        got += c.recv(100)
    c.sendall(b"r" * 3000)
    while c.recv(65536):
        pass
    c.close()

def sack_story(srv):
    # the 777-byte segment is dropped on arrival until the rule goes: the segments after it
    # arrive out of order and are acknowledged with SACK blocks
    c, _ = srv.accept()
    got = c.recv(1000)
    time.sleep(0.15)
    subprocess.run(["nft", "delete", "table", "ip", "tkdrop"], check=True)
    total = len(got)
    while True:
        data = c.recv(65536)
        if not data:
            break
        total += len(data)
    assert total == 3277, total
    c.close()

def rst_story(srv):
    # close() with unread data: the kernel sends RST instead of FIN (RFC 2525 §2.17)
    c, _ = srv.accept()
    time.sleep(0.1)
    c.close()

subprocess.run(["nft", "-f", "-"], check=True, input=(
    b"table ip tkdrop {\n chain in {\n  type filter hook input priority 0\n"
    b"  tcp dport 45010 ip length 829 drop\n }\n}\n"))
threads = [
    threading.Thread(target=echo_story, args=(listen(socket.AF_INET, V4, 45001),)),
    threading.Thread(target=echo_story, args=(listen(socket.AF_INET6, V6, 45001),)),
    threading.Thread(target=sack_story, args=(listen(socket.AF_INET, V4, 45010),)),
    threading.Thread(target=rst_story, args=(listen(socket.AF_INET, V4, 45020),)),
]
for t in threads:
    t.start()
print("ready", flush=True)
for t in threads:
    t.join(timeout=20)
"""

CLIENT = r"""
import socket, sys, time
V4, V6 = sys.argv[1], sys.argv[2]

for family, addr in ((socket.AF_INET, V4), (socket.AF_INET6, V6)):
    s = socket.socket(family)
    s.connect((addr, 45001))
    s.sendall(b"hello")
    got = b""
    while len(got) < 3000:
        got += s.recv(65536)
    s.close()

s = socket.create_connection((V4, 45010))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for chunk in (b"a" * 1000, b"b" * 777, b"c" * 1000, b"d" * 500):
    s.send(chunk)
    time.sleep(0.02)
time.sleep(0.6)
s.close()

s = socket.create_connection((V4, 45020))
s.sendall(b"x" * 100)
try:
    time.sleep(0.3)
    s.recv(10)
    raise SystemExit("expected a reset")
except ConnectionResetError:
    pass
s.close()

try:
    socket.create_connection((V4, 45030))
    raise SystemExit("expected a refusal")
except ConnectionRefusedError:
    pass
print("done", flush=True)
"""


def _play_stories(server_ns: Namespace, client_ns: Namespace, v4: str, v6: str) -> None:
    server = subprocess.Popen(server_ns.exec(sys.executable, "-c", SERVER, v4, v6),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "ready", server.stderr
    assert client_ns.python(CLIENT, v4, v6).strip() == "done"
    _out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err


@pytest.fixture(scope="module", params=["veth", "loopback"])
def kernel_capture(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One capture of all the stories: on the client's side of a veth pair, or on lo."""
    require_root()
    for tool in ("ip", "tcpdump", "nft", "ethtool"):
        require_tool(tool)
    path = tmp_path_factory.mktemp(request.param) / "stories.pcap"
    if request.param == "veth":
        pair = VethPair.create()
        try:
            with pair.a.capture(pair.a_if, path):
                _play_stories(pair.b, pair.a, pair.b_addr, pair.b_addr6)
        finally:
            pair.delete()
    else:
        ns = Namespace.create()
        try:
            with ns.capture("lo", path):
                _play_stories(ns, ns, "127.0.0.1", "::1")
        finally:
            ns.delete()
    return path


def rebuild(frame: bytes, offloaded: bool) -> tuple[bytes, TCPSegment | None]:
    """Parse a frame down to its transport and build it back with tcpkit's builders, every
    length and checksum computed afresh (TCP's as the offload value when ``offloaded``).
    Returns the bytes and the TCP segment, if any."""
    eth, payload = parse_ethernet(frame)
    out = eth.build()
    segment = None
    if eth.ethertype == ETHERTYPE_ARP:
        return out + parse_arp(payload).build(), None
    if eth.ethertype == ETHERTYPE_IPV4:
        ip, body = parse_ipv4(payload)
        assert ip.protocol == PROTO_TCP, ip
        pseudo = pseudo_header(ip.src_packed, ip.dst_packed, PROTO_TCP)
        segment = _tcp(body, pseudo, offloaded)
        ip.total_length = ip.checksum = None
        return out + ip.packet(segment.build(pseudo)), segment
    assert eth.ethertype == ETHERTYPE_IPV6, hex(eth.ethertype)
    ip6, body = parse_ipv6(payload)
    pseudo = pseudo_header(ip6.src_packed, ip6.dst_packed, ip6.next_header)
    if ip6.next_header == PROTO_TCP:
        segment = _tcp(body, pseudo, offloaded)
        body = segment.build(pseudo)
    elif ip6.next_header == PROTO_ICMPV6:
        message = parse_icmp(body, pseudo)
        message.checksum = None
        body = message.build(pseudo)
    ip6.payload_length = None
    return out + ip6.packet(body), segment


def _tcp(body: bytes, pseudo: int, offloaded: bool) -> TCPSegment:
    """The segment with its checksum verified, then cleared so that building computes it
    again. Where offload left only the pseudo-header sum (data segments on loopback; the
    kernel's own resets and ACKs from the timewait sockets are checksummed in software),
    the field must be exactly tcpkit's offload value, and is kept as such."""
    try:
        segment = parse_tcp(body, pseudo)
    except BadChecksum:
        if not offloaded:
            raise
        segment = parse_tcp(body)
        assert segment.checksum == offload_checksum(pseudo + len(body)), segment
        return segment
    segment.checksum = None
    return segment


def test_every_packet_rebuilds_byte_for_byte(kernel_capture: Path) -> None:
    packets = list(open_capture(kernel_capture))
    offloaded = kernel_capture.parent.name.startswith("loopback")
    segments = []
    for n, packet in enumerate(packets, start=1):
        assert packet.orig_len == len(packet.data)
        rebuilt, segment = rebuild(packet.data, offloaded)
        assert rebuilt == packet.data, f"packet {n} differs after a rebuild"
        if segment is not None:
            segments.append(segment)
    # The stories really produced what this test is about.
    flags = [s.flags for s in segments]
    assert SYN in flags and SYN | ACK in flags and RST in [f & RST for f in flags]
    assert any(f & FIN for f in flags)
    assert any(find_option(s.options, Sack) for s in segments), "no SACK block captured"
    assert any(len(s.payload) == 777 for s in segments)
    assert any(s.flags == RST | ACK and s.seq == 0 for s in segments), "no refusal captured"
    assert sum(1 for p in packets if p.data[12:14] == b"\x86\xdd" and p.data[20] == 6) >= 8
    if not offloaded:
        # Over veth the segments were checked against the kernel's full checksums.
        assert len(segments) > 40


@pytest.mark.parametrize(("flags", "absolute"), [((), False), (("-S",), True)],
                         ids=["relative", "absolute"])
def test_trace_identical_to_tcpdump(kernel_capture: Path, utc: None, flags: tuple[str, ...],
                                    absolute: bool) -> None:
    tcpdump = require_tool("tcpdump")
    result = compare(tcpdump, kernel_capture, Formatter(absolute=absolute), "-n", *flags)
    assert not result.mismatches, result.report()
    assert result.placeholders == 0 or result.compared > 30


def test_pairs_are_cleaned_up() -> None:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             check=False).stdout
    assert f"tk{__import__('os').getpid()}n" not in listing

"""Wireshark's judgement of the pcaps tcpkit writes: no malformed packet, no bad checksum."""

from __future__ import annotations

import io
import random
import subprocess
from pathlib import Path

import pytest

from tcpkit.tools.demo import story
from tcpkit.wire.capture import LINKTYPE_ETHERNET, LINKTYPE_RAW
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.pcap import PcapWriter
from tests.wire import packetgen as gen

pytestmark = pytest.mark.oracle

# Any packet matching this is a complaint: malformed, an expert error, or a bad checksum.
COMPLAINTS = ("_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0 || "
              "tcp.checksum.status == 0 || udp.checksum.status == 0 || "
              "icmp.checksum.status == 0 || icmpv6.checksum.status == 0")


def complaints(tshark: str, path: Path) -> list[str]:
    # The payloads are random bytes: show them as data, so that no application dissector
    # (found by port or by heuristics) judges them instead of the headers tcpkit wrote.
    as_data = [arg for port in [*gen.QUIET_PORTS, 80] for proto in ("tcp", "udp")
               for arg in ("-d", f"{proto}.port=={port},data")]
    done = subprocess.run(
        [tshark, "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
         "-o", "udp.check_checksum:TRUE", *as_data, "-Y", COMPLAINTS, "-T", "fields",
         "-e", "frame.number", "-e", "_ws.expert.message"],
        capture_output=True, text=True, check=True,
    )
    return done.stdout.splitlines()


def test_generated_packets_are_clean(tshark: str, tmp_path: Path) -> None:
    rng = random.Random(2024)
    raw, eth = tmp_path / "raw.pcap", tmp_path / "ethernet.pcap"
    with PcapWriter(raw, LINKTYPE_RAW) as w_raw, PcapWriter(eth, LINKTYPE_ETHERNET) as w_eth:
        for i in range(3000):
            packet = gen.ipv4_packet(rng, True) if rng.random() < 0.6 else \
                gen.ipv6_packet(rng, True)
            w_raw.write_ns(packet, i * 1000)
            ethertype = 0x0800 if packet[0] >> 4 == 4 else 0x86DD
            w_eth.write_ns(gen.ethernet_frame(rng, packet, ethertype), i * 1000)
    assert complaints(tshark, raw) == []
    assert complaints(tshark, eth) == []


def test_demo_capture_is_clean(tshark: str, tmp_path: Path) -> None:
    """What the simulated network put on the cable in the demo, judged by tshark."""
    path = tmp_path / "demo.pcap"
    path.write_bytes(story()[0])
    assert complaints(tshark, path) == []


def test_the_judge_notices_a_bad_checksum(tshark: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.pcap"
    packet = bytearray(list(open_capture(io.BytesIO(story()[0])))[3].data)
    packet[-1] ^= 0x01  # one bit of payload: the TCP checksum no longer matches
    with PcapWriter(path, LINKTYPE_RAW) as writer:
        writer.write_ns(bytes(packet), 0)
    found = complaints(tshark, path)
    assert len(found) == 1 and "Bad checksum" in found[0]

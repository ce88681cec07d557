"""Wireshark's judgement of the pcaps tcpkit writes: no malformed packet, no bad checksum."""

from __future__ import annotations

import io
import random
import subprocess
from pathlib import Path

import pytest

from tcpkit.lab import scenarios as _catalogue  # noqa: F401 (registers the scenarios)
from tcpkit.lab.run import run_sim
from tcpkit.lab.scenario import CATALOGUE
from tcpkit.wire.capture import LINKTYPE_ETHERNET, LINKTYPE_RAW
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.pcap import PcapWriter
from tests.wire import packetgen as gen

pytestmark = pytest.mark.oracle

# Any packet matching this is a complaint: malformed, an expert error, or a bad checksum.
COMPLAINTS = ("_ws.malformed || _ws.expert.severity >= error || ip.checksum.status == 0 || "
              "tcp.checksum.status == 0 || udp.checksum.status == 0 || "
              "icmp.checksum.status == 0 || icmpv6.checksum.status == 0")


# An ICMP error quotes the first 548 bytes of a datagram; tshark checks the quoted TCP
# checksum over what is there and calls it bad. Linux's own ICMP errors get the same
# complaint (seen on the kernel's capture of the path-mtu scenario), so it is excused
# there, and only there: the ICMP message's own checksum is still judged.
QUOTED_TCP = "(icmp && !icmp.checksum.status == 0 && tcp.checksum.status == 0)"


def complaints(tshark: str, path: Path) -> list[str]:
    # The payloads are random bytes: show them as data, so that no application dissector
    # (found by port or by heuristics) judges them instead of the headers tcpkit wrote.
    as_data = [arg for port in [*gen.QUIET_PORTS, 80] for proto in ("tcp", "udp")
               for arg in ("-d", f"{proto}.port=={port},data")]
    done = subprocess.run(
        [tshark, "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
         "-o", "udp.check_checksum:TRUE", *as_data, "-Y", f"({COMPLAINTS}) && !{QUOTED_TCP}",
         "-T", "fields",
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


def demo_pcap() -> bytes:
    return run_sim(CATALOGUE["http-400-unread-body"]).pcap


def test_lab_captures_are_clean(tshark: str, tmp_path: Path) -> None:
    """What the simulated network put on the cable in every scenario of the lab,
    judged by tshark: checksums, lengths, options, sequence analysis."""
    for name, scenario in CATALOGUE.items():
        path = tmp_path / f"{name}.pcap"
        path.write_bytes(run_sim(scenario).pcap)
        assert complaints(tshark, path) == [], name


def test_the_judge_notices_a_bad_checksum(tshark: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.pcap"
    packet = bytearray(list(open_capture(io.BytesIO(demo_pcap())))[3].data)
    packet[-1] ^= 0x01  # one bit of payload: the TCP checksum no longer matches
    with PcapWriter(path, LINKTYPE_RAW) as writer:
        writer.write_ns(bytes(packet), 0)
    found = complaints(tshark, path)
    assert len(found) == 1 and "Bad checksum" in found[0]

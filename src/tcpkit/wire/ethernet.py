"""Ethernet II framing (IEEE 802.3 clause 3) and ARP (RFC 826), as captures carry them."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Final

from tcpkit.wire.errors import MalformedPacket, need

ETHERTYPE_IPV4: Final = 0x0800
ETHERTYPE_ARP: Final = 0x0806
ETHERTYPE_VLAN: Final = 0x8100
ETHERTYPE_IPV6: Final = 0x86DD

HEADER_LEN: Final = 14

ARP_REQUEST: Final = 1
ARP_REPLY: Final = 2

_HEAD = struct.Struct("!6s6sH")
_ARP = struct.Struct("!HHBBH6s4s6s4s")


def mac_to_str(mac: bytes) -> str:
    """``aa:bb:cc:dd:ee:ff`` for 6 bytes."""
    return mac.hex(":")


def mac_from_str(text: str) -> bytes:
    """The 6 bytes of ``aa:bb:cc:dd:ee:ff``; :class:`ValueError` otherwise."""
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes.fromhex("".join(parts))


@dataclass(slots=True)
class EthernetHeader:
    dst: bytes
    src: bytes
    ethertype: int

    def build(self) -> bytes:
        return _HEAD.pack(self.dst, self.src, self.ethertype)


def parse_ethernet(data: bytes | bytearray | memoryview) -> tuple[EthernetHeader, bytes]:
    """The Ethernet II header and the payload after it (padding included: the network
    layer cuts it by its own length)."""
    need("ethernet", len(data), HEADER_LEN, "Ethernet header", 0)
    dst, src, ethertype = _HEAD.unpack_from(data, 0)
    return EthernetHeader(bytes(dst), bytes(src), ethertype), bytes(data[HEADER_LEN:])


@dataclass(slots=True)
class ARPPacket:
    """An ARP packet for IPv4 over Ethernet (hardware type 1, protocol 0x0800)."""

    operation: int
    sender_mac: bytes
    sender_ip: str
    target_mac: bytes
    target_ip: str

    def build(self) -> bytes:
        return _ARP.pack(
            1, ETHERTYPE_IPV4, 6, 4, self.operation,
            self.sender_mac, socket.inet_aton(self.sender_ip),
            self.target_mac, socket.inet_aton(self.target_ip),
        )


def parse_arp(data: bytes | bytearray | memoryview, *, base: int = 0) -> ARPPacket:
    need("arp", len(data), _ARP.size, "ARP packet", base)
    htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(data, 0)
    if (htype, ptype, hlen, plen) != (1, ETHERTYPE_IPV4, 6, 4):
        raise MalformedPacket(
            "arp", f"not IPv4 over Ethernet (htype {htype}, ptype 0x{ptype:04x})", base
        )
    return ARPPacket(op, bytes(sha), socket.inet_ntoa(spa), bytes(tha), socket.inet_ntoa(tpa))

"""Link layers as tcpdump 4.99 prints them without ``-e``: mostly, by printing nothing.

Ethernet (with 802.1Q tags skipped), Linux cooked captures v1 and v2 (v2 prints the
interface name and direction, as ``tcpdump -i any`` shows them), BSD loopback and raw IP
lead to the IP printers; ARP for IPv4 over Ethernet is printed too. Other link payloads
get a placeholder.
"""

from __future__ import annotations

import socket
from typing import Final

from tcpkit.wire.capture import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
)
from tcpkit.wire.tcpdump.ip import IPPrinter
from tcpkit.wire.tcpdump.printer import Printer, hex_and_ascii_print

_ETH_IPV4, _ETH_IPV6, _ETH_ARP, _ETH_RARP = 0x0800, 0x86DD, 0x0806, 0x8035
_ETH_MACSEC, _ETH_JUMBO, _ETH_ARISTA = 0x88E5, 0x8870, 0xD28B
# tcpdump's names for Ethernet types (print-ether.c ``ethertype_values``).
_ETHERTYPE_NAMES: Final = {
    0x0800: "IPv4", 0x8847: "MPLS unicast", 0x8848: "MPLS multicast", 0x86DD: "IPv6",
    0x8100: "802.1Q", 0x9100: "802.1Q-9100", 0x88A8: "802.1Q-QinQ", 0x9200: "802.1Q-9200",
    0x88E5: "802.1AE MACsec", 0x0200: "PUP", 0x0806: "ARP", 0x8035: "Reverse ARP",
    0x0600: "NS", 0x0500: "Sprite", 0x1000: "Trail", 0x6001: "MOP DL", 0x6002: "MOP RC",
    0x6003: "DN", 0x6004: "LAT", 0x6007: "SCA", 0x6558: "TEB", 0x8038: "Lanbridge",
    0x803C: "DEC DNS", 0x803E: "DEC DTS", 0x805B: "VEXP", 0x805C: "VPROD",
    0x809B: "Appletalk", 0x80F3: "Appletalk ARP", 0x8137: "IPX", 0x880B: "PPP",
    0x8808: "MPCP", 0x8809: "Slow Protocols", 0x8863: "PPPoE D", 0x8864: "PPPoE S",
    0x888E: "EAPOL", 0x8899: "Realtek protocols", 0x886F: "MS NLB heartbeat",
    0x8870: "Jumbo", 0x894F: "NSH", 0x9000: "Loopback", 0xFEFE: "OSI", 0x00FE: "GRE-OSI",
    0xABCD: "CFM (old)", 0x8902: "CFM", 0x893A: "IEEE1905.1", 0x88CC: "LLDP",
    0x88CA: "TIPC", 0x0707: "GeoNet (old)", 0x8947: "GeoNet", 0x1111: "CALM FAST",
    0x88A2: "AoE", 0x88F7: "PTP", 0xD28B: "Arista Vendor Specific Protocol",
}
# Ethernet types tcpdump hands to a printer of its own that tcpkit does not have.
_ETHERTYPES_DECODED_BY_TCPDUMP: Final = frozenset({
    0x80F3, 0x88A2, 0x809B, 0x1111, 0x8902, 0xABCD, 0x6003, 0x888E, 0x8947, 0x0707,
    0x8137, 0xFEFE, 0x88CC, 0x9000, 0x8808, 0x8847, 0x8848, 0x886F, 0x894F, 0x880B,
    0x8863, 0x3C12, 0x8864, 0x3C13, 0x88F7, 0x8899, 0x8809, 0x88CA,
    _ETH_MACSEC, _ETH_JUMBO, _ETH_ARISTA,
})
_VLAN_TYPES: Final = frozenset({0x8100, 0x9100, 0x9200, 0x88A8})
_SLL_PACKET_TYPES: Final = {0: "In", 1: "B", 2: "M", 3: "P", 4: "Out"}
_BSD_AF_INET6: Final = frozenset({10, 24, 28, 30})
_ARP_OPS: Final = {1: "Request", 2: "Reply", 3: "Reverse Request", 4: "Reverse Reply",
                   8: "Inverse Request", 9: "Inverse Reply", 10: "NACK Reply"}


class LinkPrinter:
    """Dispatch on the capture's link type."""

    def __init__(self, ip: IPPrinter) -> None:
        self.ip = ip

    def print_packet(self, p: Printer, linktype: int, length: int) -> None:
        if linktype == LINKTYPE_ETHERNET:
            self._ethernet(p, length)
        elif linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
            p.protocol = "raw"
            self.ip.ip_n(p, 0, length)
        elif linktype == LINKTYPE_LINUX_SLL:
            self._sll(p, length)
        elif linktype == LINKTYPE_LINUX_SLL2:
            self._sll2(p, length)
        elif linktype == LINKTYPE_NULL:
            self._null(p, length)
        else:
            p.out(f"[tcpkit: link type {linktype} not decoded], length {length}")

    def _ethernet(self, p: Printer, length: int) -> None:
        p.protocol = "ether"
        caplen = len(p.data)
        if caplen < 14:
            p.trunc_mark()
            return
        frame_length = length
        off = 12
        ethertype = p.u16(off)
        off += 2
        length -= 14
        caplen -= 14
        while ethertype in _VLAN_TYPES:
            if caplen < 4 or length < 4:
                p.protocol = "vlan"
                p.trunc_mark()
                return
            ethertype = p.u16(off + 2)
            off += 4
            length -= 4
            caplen -= 4
        if ethertype <= 1500:
            p.out("[tcpkit: 802.3/LLC frame not decoded]")
        elif ethertype in (_ETH_IPV4, _ETH_IPV6, _ETH_ARP, _ETH_RARP):
            self._ethertype(p, ethertype, off, length)
        elif ethertype in _ETHERTYPES_DECODED_BY_TCPDUMP:
            p.out(f"[tcpkit: ethertype 0x{ethertype:04x} not decoded]")
        else:
            # tcpdump's fallback: addresses, the type, then a hex and ASCII dump.
            name = _ETHERTYPE_NAMES.get(ethertype, "Unknown")
            p.out(f"{p.mac(6)} > {p.mac(0)}, ethertype {name} (0x{ethertype:04x}), "
                  f"length {frame_length}: ")
            hex_and_ascii_print(p, "\n\t", off, caplen)

    def _ethertype(self, p: Printer, ethertype: int, off: int, length: int) -> None:
        if ethertype == _ETH_IPV4:
            self.ip.ipv4(p, off, length)
        elif ethertype == _ETH_IPV6:
            self.ip.ipv6(p, off, length)
        elif ethertype in (_ETH_ARP, _ETH_RARP):
            _arp(p, off, length)
        else:
            p.out(f"ethertype 0x{ethertype:04x} [tcpkit: not decoded]")

    def _sll(self, p: Printer, length: int) -> None:
        p.protocol = "sll"
        p.check(0, 16)
        self._cooked(p, p.u16(14), 16, length - 16)

    def _sll2(self, p: Printer, length: int) -> None:
        p.protocol = "sll2"
        p.check(0, 20)
        index = p.u32(4)
        try:
            name = socket.if_indextoname(index)
        except OSError:
            name = "?"
        p.out(f"{name:<5} {_SLL_PACKET_TYPES.get(p.u8(10), '?'):<3} ")
        self._cooked(p, p.u16(0), 20, length - 20)

    def _cooked(self, p: Printer, protocol: int, off: int, length: int) -> None:
        if protocol in (_ETH_IPV4, _ETH_IPV6, _ETH_ARP, _ETH_RARP):
            self._ethertype(p, protocol, off, length)
        else:
            p.out(f"[tcpkit: cooked protocol 0x{protocol:04x} not decoded]")

    def _null(self, p: Printer, length: int) -> None:
        p.protocol = "null"
        p.check(0, 4)
        family = int.from_bytes(p.data[:4], "little")
        if family & 0xFFFF0000:
            family = int.from_bytes(p.data[:4], "big")
        if family == 2:
            self.ip.ipv4(p, 4, length - 4)
        elif family in _BSD_AF_INET6:
            self.ip.ipv6(p, 4, length - 4)
        else:
            p.out(f"[tcpkit: loopback family {family} not decoded]")


def _arp(p: Printer, off: int, length: int) -> None:
    """ARP for IPv4 over Ethernet, as ``ARP, Request who-has A tell B, length 28``."""
    p.protocol = "arp"
    p.check(off, 8)
    hrd, pro, op = p.u16(off), p.u16(off + 2), p.u16(off + 6)
    hln, pln = p.u8(off + 4), p.u8(off + 5)
    p.check(off + 8 + 2 * hln + pln, pln)
    p.out("ARP, ")
    if hrd != 1 or pro != _ETH_IPV4 or hln != 6 or pln != 4 or op not in (1, 2):
        p.out(f"[tcpkit: ARP hardware {hrd} protocol 0x{pro:04x} op {op} not decoded], "
              f"length {length}")
        return
    sha, spa, tha, tpa = off + 8, off + 14, off + 18, off + 24
    p.out(f"{_ARP_OPS[op]} ")
    if op == 1:
        p.out(f"who-has {p.ipv4(tpa)}")
        if any(p.data[tha : tha + 6]):
            p.out(f" ({p.mac(tha)})")
        p.out(f" tell {p.ipv4(spa)}")
    else:
        p.out(f"{p.ipv4(spa)} is-at {p.mac(sha)}")
    p.out(f", length {length}")

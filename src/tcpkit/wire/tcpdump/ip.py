"""IPv4, IPv6 and UDP as tcpdump 4.99 prints them without ``-v``, and the protocol demux.

TCP, ICMP and ICMPv6 go to their own printers. UDP prints tcpdump's generic
``UDP, length N``; on the ports where tcpdump runs an application decoder (DNS, NTP,
DHCP, ...) and for IP protocols it decodes (GRE, OSPF, SCTP, ...) and IPv6 extension
headers, tcpkit prints a placeholder naming what it does not decode.
"""

from __future__ import annotations

from typing import Final

from tcpkit.wire.tcpdump.icmp import print_icmp, print_icmp6
from tcpkit.wire.tcpdump.printer import Printer, Truncated
from tcpkit.wire.tcpdump.tcp import IPContext, SeqTable, print_tcp

_TCP, _UDP, _ICMP, _ICMPV6 = 6, 17, 1, 58
_DCCP, _SCTP = 33, 132
_IPV4_IN_IP, _IPV6_IN_IP, _NO_NEXT_HEADER, _ND = 4, 41, 59, 77
_IPV6_EXTENSIONS: Final = {0: "hop-by-hop options", 43: "routing", 44: "fragment",
                           60: "destination options", 135: "mobility", 62: "mobility"}
# IP protocols tcpdump decodes with a printer of its own (ip_demux_print).
_DECODED_PROTOCOLS: Final = {
    2: "IGMP", 8: "EGP", 9: "IGRP", 33: "DCCP", 46: "RSVP", 47: "GRE", 50: "ESP", 51: "AH",
    55: "MOBILE", 88: "EIGRP", 89: "OSPF", 103: "PIM", 108: "IPComp", 112: "VRRP",
    113: "PGM", 132: "SCTP", 143: "Ethernet",
}
# UDP ports that tcpdump hands to an application decoder (print-udp.c).
_UDP_DECODED_PORTS: Final = frozenset({
    53, 67, 68, 69, 88, 123, 137, 138, 161, 162, 319, 320, 496, 500, 514, 520, 521, 525,
    546, 547, 646, 654, 698, 701, 750, 921, 1589, 1645, 1646, 1700, 1701, 1812, 1813,
    2103, 2104, 3503, 3799, 4342, 4500, 4789, 4790, 5060, 5353, 5359, 6081, 6343, 6635,
    6696, 6697, 7500, 8231, 8472, 8500, 12222, 12223, 17754, 30490,
})
_UDP_DECODED_DPORTS: Final = frozenset({3456, 4567, 1985, 3784, 4784, 6784, 3785})
_BCM_LI_SPORT = 49152
_MF = 0x2000


class IPPrinter:
    """The IP layer of one formatter: holds the TCP sequence table across packets."""

    def __init__(self, seqs: SeqTable, absolute: bool) -> None:
        self.seqs = seqs
        self.absolute = absolute

    def ip_n(self, p: Printer, off: int, length: int) -> None:
        """tcpdump's ``ipN_print``: a raw packet, IPv4 or IPv6 by its version nibble."""
        p.protocol = "ipn"
        if length < 1:
            p.out(f"truncated-ip {length}")
            return
        version = p.u8(off) >> 4
        if version == 4:
            self.ipv4(p, off, length)
        elif version == 6:
            self.ipv6(p, off, length)
        else:
            p.out(f"unknown ip {version}")

    def ipv4(self, p: Printer, off: int, length: int) -> None:
        p.protocol = "ip"
        version = p.u8(off) >> 4
        if version != 4:
            p.out("IP6, wrong link-layer encapsulation" if version == 6 else f"IP{version}")
            p.out(" (invalid)")
            return
        p.out("IP ")
        if not p.ttest(off, 20):
            p.trunc_mark()
            return
        if length < 20:
            p.out(f"truncated-ip {length}")
            return
        hlen = (p.u8(off) & 0x0F) * 4
        if hlen < 20:
            p.out(f"bad-hlen {hlen}")
            return
        total = p.u16(off + 2)
        if length < total:
            p.out(f"truncated-ip - {total - length} bytes missing! ")
        if total < hlen:
            p.out(f"bad-len {total}")
            return
        p.push_end(off, total)
        frag = p.u16(off + 6)
        proto = p.u8(off + 9)
        src, dst = p.ipv4(off + 12), p.ipv4(off + 16)
        if frag & 0x1FFF == 0:
            if proto not in (_TCP, _UDP, _SCTP, _DCCP):
                p.out(f"{src} > {dst}: ")
            if not p.ttest(off, hlen):
                p.out(f" [remaining caplen({p.available_after(off)}) < header length({hlen})]")
                raise Truncated
            ctx = IPContext(4, src, dst, p.data[off + 12 : off + 16], p.data[off + 16 : off + 20],
                            proto)
            self.demux(p, off + hlen, total - hlen, ctx, bool(frag & _MF), proto)
        else:
            p.out(f"{src} > {dst}: ip-proto-{proto}")
        p.pop_end()

    def ipv6(self, p: Printer, off: int, length: int) -> None:
        p.protocol = "ip6"
        if not p.ttest(off, 40):
            p.trunc_mark()
            return
        if length < 40:
            p.out(f"truncated-ip6 {length}")
            return
        p.out("IP6 ")
        version = p.u8(off) >> 4
        if version != 6:
            p.out(f"version error: {version} != 6")
            return
        payload_len = p.u16(off + 4)
        if payload_len:
            total = payload_len + 40
            if length < total:
                p.out(f"truncated-ip6 - {total - length} bytes missing!")
        else:
            total = length + 40
        nh = p.u8(off + 6)
        p.push_end(off, total)
        src, dst = p.ipv6(off + 8), p.ipv6(off + 24)
        if nh not in (_TCP, _UDP, _DCCP, _SCTP):
            p.out(f"{src} > {dst}: ")
        if nh in _IPV6_EXTENSIONS:
            p.out(f"[tcpkit: IPv6 {_IPV6_EXTENSIONS[nh]} header not decoded]")
            p.pop_end()
            return
        if not payload_len:
            p.end = min(p.end, off + 40)  # no jumbo option is decoded: nothing follows
        ctx = IPContext(6, src, dst, p.data[off + 8 : off + 24], p.data[off + 24 : off + 40], nh)
        self.demux(p, off + 40, total - 40 if payload_len else 0, ctx, False, nh)
        p.pop_end()

    def demux(
        self, p: Printer, off: int, length: int, ip: IPContext, fragmented: bool, nh: int
    ) -> None:
        """tcpdump's ``ip_demux_print``: hand the payload to the printer for ``nh``."""
        if nh == _TCP:
            print_tcp(p, off, length, ip, fragmented, self.seqs, self.absolute)
        elif nh == _UDP:
            _print_udp(p, off, length, ip, fragmented)
        elif nh == _ICMP:
            if ip.version == 4:
                print_icmp(p, off, length)
            else:
                p.out("[ICMP requires IPv4] (invalid)")
        elif nh == _ICMPV6:
            if ip.version == 6:
                print_icmp6(p, off, length)
            else:
                p.out("[ICMPv6 requires IPv6] (invalid)")
        elif nh == _IPV4_IN_IP:
            self.ipv4(p, off, length)
        elif nh == _IPV6_IN_IP:
            self.ipv6(p, off, length)
        elif nh == _NO_NEXT_HEADER:
            p.out("no next header")
        elif nh == _ND:
            p.out(f" nd {length}")
        elif nh in _DECODED_PROTOCOLS:
            p.out(f"[tcpkit: {_DECODED_PROTOCOLS[nh]} not decoded]")
        else:
            p.out(f" ip-proto-{nh} {length}")


def _udp_addresses(p: Printer, ip: IPContext, sport: int, dport: int) -> None:
    """tcpdump's ``udpipaddr_print`` (-1 ports: addresses only)."""
    if ip.proto == _UDP:
        if sport < 0:
            p.out(f"{ip.src} > {ip.dst}: ")
        else:
            p.out(f"{ip.src}.{sport} > {ip.dst}.{dport}: ")
    elif sport >= 0:
        p.out(f"{sport} > {dport}: ")


def _print_udp(p: Printer, off: int, length: int, ip: IPContext, fragmented: bool) -> None:
    p.protocol = "udp"
    if not p.ttest(off + 2, 2):
        _udp_addresses(p, ip, -1, -1)
        p.trunc_mark()
        return
    sport, dport = p.u16(off), p.u16(off + 2)
    if length < 8:
        _udp_addresses(p, ip, sport, dport)
        p.out(f"truncated-udp {length}")
        return
    if not p.ttest(off + 4, 2):
        _udp_addresses(p, ip, sport, dport)
        p.trunc_mark()
        return
    ulen = p.u16(off + 4)
    if ulen == 0 and length > 65535:
        ulen = length
    if ulen < 8:
        _udp_addresses(p, ip, sport, dport)
        p.out(f"truncated-udplength {ulen}")
        return
    ulen -= 8
    length -= 8
    length = min(length, ulen)
    if off + 8 > p.end:
        _udp_addresses(p, ip, sport, dport)
        p.trunc_mark()
        return
    _udp_addresses(p, ip, sport, dport)
    if _udp_decoded(p, off + 8, sport, dport):
        p.out("[tcpkit: UDP application payload not decoded]")
    elif ulen > length and not fragmented:
        p.out(f"UDP, bad length {ulen} > {length}")
    else:
        p.out(f"UDP, length {ulen}")


def _udp_decoded(p: Printer, payload: int, sport: int, dport: int) -> bool:
    """Would tcpdump run an application decoder on this datagram?"""
    if sport in _UDP_DECODED_PORTS or dport in _UDP_DECODED_PORTS:
        return True
    if dport in _UDP_DECODED_DPORTS or sport == _BCM_LI_SPORT:
        return True
    if 7000 <= sport <= 7009 or 7000 <= dport <= 7009:  # AFS RX
        return True
    if 2049 in (sport, dport) and p.ttest(payload + 4, 4):  # NFS over UDP
        return True
    return p.ttest(payload + 2, 1) and p.u8(payload + 2) == 2 and (
        _atalk_port(sport) or _atalk_port(dport)
    )


def _atalk_port(port: int) -> bool:
    """DDP-in-UDP ports (tcpdump's ``atalk_port``)."""
    return 16512 <= port < 16640 or 200 <= port < 328 or 768 <= port < 896

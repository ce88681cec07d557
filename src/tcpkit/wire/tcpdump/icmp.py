"""ICMP and ICMPv6 as tcpdump 4.99 prints them without ``-v``.

ICMPv4 is complete (``ICMP echo request, id 1, seq 1, length 64``, every unreachable
code, redirects, router advertisements, time exceeded, timestamps). ICMPv6 covers the
messages TCP meets (unreachable, packet too big, time exceeded, parameter problem, echo)
and neighbour discovery; multicast listener and the rarer types print a placeholder.
"""

from __future__ import annotations

from tcpkit.wire.tcpdump.printer import Printer, print_unknown_data

_UNREACH_NET_FORMS = {
    0: "net {} unreachable",
    1: "host {} unreachable",
    5: "{} unreachable - source route failed",
    6: "net {} unreachable - unknown",
    7: "host {} unreachable - unknown",
    8: "{} unreachable - source host isolated",
    9: "net {} unreachable - admin prohibited",
    10: "host {} unreachable - admin prohibited",
    11: "net {} unreachable - tos prohibited",
    12: "host {} unreachable - tos prohibited",
    13: "host {} unreachable - admin prohibited filter",
    14: "host {} unreachable - host precedence violation",
    15: "host {} unreachable - precedence cutoff",
}
_REDIRECT_FORMS = {
    0: "redirect {} to net {}",
    1: "redirect {} to host {}",
    2: "redirect-tos {} to net {}",
    3: "redirect-tos {} to host {}",
}
_OTHER_TYPES = {
    0: "echo reply",
    4: "source quench",
    8: "echo request",
    10: "router solicitation",
    13: "time stamp request",
    14: "time stamp reply",
    15: "information request",
    16: "information reply",
    17: "address mask request",
}


def print_icmp(p: Printer, off: int, length: int) -> None:
    """The ICMPv4 message at ``off``; ``length`` is the IP payload length."""
    p.protocol = "icmp"
    icmp_type = p.u8(off)
    code = p.u8(off + 1)
    oip = off + 8  # the quoted IP header of an error message
    if icmp_type in (0, 8):
        kind = "request" if icmp_type == 8 else "reply"
        text = f"echo {kind}, id {p.u16(off + 4)}, seq {p.u16(off + 6)}"
    elif icmp_type == 3:
        text = _unreachable(p, off, code)
    elif icmp_type == 5:
        form = _REDIRECT_FORMS.get(code)
        dst, gateway = p.ipv4(oip + 16), p.ipv4(off + 4)
        text = form.format(dst, gateway) if form else f"redirect-#{code} {dst} to {gateway}"
    elif icmp_type == 9:
        text = _router_advertisement(p, off)
    elif icmp_type == 11:
        if not p.ttest(oip + 16, 4):
            p.trunc_mark()
            return
        text = {0: "time exceeded in-transit", 1: "ip reassembly time exceeded"}.get(
            code, f"time exceeded-#{code}"
        )
    elif icmp_type == 12:
        if code:
            text = f"parameter problem - code {code}"
        else:
            text = f"parameter problem - octet {p.u8(off + 4)}"
    elif icmp_type == 18:
        text = f"address mask is 0x{p.u32(off + 8):08x}"
    elif icmp_type == 13:
        text = f"time stamp query id {p.u16(off + 4)} seq {p.u16(off + 6)}"
    elif icmp_type == 14:
        if not p.ttest(off + 16, 4):
            p.trunc_mark()
            return
        text = (
            f"time stamp reply id {p.u16(off + 4)} seq {p.u16(off + 6)}: "
            f"org {_ms_of_day(p.u32(off + 8))}, recv {_ms_of_day(p.u32(off + 12))}, "
            f"xmit {_ms_of_day(p.u32(off + 16))}"
        )
    else:
        text = _OTHER_TYPES.get(icmp_type, f"type-#{icmp_type}")
    p.out(f"ICMP {text}, length {length}")


def _unreachable(p: Printer, off: int, code: int) -> str:
    oip = off + 8
    if code == 2:
        return f"{p.ipv4(oip + 16)} protocol {p.u8(oip + 9)} unreachable"
    if code == 3:
        p.check(oip + 9, 1)
        hlen = (p.u8(oip) & 0x0F) * 4
        dport = p.u16(oip + hlen + 2)
        proto = p.u8(oip + 9)
        dst = p.ipv4(oip + 16)
        if proto == 6:
            return f"{dst} tcp port {dport} unreachable"
        if proto == 17:
            return f"{dst} udp port {dport} unreachable"
        return f"{dst} protocol {proto} port {dport} unreachable"
    if code == 4:
        mtu = p.u16(off + 6)
        dst = p.ipv4(oip + 16)
        if mtu:
            return f"{dst} unreachable - need to frag (mtu {mtu})"
        return f"{dst} unreachable - need to frag"
    form = _UNREACH_NET_FORMS.get(code)
    dst = p.ipv4(oip + 16)
    return form.format(dst) if form else f"{dst} unreachable - #{code}"


def _router_advertisement(p: Printer, off: int) -> str:
    p.check(off + 4, 4)
    lifetime = p.u16(off + 6)
    if lifetime < 60:
        life = f"{lifetime}"
    elif lifetime < 3600:
        life = f"{lifetime // 60}:{lifetime % 60:02d}"
    else:
        life = f"{lifetime // 3600}:{lifetime % 3600 // 60:02d}:{lifetime % 60:02d}"
    num = p.u8(off + 4)
    size = p.u8(off + 5)
    text = f"router advertisement lifetime {life} {num}:"
    if size != 2:
        return text + f" [size {size}]"
    entry = off + 8
    for _ in range(num):
        p.check(entry, 8)
        text += f" {{{p.ipv4(entry)} {p.u32(entry + 4)}}}"
        entry += 8
    return text


def _ms_of_day(ms: int) -> str:
    """tcpdump's ``icmp_tstamp_print``: milliseconds since midnight UTC as HH:MM:SS.mmm."""
    sec, msec = divmod(ms, 1000)
    minutes, sec = divmod(sec, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{sec:02d}.{msec:03d}"


_V6_TYPES = {
    1: "destination unreachable",
    2: "packet too big",
    3: "time exceeded in-transit",
    4: "parameter problem",
    128: "echo request",
    129: "echo reply",
    130: "multicast listener query",
    131: "multicast listener report",
    132: "multicast listener done",
    133: "router solicitation",
    134: "router advertisement",
    135: "neighbor solicitation",
    136: "neighbor advertisement",
    137: "redirect",
    138: "router renumbering",
    141: "inverse neighbor solicitation",
    142: "inverse neighbor advertisement",
    143: "multicast listener report v2",
    144: "ha discovery request",
    145: "ha discovery reply",
    146: "mobile router solicitation",
    147: "mobile router advertisement",
    139: "node information query",
    140: "node information reply",
    200: "mtrace response",
    201: "mtrace message",
    155: "RPL",
}
_V6_UNREACH = {
    0: "unreachable route",
    1: " unreachable prohibited",
    2: "beyond scope",
    3: "unreachable address",
    4: "unreachable port",
}
_V6_PARAM = {
    0: "erroneous",
    1: "next header",
    2: "option",
    3: "incomplete header chain",
}
# Types that print nothing more without -v.
_V6_SIMPLE = frozenset({133, 134, 141, 142, 145, 147})
# Types whose tcpdump decode (multicast listener, renumbering, ...) tcpkit does not do.
_V6_DECODED_BY_TCPDUMP = frozenset({130, 131, 132, 138, 139, 140, 143, 155})


def print_icmp6(p: Printer, off: int, length: int) -> None:
    """The ICMPv6 message at ``off``; ``length`` is the upper-layer length."""
    p.protocol = "icmp6"
    if length == 0:
        p.out("ICMP6, length 0 (invalid)")
        return
    icmp_type = p.u8(off)
    p.out("ICMP6, " + _V6_TYPES.get(icmp_type, f"unknown icmp6 type ({icmp_type})"))
    code = p.u8(off + 1)
    oip = off + 8
    if icmp_type == 1:
        p.out(", " + _V6_UNREACH.get(code, f"unknown unreach code ({code})"))
        if code in (0, 1, 3):
            p.out(f" {p.ipv6(oip + 24)}")
        elif code == 2:
            p.out(f" {p.ipv6(oip + 24)}, source address {p.ipv6(oip + 8)}")
        elif code == 4:
            if not _v6_port_unreachable(p, oip):
                p.trunc_mark()
                return
        else:
            print_unknown_data(p, "\n\t", off, length)
            return
    elif icmp_type == 2:
        p.out(f", mtu {p.u32(off + 4)}")
    elif icmp_type == 3:
        if code == 0:
            p.out(f" for {p.ipv6(oip + 24)}")
        elif code == 1:
            p.out(" (reassembly)")
        else:
            p.out(f", unknown code ({code})")
    elif icmp_type == 4:
        if not p.ttest(oip + 24, 16):
            p.trunc_mark()
            return
        name = _V6_PARAM.get(code)
        p.out(f", {name} - octet {p.u32(off + 4)}" if name else f", code-#{code}")
    elif icmp_type in (128, 129):
        p.out(f", id {p.u16(off + 4)}, seq {p.u16(off + 6)}")
    elif icmp_type == 135:
        p.out(f", who has {p.ipv6(off + 8)}")
    elif icmp_type == 136:
        p.out(f", tgt is {p.ipv6(off + 8)}")
    elif icmp_type == 137:
        p.out(f", {p.ipv6(off + 24)}")  # the destination, then the better first hop
        p.out(f" to {p.ipv6(off + 8)}")
    elif icmp_type in (144, 146):
        p.out(f", id 0x{p.u16(off + 4):04x}")
    elif icmp_type in _V6_DECODED_BY_TCPDUMP:
        p.out(f" [tcpkit: ICMPv6 type {icmp_type} not decoded], length {length}")
        return
    elif icmp_type not in _V6_SIMPLE:
        p.out(f", length {length}")
        print_unknown_data(p, "\n\t", off, length)
        return
    p.out(f", length {length}")


def _v6_port_unreachable(p: Printer, oip: int) -> bool:
    """The quoted datagram's transport and port (tcpdump's ``get_upperlayer``)."""
    if not p.ttest(oip + 6, 1):
        return False
    nh = p.u8(oip + 6)
    hdr, step = oip, 40
    while hdr < p.end:
        hdr += step
        if nh in (6, 17):
            if not p.ttest(hdr + 2, 2):
                return False
            dport = p.u16(hdr + 2)
            dst = p.ipv6(oip + 24)
            p.out(f", {dst} {'tcp' if nh == 6 else 'udp'} port {dport}")
            return True
        if nh in (0, 43, 60):  # hop-by-hop, routing, destination options
            if not p.ttest(hdr + 1, 1):
                return False
            nh, step = p.u8(hdr), (p.u8(hdr + 1) + 1) * 8
        elif nh == 44:  # fragment: only the first one quotes a transport header
            if not p.ttest(hdr + 2, 2) or p.u16(hdr + 2) & 0xFFF8:
                return False
            nh, step = p.u8(hdr), 8
        elif nh == 51:  # authentication header
            if not p.ttest(hdr + 1, 1):
                return False
            nh, step = p.u8(hdr), (p.u8(hdr + 1) + 2) * 4
        else:
            return False
    return False

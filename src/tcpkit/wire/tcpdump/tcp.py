"""The TCP part of a tcpdump line, as tcpdump 4.99 prints it without ``-v``.

``Flags [S.], seq 1, ack 1, win 502, options [nop,nop,TS val 1 ecr 2], length 0`` and the
odd cases too: options walked by tcpdump's own rules (it advances by the length it
expects for a kind, not by the length byte, and says ``[len N]`` when they differ),
``[bad opt]``, ``[|tcp]`` and the bad header lengths. Relative sequence numbers follow
tcpdump's table: the first segment with ACK seen for a conversation (or any SYN with ACK)
records the initial numbers of both directions and is itself printed absolute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tcpkit.wire.tcpdump.payload import print_tcp_payload
from tcpkit.wire.tcpdump.printer import Printer, Truncated

_FLAG_LETTERS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."),
                 (0x20, "U"), (0x40, "E"), (0x80, "W"))
_SYN, _FIN, _RST, _ACK, _URG = 0x02, 0x01, 0x04, 0x10, 0x20

_OPTION_NAMES = {0: "eol", 1: "nop", 2: "mss", 3: "wscale", 4: "sackOK", 5: "sack",
                 6: "echo", 7: "echoreply", 8: "TS", 11: "cc", 12: "ccnew", 13: "",
                 19: "md5", 20: "scps", 28: "uto", 29: "tcp-ao", 30: "mptcp", 34: "tfo",
                 254: "exp"}
_FOUR_BYTE_VALUE = frozenset({6, 7, 11, 12, 13})
_MD5_LEN = 16
_M32 = 0xFFFFFFFF


@dataclass(slots=True)
class IPContext:
    """What the TCP printer needs from the IP header it sits in."""

    version: int
    src: str
    dst: str
    src_raw: bytes
    dst_raw: bytes
    proto: int  # the IP header's protocol (next header) field


@dataclass(slots=True)
class SeqTable:
    """tcpdump's per-conversation initial sequence numbers (``tcp_seq_hash4/6``)."""

    entries: dict[tuple[int, bytes, bytes, int], list[int]] = field(default_factory=dict)


class _BadOption(Exception):
    """tcpdump's ``goto bad`` inside the option walk."""


class _OptionTruncated(Exception):
    """tcpdump's ``goto trunc`` inside the option walk (prints ``[|tcp]`` and maybe ``>``)."""


def flags_text(flags: int) -> str:
    letters = "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit)
    return letters or "none"


def print_tcp(
    p: Printer,
    off: int,
    length: int,
    ip: IPContext,
    fragmented: bool,
    seqs: SeqTable,
    absolute: bool,
) -> None:
    """Print the TCP segment at ``off`` whose length per the IP header is ``length``."""
    del fragmented  # only tcpdump -v looks at it (for the checksum)
    p.protocol = "tcp"
    if not p.ttest(off + 2, 2):
        p.out(f"{ip.src} > {ip.dst}:")
        p.trunc_mark()
        return
    sport = p.u16(off)
    dport = p.u16(off + 2)
    if ip.proto == 6:  # else the ports print alone (a header after IPv6 extensions)
        p.out(f"{ip.src}.{sport} > {ip.dst}.{dport}: ")
    else:
        p.out(f"{sport} > {dport}: ")
    if not p.ttest(off, 20):
        p.trunc_mark()
        return
    hlen = (p.u8(off + 12) >> 4) * 4
    if hlen < 20:
        p.out(f" tcp {(length - hlen) & _M32} [bad hdr length {hlen} - too short, < 20]")
        return
    seq = p.u32(off + 4)
    ack = p.u32(off + 8)
    win = p.u16(off + 14)
    urp = p.u16(off + 18)
    flags = p.u8(off + 13)
    p.out(f"Flags [{flags_text(flags)}]")

    rev = False
    thseq = thack = 0
    if not absolute and flags & _ACK:
        seq, ack, thseq, thack, rev = _relative(seqs, ip, sport, dport, seq, ack, flags)
    if hlen > length:
        p.out(f" [bad hdr length {hlen} - too long, > {length}]")
        return
    length -= hlen
    if length > 0 or flags & (_SYN | _FIN | _RST):
        p.out(f", seq {seq}")
        if length > 0:
            p.out(f":{(seq + length) & _M32}")
    if flags & _ACK:
        p.out(f", ack {ack}")
    p.out(f", win {win}")
    if flags & _URG:
        p.out(f", urg {urp}")
    if hlen > 20:
        p.out(", options [")
        try:
            _print_options(p, off + 20, hlen - 20, rev, thseq, thack, off + hlen + length)
        except _BadOption as bad:
            p.out("[bad opt]")
            if not bad.args[0]:
                p.out("]")
            return
        except _OptionTruncated as trunc:
            p.trunc_mark()
            if not trunc.args[0]:
                p.out(">")
            return
        p.out("]")
    p.out(f", length {length}")
    if length == 0:
        return
    if not p.ttest(off, hlen):
        p.out(f" [remaining caplen({p.available_after(off)}) < header length({hlen})]")
        raise Truncated
    print_tcp_payload(p, off + hlen, length, sport, dport)


def _relative(
    seqs: SeqTable, ip: IPContext, sport: int, dport: int, seq: int, ack: int, flags: int
) -> tuple[int, int, int, int, bool]:
    """tcpdump's lookup-or-record of a conversation's initial sequence numbers."""
    rev = sport > dport or (sport == dport and ip.src_raw > ip.dst_raw)
    if rev:
        key = (ip.version, ip.dst_raw, ip.src_raw, (dport << 16) | sport)
    else:
        key = (ip.version, ip.src_raw, ip.dst_raw, (sport << 16) | dport)
    entry = seqs.entries.get(key)
    if entry is None or flags & _SYN:
        entry = [ack - 1 & _M32, seq] if rev else [seq, ack - 1 & _M32]
        seqs.entries[key] = entry
    elif rev:
        seq, ack = (seq - entry[1]) & _M32, (ack - entry[0]) & _M32
    else:
        seq, ack = (seq - entry[0]) & _M32, (ack - entry[1]) & _M32
    return seq, ack, entry[0], entry[1], rev


def _print_options(
    p: Printer, cp: int, hlen: int, rev: bool, thseq: int, thack: int, payload_end: int
) -> None:
    """Walk the option area the way tcpdump does; raise _BadOption/_OptionTruncated with
    ``True`` when the failure came at the first option (no ``,`` printed yet)."""
    first = True

    def lencheck(n: int) -> None:
        if n > hlen:
            raise _BadOption(first)
        if not p.ttest(cp, n):
            raise _OptionTruncated(first)

    while hlen > 0:
        if not first:
            p.out(",")
        opt = p.u8(cp)
        cp += 1
        if opt in (0, 1):
            olen = 1
        else:
            olen = p.u8(cp)
            cp += 1
            if olen < 2 or olen > hlen:
                raise _BadOption(first)
            hlen -= 1
        hlen -= 1
        datalen = 0
        p.out(_OPTION_NAMES.get(opt, f"unknown-{opt}"))
        if opt == 2:
            datalen = 2
            lencheck(2)
            p.out(f" {p.u16(cp)}")
        elif opt == 3:
            datalen = 1
            lencheck(1)
            p.out(f" {p.u8(cp)}")
        elif opt == 5:
            datalen = olen - 2
            if datalen % 8:
                p.out(" invalid sack")
            else:
                p.out(f" {datalen // 8} ")
                base = thseq if rev else thack
                for i in range(0, datalen, 8):
                    lencheck(i + 4)
                    s = p.u32(cp + i)
                    lencheck(i + 8)
                    e = p.u32(cp + i + 4)
                    p.out(f"{{{(s - base) & _M32}:{(e - base) & _M32}}}")
        elif opt in _FOUR_BYTE_VALUE:
            datalen = 4
            lencheck(4)
            p.out(f" {p.u32(cp)}")
        elif opt == 8:
            datalen = 8
            lencheck(8)
            p.out(f" val {p.u32(cp)} ecr {p.u32(cp + 4)}")
        elif opt == 19:
            datalen = _MD5_LEN
            lencheck(datalen)
            p.out(" ")
            _print_md5(p, cp, payload_end)
        elif opt == 20:
            datalen = 2
            lencheck(2)
            p.out(f" cap {p.u8(cp):02x} id {p.u8(cp + 1)}")
        elif opt == 29:
            datalen = olen - 2
            if datalen < 2:
                p.out(" (invalid)")
            else:
                lencheck(1)
                p.out(f" keyid {p.u8(cp)}")
                lencheck(2)
                p.out(f" rnextkeyid {p.u8(cp + 1)}")
                if datalen > 2:
                    p.out(" mac 0x")
                    for i in range(2, datalen):
                        lencheck(i + 1)
                        p.out(f"{p.u8(cp + i):02x}")
        elif opt in (0, 1, 4):
            pass
        elif opt == 28:
            datalen = 2
            lencheck(2)
            uto = p.u16(cp)
            p.out(f" 0x{uto:x}")
            p.out(f" {(uto >> 1) * 60 if uto & 1 else uto >> 1}")
        elif opt == 30:
            datalen = olen - 2
            lencheck(datalen)
            p.out(" [tcpkit: MPTCP option not decoded]")
        elif opt == 34:
            datalen = olen - 2
            lencheck(datalen)
            p.out(" ")
            _print_fastopen(p, cp, datalen, experimental=False)
        elif opt == 254:
            datalen = olen - 2
            lencheck(datalen)
            if datalen < 2:
                raise _BadOption(first)
            magic = p.u16(cp)
            p.out("-")
            if magic == 0xF989:
                _print_fastopen(p, cp + 2, datalen - 2, experimental=True)
            else:
                p.out(f"{magic:04x}")
        else:
            datalen = olen - 2
            if datalen:
                p.out(" 0x")
            for i in range(datalen):
                lencheck(i + 1)
                p.out(f"{p.u8(cp + i):02x}")
        cp += datalen
        hlen -= datalen
        expected = datalen + (1 if opt in (0, 1) else 2)
        if expected != olen:
            p.out(f"[len {olen}]")
        first = False
        if opt == 0:
            break


def _print_fastopen(p: Printer, cp: int, datalen: int, *, experimental: bool) -> None:
    if experimental:
        p.out("tfo")
    if datalen == 0:
        p.out(" cookiereq")
    elif datalen % 2 or datalen < 4 or datalen > 16:
        p.out(" (invalid)")
    else:
        p.out(" cookie " + "".join(f"{p.u8(cp + i):02x}" for i in range(datalen)))


def _print_md5(p: Printer, cp: int, payload_end: int) -> None:
    """RFC 2385 signature. tcpdump (built with libcrypto) checks that the payload was
    captured, then that a secret was given with -M; without one it cannot verify."""
    if payload_end > p.end:
        p.out("snaplen too short, ")
    else:
        p.out("shared secret not supplied with -M, ")
    p.out("can't check - " + "".join(f"{p.u8(cp + i):02x}" for i in range(_MD5_LEN)))

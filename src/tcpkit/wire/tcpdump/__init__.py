"""Print packets exactly as ``tcpdump -n -r FILE`` (tcpdump 4.99) prints them.

>>> fmt = Formatter()                 # tcpdump -n
>>> fmt = Formatter(absolute=True)    # tcpdump -n -S
>>> fmt = Formatter(time_format=TimeFormat.EPOCH)   # tcpdump -n -tt
>>> for line in fmt.lines(open_capture("trace.pcap")): print(line)

TCP over IPv4 and IPv6, ICMP, ICMPv6 (the messages TCP meets and neighbour discovery),
UDP, ARP and the link layers are printed byte for byte as tcpdump does, including the
odd cases (truncated captures, bad header lengths, broken options). Where tcpdump would
run an application decoder tcpkit does not have (DNS, BGP, GRE, ...), a placeholder in
square brackets starting with ``tcpkit:`` says so. The formatter keeps tcpdump's state
across packets (the initial sequence numbers of each conversation), so feed it the
packets of one capture in order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from enum import IntEnum

from tcpkit.wire.capture import CapturedPacket
from tcpkit.wire.tcpdump.ip import IPPrinter
from tcpkit.wire.tcpdump.link import LinkPrinter
from tcpkit.wire.tcpdump.printer import Printer, Truncated
from tcpkit.wire.tcpdump.tcp import SeqTable

MAXIMUM_SNAPLEN = 262144


class TimeFormat(IntEnum):
    """tcpdump's ``-t`` flags: the value is how many ``t`` the option has."""

    LOCAL = 0  # default: 12:34:56.789012 in local time
    NONE = 1  # -t
    EPOCH = 2  # -tt: 1700000000.789012
    DELTA = 3  # -ttt: since the previous packet
    DATE = 4  # -tttt: 2024-01-31 12:34:56.789012
    SINCE_FIRST = 5  # -ttttt: since the first packet


class Formatter:
    """Turns captured packets into tcpdump's text, one packet at a time, in order."""

    def __init__(
        self,
        *,
        absolute: bool = False,
        time_format: TimeFormat = TimeFormat.LOCAL,
        nano: bool = False,
    ) -> None:
        self.time_format = time_format
        self.nano = nano
        self._link = LinkPrinter(IPPrinter(SeqTable(), absolute))
        self._reference: tuple[int, int] = (0, 0)

    def lines(self, packets: Iterable[CapturedPacket]) -> Iterator[str]:
        for packet in packets:
            yield self.line(packet)

    def line(self, packet: CapturedPacket) -> str:
        """The text tcpdump prints for ``packet`` (without the newline)."""
        invalid = _invalid_header(len(packet.data), packet.orig_len)
        if invalid:
            return invalid
        p = Printer(packet.data)
        p.out(self._timestamp(packet.ts_ns))
        try:
            self._link.print_packet(p, packet.linktype, packet.orig_len)
        except Truncated:
            p.trunc_mark()
        return "".join(p.parts)

    def _timestamp(self, ts_ns: int) -> str:
        if self.nano:
            sec, frac = divmod(ts_ns, 1_000_000_000)
        else:
            sec, frac = divmod(ts_ns // 1000, 1_000_000)
        fmt = self.time_format
        if fmt == TimeFormat.NONE:
            return ""
        if fmt == TimeFormat.EPOCH:
            if sec & 0x80000000:
                return "[Error converting time] "
            return f"{sec}{self._fraction(frac)} "
        if fmt in (TimeFormat.DELTA, TimeFormat.SINCE_FIRST):
            return self._delta(sec, frac)
        return self._clock(sec, frac, time.localtime, with_date=fmt == TimeFormat.DATE) + " "

    def _fraction(self, frac: int) -> str:
        return f".{frac:09d}" if self.nano else f".{frac:06d}"

    def _clock(
        self,
        sec: int,
        frac: int,
        convert: Callable[[float], time.struct_time],
        *,
        with_date: bool = False,
    ) -> str:
        if sec & 0x80000000:
            return "[Error converting time]"
        tm = convert(sec)
        text = time.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S", tm)
        return text + self._fraction(frac)

    def _delta(self, sec: int, frac: int) -> str:
        """-ttt / -ttttt: the difference from a reference packet, printed as UTC clock time."""
        if self._reference == (0, 0):
            self._reference = (sec, frac)
        units = 1_000_000_000 if self.nano else 1_000_000
        now = sec * units + frac
        ref = self._reference[0] * units + self._reference[1]
        negative = now < ref
        d_sec, d_frac = divmod(abs(now - ref), units)
        if self.time_format == TimeFormat.DELTA:
            self._reference = (sec, frac)
        sign = "-" if negative else " "
        return sign + self._clock(d_sec, d_frac, time.gmtime) + " "


def _invalid_header(caplen: int, length: int) -> str:
    """tcpdump's sanity checks on a record, printed instead of the packet."""
    problems = []
    if caplen == 0:
        problems.append(" caplen==0")
    if length == 0:
        problems.append(" len==0")
    elif length < caplen:
        problems.append(f" len({length}) < caplen({caplen})")
    if caplen > MAXIMUM_SNAPLEN:
        problems.append(f" caplen({caplen}) > {MAXIMUM_SNAPLEN}")
    if length > MAXIMUM_SNAPLEN:
        problems.append(f" len({length}) > {MAXIMUM_SNAPLEN}")
    if not problems:
        return ""
    return "[Invalid header:" + ",".join(problems) + "]"


__all__ = ["Formatter", "TimeFormat"]

"""The machinery under the tcpdump formatter: a bounded view of one packet and its output.

tcpdump's printers read fields through accessors that, past the end of the captured
bytes, abandon the packet and print `` [|proto]`` with the name of the protocol being
printed at that moment. :class:`Printer` keeps that contract: its accessors raise
:class:`Truncated`, and :meth:`tcpkit.wire.tcpdump.Formatter.line` adds the marker. Like
tcpdump's snapshot-end stack, :meth:`Printer.push_end` narrows the readable bytes to a
layer's own length (so Ethernet padding never reads as TCP payload).
"""

from __future__ import annotations

import socket
import struct

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


class Truncated(Exception):
    """A printer needed bytes beyond what was captured."""


class Printer:
    """One packet being printed: its captured bytes, the readable end, and the text so far."""

    __slots__ = ("_ends", "data", "end", "parts", "protocol")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.end = len(data)
        self.parts: list[str] = []
        self.protocol = ""
        self._ends: list[int] = []

    def out(self, text: str) -> None:
        self.parts.append(text)

    def trunc_mark(self) -> None:
        """tcpdump's ``nd_print_trunc``."""
        self.parts.append(f" [|{self.protocol}]")

    def ttest(self, offset: int, size: int) -> bool:
        """Are ``size`` bytes at ``offset`` captured (and inside the current layer)?"""
        return offset >= 0 and offset + size <= self.end

    def available_after(self, offset: int) -> int:
        return max(self.end - offset, 0)

    def check(self, offset: int, size: int) -> None:
        if not self.ttest(offset, size):
            raise Truncated

    def u8(self, offset: int) -> int:
        if offset >= self.end:
            raise Truncated
        return self.data[offset]

    def u16(self, offset: int) -> int:
        if offset + 2 > self.end:
            raise Truncated
        return int(_U16.unpack_from(self.data, offset)[0])

    def u32(self, offset: int) -> int:
        if offset + 4 > self.end:
            raise Truncated
        return int(_U32.unpack_from(self.data, offset)[0])

    def ipv4(self, offset: int) -> str:
        self.check(offset, 4)
        return socket.inet_ntoa(self.data[offset : offset + 4])

    def ipv6(self, offset: int) -> str:
        self.check(offset, 16)
        return socket.inet_ntop(socket.AF_INET6, self.data[offset : offset + 16])

    def mac(self, offset: int) -> str:
        self.check(offset, 6)
        return self.data[offset : offset + 6].hex(":")

    def push_end(self, start: int, length: int) -> None:
        """Narrow the readable bytes to ``length`` from ``start`` (never widen them)."""
        self._ends.append(self.end)
        self.end = min(self.end, start + length)

    def pop_end(self) -> None:
        self.end = self._ends.pop()


def is_print(c: int) -> bool:
    """ASCII printable, as tcpdump's ``ND_ASCII_ISPRINT``."""
    return 0x20 <= c <= 0x7E


def is_graph(c: int) -> bool:
    """ASCII printable and not a space, as tcpdump's ``ND_ASCII_ISGRAPH``."""
    return 0x20 < c <= 0x7E


def hex_print(p: Printer, indent: str, off: int, length: int) -> None:
    """tcpdump's ``hex_print``: 16 bytes a line as 8 groups of 4 hex digits."""
    length, truncated = _clip(p, off, length)
    line_offset = 0
    for i in range(length // 2):
        if i % 8 == 0:
            p.out(f"{indent}0x{line_offset:04x}: ")
            line_offset += 16
        p.out(f" {p.data[off + 2 * i]:02x}{p.data[off + 2 * i + 1]:02x}")
    if length & 1:
        if (length // 2) % 8 == 0:
            p.out(f"{indent}0x{line_offset:04x}: ")
        p.out(f" {p.data[off + length - 1]:02x}")
    if truncated:
        raise Truncated


def hex_and_ascii_print(p: Printer, indent: str, off: int, length: int) -> None:
    """tcpdump's ``hex_and_ascii_print`` (its default print of undecoded payload)."""
    length, truncated = _clip(p, off, length)
    for line_start in range(0, length, 16):
        chunk = p.data[off + line_start : off + min(line_start + 16, length)]
        hexstuff = "".join(
            f" {chunk[i]:02x}{chunk[i + 1]:02x}" if i + 1 < len(chunk) else f" {chunk[i]:02x}"
            for i in range(0, len(chunk), 2)
        )
        ascii_part = "".join(chr(c) if is_graph(c) else "." for c in chunk)
        p.out(f"{indent}0x{line_start:04x}: {hexstuff:<40}  {ascii_part}")
    if truncated:
        raise Truncated


def _clip(p: Printer, off: int, length: int) -> tuple[int, bool]:
    available = max(p.end - off, 0)
    return (available, True) if length > available else (length, False)


def print_unknown_data(p: Printer, indent: str, off: int, length: int) -> None:
    """tcpdump's ``print_unknown_data``: a hex dump of what was captured, never truncated."""
    hex_print(p, indent, off, min(length, p.available_after(off)))

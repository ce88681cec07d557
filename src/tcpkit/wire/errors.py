"""The one error a parser raises for bad input."""

from __future__ import annotations


class MalformedPacket(ValueError):
    """A packet (or a file of packets) that cannot be read as what it claims to be.

    Every parser in :mod:`tcpkit.wire` raises this and only this for bad input: a truncated
    header, a length field that points past the data, an impossible value. ``reason`` says
    what is wrong in words, ``offset`` is the byte offset (from the start of the buffer the
    caller passed) where the problem was found, and ``layer`` names the format ("ipv4",
    "tcp", "pcap", ...).
    """

    def __init__(self, layer: str, reason: str, offset: int) -> None:
        super().__init__(f"{layer}: {reason} (at byte {offset})")
        self.layer = layer
        self.reason = reason
        self.offset = offset


class BadChecksum(MalformedPacket):
    """A checksum that does not verify. Reported, never silently accepted."""

    def __init__(self, layer: str, found: int, expected: int, offset: int) -> None:
        super().__init__(
            layer, f"bad checksum 0x{found:04x}, should be 0x{expected:04x}", offset
        )
        self.found = found
        self.expected = expected


def need(layer: str, have: int, size: int, what: str, at: int) -> None:
    """Raise :class:`MalformedPacket` (reported at offset ``at``) unless ``have >= size``."""
    if have < size:
        raise MalformedPacket(layer, f"truncated {what}: need {size} bytes, have {have}", at)

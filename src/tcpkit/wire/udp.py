"""The UDP header (RFC 768): carried by tcpkit's UDP tunnel link and shown in traces."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from tcpkit.wire.checksum import finish, word_sum
from tcpkit.wire.errors import BadChecksum, MalformedPacket, need

HEADER_LEN: Final = 8

_HEAD = struct.Struct("!HHHH")


@dataclass(slots=True)
class UDPDatagram:
    """A UDP datagram; ``None`` in length or checksum means "compute it on build"."""

    src_port: int
    dst_port: int
    payload: bytes = b""
    length: int | None = None
    checksum: int | None = None

    def build(self, pseudo_header: int) -> bytes:
        """The datagram bytes. ``pseudo_header`` is :func:`checksum.pseudo_header` of the
        addresses with protocol 17 and ``length=0``; the UDP length is added here."""
        length = self.length if self.length is not None else HEADER_LEN + len(self.payload)
        head = _HEAD.pack(self.src_port, self.dst_port, length, 0)
        if self.checksum is None:
            csum = finish(pseudo_header + length + word_sum(head) + word_sum(self.payload))
            csum = csum or 0xFFFF  # RFC 768: a computed zero is sent as all ones
        else:
            csum = self.checksum
        return head[:6] + csum.to_bytes(2, "big") + self.payload


def parse_udp(
    data: bytes | bytearray | memoryview, pseudo_header: int | None = None, *, base: int = 0
) -> UDPDatagram:
    """Read a UDP datagram, cut at its length field. With ``pseudo_header`` a non-zero
    checksum is verified (zero means the sender computed none, RFC 768)."""
    n = len(data)
    need("udp", n, HEADER_LEN, "UDP header", base)
    sport, dport, length, csum = _HEAD.unpack_from(data, 0)
    if length < HEADER_LEN:
        raise MalformedPacket("udp", f"length {length} is below the 8-byte header", base + 4)
    if length > n:
        raise MalformedPacket("udp", f"length {length} exceeds the {n} bytes received", base + 4)
    if pseudo_header is not None and csum:
        total = pseudo_header + length + word_sum(data[:length])
        if finish(total):
            raise BadChecksum("udp", csum, finish(total - csum) or 0xFFFF, base + 6)
    return UDPDatagram(sport, dport, bytes(data[HEADER_LEN:length]), length, csum)

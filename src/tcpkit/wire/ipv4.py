"""The IPv4 header (RFC 791 §3.1), read and written exactly, options kept byte for byte.

Addresses are the dotted-quad strings the socket API uses ("192.0.2.1"); the packed
forms are computed once on parse and kept on the header so the TCP checksum needs no
second conversion.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from socket import inet_ntoa
from typing import Final, overload

from tcpkit.wire.addresses import pack_ipv4
from tcpkit.wire.checksum import internet_checksum
from tcpkit.wire.errors import BadChecksum, MalformedPacket, need

PROTO_ICMP: Final = 1
PROTO_TCP: Final = 6
PROTO_UDP: Final = 17
PROTO_IPV6: Final = 41
PROTO_ICMPV6: Final = 58

# The three flag bits in the top of the 16-bit flags/fragment-offset word (RFC 791 §3.1).
FLAG_RESERVED: Final = 0x4
FLAG_DF: Final = 0x2
FLAG_MF: Final = 0x1

MIN_HEADER_LEN: Final = 20
MAX_HEADER_LEN: Final = 60

_FIXED = struct.Struct("!BBHHHBBH4s4s")


@dataclass(slots=True)
class IPv4Header:
    """An IPv4 header. ``None`` in a length or checksum field means "compute it on build".

    ``fragment_offset`` is in bytes (the wire field counts 8-byte units, so it must be a
    multiple of 8). ``options`` is the raw option area; it is padded with zeros to a
    multiple of 4 bytes on build, as RFC 791 requires.
    """

    src: str = field(compare=False)
    dst: str = field(compare=False)
    protocol: int
    ttl: int = 64
    tos: int = 0
    identification: int = 0
    flags: int = FLAG_DF
    fragment_offset: int = 0
    options: bytes = b""
    total_length: int | None = None
    checksum: int | None = None
    # Equality goes by the packed bytes: one address has several textual forms.
    src_packed: bytes = field(default=b"", repr=False)
    dst_packed: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not self.src_packed:
            self.src_packed = pack_ipv4(self.src)
        if not self.dst_packed:
            self.dst_packed = pack_ipv4(self.dst)

    @property
    def is_fragment(self) -> bool:
        """True for any fragment: more fragments follow, or this is not the first one."""
        return bool(self.flags & FLAG_MF) or self.fragment_offset != 0

    @property
    def dont_fragment(self) -> bool:
        return bool(self.flags & FLAG_DF)

    def build(self, payload_length: int) -> bytes:
        """The header bytes for a payload of ``payload_length`` bytes."""
        options = self.options
        if len(options) % 4:
            options += b"\x00" * (4 - len(options) % 4)
        hlen = MIN_HEADER_LEN + len(options)
        if hlen > MAX_HEADER_LEN:
            raise ValueError(f"IPv4 options of {len(options)} bytes exceed the 40-byte limit")
        if self.fragment_offset % 8:
            raise ValueError(f"fragment offset {self.fragment_offset} is not a multiple of 8")
        total = self.total_length if self.total_length is not None else hlen + payload_length
        header = bytearray(
            _FIXED.pack(
                0x40 | (hlen >> 2),
                self.tos,
                total,
                self.identification,
                (self.flags << 13) | (self.fragment_offset >> 3),
                self.ttl,
                self.protocol,
                0,
                self.src_packed,
                self.dst_packed,
            )
        )
        header += options
        csum = self.checksum if self.checksum is not None else internet_checksum(header)
        header[10:12] = csum.to_bytes(2, "big")
        return bytes(header)

    def packet(self, payload: bytes) -> bytes:
        """The whole datagram: this header followed by ``payload``."""
        return self.build(len(payload)) + payload


@overload
def parse_ipv4(data: memoryview, *, verify: bool = True, partial: bool = False,
               base: int = 0) -> tuple[IPv4Header, memoryview]: ...


@overload
def parse_ipv4(data: bytes | bytearray, *, verify: bool = True, partial: bool = False,
               base: int = 0) -> tuple[IPv4Header, bytes]: ...


def parse_ipv4(
    data: bytes | bytearray | memoryview,
    *,
    verify: bool = True,
    partial: bool = False,
    base: int = 0,
) -> tuple[IPv4Header, bytes | memoryview]:
    """Read an IPv4 datagram: its header and its payload (cut at the total length).
    The payload of a memoryview is a view, not a copy: a 64 KB super-segment read from
    a device is copied next when the application reads it.

    Octets after the total length (link-layer padding) are ignored, as RFC 1122 §3.3.2
    implies. With ``verify`` a wrong header checksum raises :class:`BadChecksum`. With
    ``partial`` the datagram may be cut short (the copy quoted inside an ICMP error, RFC
    792): the payload is whatever follows the header. ``base`` is added to offsets in
    errors (the position of ``data`` in a larger buffer).
    """
    n = len(data)
    need("ipv4", n, MIN_HEADER_LEN, "IPv4 header", base)
    (vihl, tos, total, ident, frag, ttl, proto, csum, src, dst) = _FIXED.unpack_from(data, 0)
    if vihl == 0x45:
        hlen = MIN_HEADER_LEN  # the usual header, without options
    else:
        version = vihl >> 4
        if version != 4:
            raise MalformedPacket("ipv4", f"version {version} is not 4", base)
        hlen = (vihl & 0x0F) * 4
        if hlen < MIN_HEADER_LEN:
            raise MalformedPacket("ipv4", f"header length {hlen} is below 20", base)
        need("ipv4", n, hlen, "IPv4 header with options", base)
    if total < hlen:
        raise MalformedPacket("ipv4", f"total length {total} is shorter than the header", base + 2)
    end = min(total, n) if partial else total
    if end > n:
        raise MalformedPacket(
            "ipv4", f"total length {total} exceeds the {n} bytes received", base + 2
        )
    if verify and internet_checksum(data[:hlen]):
        expected = internet_checksum(bytes(data[:10]) + b"\x00\x00" + bytes(data[12:hlen]))
        raise BadChecksum("ipv4", csum, expected, base + 10)
    # Positional, in field order: keywords cost a third of the parse.
    header = IPv4Header(inet_ntoa(src), inet_ntoa(dst), proto, ttl, tos, ident, frag >> 13,
                        (frag & 0x1FFF) << 3,
                        bytes(data[MIN_HEADER_LEN:hlen]) if hlen > MIN_HEADER_LEN else b"",
                        total, csum, src, dst)
    payload = data[hlen:end]
    return header, payload if isinstance(payload, memoryview | bytes) else bytes(payload)

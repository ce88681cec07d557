"""The IPv6 fixed header (RFC 8200 §3). Extension headers are left in the payload."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import Final

from tcpkit.wire.addresses import pack_ipv6
from tcpkit.wire.errors import MalformedPacket, need

HEADER_LEN: Final = 40

_FIXED = struct.Struct("!IHBB16s16s")


@dataclass(slots=True)
class IPv6Header:
    """An IPv6 fixed header; ``payload_length=None`` means "compute it on build"."""

    src: str = field(compare=False)
    dst: str = field(compare=False)
    next_header: int
    hop_limit: int = 64
    traffic_class: int = 0
    flow_label: int = 0
    payload_length: int | None = None
    # Equality goes by the packed bytes: one address has several textual forms.
    src_packed: bytes = field(default=b"", repr=False)
    dst_packed: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not self.src_packed:
            self.src_packed = pack_ipv6(self.src)
        if not self.dst_packed:
            self.dst_packed = pack_ipv6(self.dst)

    def build(self, payload_length: int) -> bytes:
        """The 40 header bytes for a payload of ``payload_length`` bytes."""
        plen = self.payload_length if self.payload_length is not None else payload_length
        if not 0 <= self.flow_label < 1 << 20:
            raise ValueError(f"flow label {self.flow_label} does not fit in 20 bits")
        return _FIXED.pack(
            (6 << 28) | (self.traffic_class << 20) | self.flow_label,
            plen,
            self.next_header,
            self.hop_limit,
            self.src_packed,
            self.dst_packed,
        )

    def packet(self, payload: bytes) -> bytes:
        """The whole packet: this header followed by ``payload``."""
        return self.build(len(payload)) + payload


def parse_ipv6(data: bytes | bytearray | memoryview, *, base: int = 0) -> tuple[IPv6Header, bytes]:
    """Read an IPv6 packet: the fixed header and the payload, cut at the payload length."""
    n = len(data)
    need("ipv6", n, HEADER_LEN, "IPv6 header", base)
    word, plen, nxt, hlim, src, dst = _FIXED.unpack_from(data, 0)
    if word >> 28 != 6:
        raise MalformedPacket("ipv6", f"version {word >> 28} is not 6", base)
    if HEADER_LEN + plen > n:
        raise MalformedPacket(
            "ipv6", f"payload length {plen} exceeds the {n - HEADER_LEN} bytes received", base + 4
        )
    header = IPv6Header(
        src=socket.inet_ntop(socket.AF_INET6, src),
        dst=socket.inet_ntop(socket.AF_INET6, dst),
        next_header=nxt,
        hop_limit=hlim,
        traffic_class=(word >> 20) & 0xFF,
        flow_label=word & 0xFFFFF,
        payload_length=plen,
        src_packed=bytes(src),
        dst_packed=bytes(dst),
    )
    return header, bytes(data[HEADER_LEN : HEADER_LEN + plen])

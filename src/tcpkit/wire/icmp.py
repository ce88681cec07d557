"""ICMP for IPv4 (RFC 792) and ICMPv6 (RFC 4443): one message layout, two checksum rules.

Every message is type, code, checksum, four "rest of header" bytes and a body. For echo
the four bytes are identifier and sequence; for "fragmentation needed" (RFC 1191) and
ICMPv6 "packet too big" they carry the next-hop MTU; for errors the body quotes the
datagram that caused them. ICMPv4's checksum covers the message alone; ICMPv6's adds the
IPv6 pseudo-header (RFC 4443 §2.3), passed in as ``pseudo_header``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from tcpkit.wire.checksum import finish, word_sum
from tcpkit.wire.errors import BadChecksum, need
from tcpkit.wire.ipv4 import IPv4Header, parse_ipv4

# ICMPv4 types and codes (RFC 792, RFC 1191, RFC 1812 §5.2.7.1).
ECHO_REPLY: Final = 0
DEST_UNREACHABLE: Final = 3
SOURCE_QUENCH: Final = 4
REDIRECT: Final = 5
ECHO_REQUEST: Final = 8
TIME_EXCEEDED: Final = 11
PARAMETER_PROBLEM: Final = 12

NET_UNREACHABLE: Final = 0
HOST_UNREACHABLE: Final = 1
PROTOCOL_UNREACHABLE: Final = 2
PORT_UNREACHABLE: Final = 3
FRAGMENTATION_NEEDED: Final = 4
SOURCE_ROUTE_FAILED: Final = 5
NET_PROHIBITED: Final = 9
HOST_PROHIBITED: Final = 10
ADMIN_PROHIBITED: Final = 13
NR_UNREACH: Final = 15  # the highest destination-unreachable code (NR_ICMP_UNREACH)

TTL_EXCEEDED_IN_TRANSIT: Final = 0
FRAGMENT_REASSEMBLY_TIME_EXCEEDED: Final = 1

ERROR_TYPES: Final = frozenset(
    {DEST_UNREACHABLE, SOURCE_QUENCH, REDIRECT, TIME_EXCEEDED, PARAMETER_PROBLEM}
)

# ICMPv6 types (RFC 4443 §2.1, RFC 4861 §4).
V6_DEST_UNREACHABLE: Final = 1
V6_PACKET_TOO_BIG: Final = 2
V6_TIME_EXCEEDED: Final = 3
V6_PARAMETER_PROBLEM: Final = 4
V6_ECHO_REQUEST: Final = 128
V6_ECHO_REPLY: Final = 129
V6_ROUTER_SOLICITATION: Final = 133
V6_ROUTER_ADVERTISEMENT: Final = 134
V6_NEIGHBOR_SOLICITATION: Final = 135
V6_NEIGHBOR_ADVERTISEMENT: Final = 136

HEADER_LEN: Final = 8
# RFC 1812 §4.3.2.3: an error quotes as much of the datagram as fits in 576 bytes.
MAX_QUOTE: Final = 576 - 20 - HEADER_LEN

_HEAD = struct.Struct("!BBH4s")
_U16x2 = struct.Struct("!HH")


@dataclass(slots=True)
class ICMPMessage:
    """An ICMP or ICMPv6 message; ``checksum=None`` means "compute it on build"."""

    type: int
    code: int
    rest: bytes = b"\x00\x00\x00\x00"
    body: bytes = b""
    checksum: int | None = None

    @property
    def identifier(self) -> int:
        """Echo identifier (RFC 792 "Echo or Echo Reply Message")."""
        return int(_U16x2.unpack(self.rest)[0])

    @property
    def sequence(self) -> int:
        """Echo sequence number."""
        return int(_U16x2.unpack(self.rest)[1])

    @property
    def next_hop_mtu(self) -> int:
        """MTU of the next hop: low 16 bits for ICMPv4 (RFC 1191 §4), 32 bits for ICMPv6
        packet too big (RFC 4443 §3.2). Zero from routers older than RFC 1191."""
        if self.type == V6_PACKET_TOO_BIG:
            return int.from_bytes(self.rest, "big")
        return int(_U16x2.unpack(self.rest)[1])

    @property
    def is_error(self) -> bool:
        """An ICMPv4 error message, which quotes the datagram that caused it."""
        return self.type in ERROR_TYPES

    def quoted_ipv4(self) -> tuple[IPv4Header, bytes]:
        """The IPv4 header and the leading transport bytes quoted by an error message."""
        return parse_ipv4(self.body, verify=False, partial=True, base=HEADER_LEN)

    def build(self, pseudo_header: int = 0) -> bytes:
        """The message bytes. For ICMPv6 pass :func:`checksum.pseudo_header` of the
        addresses with protocol 58 and ``length=0``; the message length is added here."""
        head = _HEAD.pack(self.type, self.code, 0, self.rest)
        if self.checksum is None:
            extra = pseudo_header + HEADER_LEN + len(self.body) if pseudo_header else 0
            csum = finish(extra + word_sum(head) + word_sum(self.body))
        else:
            csum = self.checksum
        return b"".join((head[:2], csum.to_bytes(2, "big"), head[4:], self.body))

    @classmethod
    def echo_request(cls, identifier: int, sequence: int, data: bytes = b"") -> ICMPMessage:
        return cls(ECHO_REQUEST, 0, _U16x2.pack(identifier, sequence), data)

    @classmethod
    def echo_reply(cls, identifier: int, sequence: int, data: bytes = b"") -> ICMPMessage:
        return cls(ECHO_REPLY, 0, _U16x2.pack(identifier, sequence), data)

    @classmethod
    def destination_unreachable(
        cls, code: int, original: bytes, next_hop_mtu: int = 0
    ) -> ICMPMessage:
        """Destination unreachable quoting ``original`` (the offending datagram, cut to 576
        bytes in all); ``next_hop_mtu`` goes with code 4, fragmentation needed."""
        return cls(DEST_UNREACHABLE, code, _U16x2.pack(0, next_hop_mtu), original[:MAX_QUOTE])

    @classmethod
    def time_exceeded(cls, code: int, original: bytes) -> ICMPMessage:
        return cls(TIME_EXCEEDED, code, b"\x00\x00\x00\x00", original[:MAX_QUOTE])


def parse_icmp(
    data: bytes | bytearray | memoryview,
    pseudo_header: int = 0,
    *,
    verify: bool = True,
    base: int = 0,
) -> ICMPMessage:
    """Read an ICMP message. ``pseudo_header`` is needed (and only used) for ICMPv6; with
    ``verify`` a wrong checksum raises :class:`BadChecksum`."""
    n = len(data)
    need("icmp", n, HEADER_LEN, "ICMP header", base)
    icmp_type, code, csum, rest = _HEAD.unpack_from(data, 0)
    if verify:
        total = (pseudo_header + n if pseudo_header else 0) + word_sum(data)
        if finish(total):
            raise BadChecksum("icmp", csum, finish(total - csum), base + 2)
    return ICMPMessage(icmp_type, code, bytes(rest), bytes(data[HEADER_LEN:]), csum)

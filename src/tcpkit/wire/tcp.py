"""The TCP header and segment (RFC 9293 §3.1), read and written byte for byte.

``flags`` holds the low 12 bits of the 16-bit word after the sequence numbers: the eight
control bits, the AE bit (RFC 9768, formerly NS) and the three reserved bits, so a segment
with odd bits set survives a round trip. The options live in :mod:`tcp_options`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from tcpkit.wire.checksum import finish, offload_checksum, word_sum
from tcpkit.wire.errors import BadChecksum, MalformedPacket, need
from tcpkit.wire.frozen import frozen
from tcpkit.wire.tcp_options import TCPOption, build_options, parse_options

FIN: Final = 0x001
SYN: Final = 0x002
RST: Final = 0x004
PSH: Final = 0x008
ACK: Final = 0x010
URG: Final = 0x020
ECE: Final = 0x040
CWR: Final = 0x080
AE: Final = 0x100
RESERVED: Final = 0xE00

MIN_HEADER_LEN: Final = 20
MAX_HEADER_LEN: Final = 60

_FIXED = struct.Struct("!HHIIHHHH")

_FLAG_NAMES: Final = ((SYN, "SYN"), (ACK, "ACK"), (FIN, "FIN"), (RST, "RST"), (PSH, "PSH"),
                      (URG, "URG"), (ECE, "ECE"), (CWR, "CWR"), (AE, "AE"))


def flag_names(flags: int) -> str:
    """``"SYN|ACK"``-style names of the control bits set in ``flags`` (``"none"`` if none)."""
    names = [name for bit, name in _FLAG_NAMES if flags & bit]
    if flags & RESERVED:
        names.append(f"reserved=0x{(flags & RESERVED) >> 9:x}")
    return "|".join(names) or "none"


@dataclass(slots=True)
class TCPSegment:
    """A TCP segment: header fields, options and payload.

    ``checksum=None`` means "compute it on build". ``window`` is the raw 16-bit field (the
    peer's window scale is applied by the engine, not here).

    Two fields are not on the wire but say how a received segment arrived, as Linux's
    skb does: ``gso_size``, the size of the segments an offload merged into this one
    (``skb_shinfo->gso_size``), and ``truesize``, the memory the receiving device
    charged for it (``skb->truesize``); 0 when the device says nothing (the engine then
    assumes veth's paged skbs). They take no part in comparisons.
    """

    src_port: int
    dst_port: int
    seq: int = 0
    ack: int = 0
    flags: int = 0
    window: int = 0
    urgent: int = 0
    options: tuple[TCPOption, ...] = ()
    payload: bytes | memoryview = b""
    checksum: int | None = None
    gso_size: int = field(default=0, compare=False, repr=False)
    truesize: int = field(default=0, compare=False, repr=False)

    @property
    def header_length(self) -> int:
        """20 bytes plus the option area, padded to a multiple of 4."""
        return MIN_HEADER_LEN + len(build_options(self.options))

    @property
    def seg_len(self) -> int:
        """SEG.LEN (RFC 9293 §3.4): payload octets plus one each for SYN and FIN."""
        return len(self.payload) + (self.flags & SYN) // SYN + (self.flags & FIN)

    def build(self, pseudo_header: int, *, offload: bool = False) -> bytes:
        """The segment bytes. ``pseudo_header`` is :func:`checksum.pseudo_header` of the
        addresses with ``length=0``: the segment length is added here. With ``offload``
        (and ``checksum=None``) the checksum field is left partial for the device to
        finish (:func:`checksum.offload_checksum`): the payload is never summed here."""
        return self.header(pseudo_header, offload=offload) + self.payload

    def header(self, pseudo_header: int, *, offload: bool = False) -> bytes:
        """The header alone, its checksum as :meth:`build` fills it: what a device that
        takes header and payload apart is given, so the payload is never copied."""
        area = build_options(self.options) if self.options else b""
        hlen = MIN_HEADER_LEN + len(area)
        if hlen > MAX_HEADER_LEN:
            raise ValueError(f"TCP options of {len(area)} bytes exceed the 40-byte limit")
        head = _FIXED.pack(
            self.src_port,
            self.dst_port,
            self.seq,
            self.ack,
            (hlen << 10) | self.flags,
            self.window,
            0,
            self.urgent,
        )
        if self.checksum is None and offload:
            csum = offload_checksum(pseudo_header + hlen + len(self.payload))
        elif self.checksum is None:
            # The header is a whole number of 32-bit words, so the parts' sums simply add.
            length = hlen + len(self.payload)
            csum = finish(pseudo_header + length + word_sum(head) + word_sum(area)
                          + word_sum(self.payload))
        else:
            csum = self.checksum
        return b"".join((head[:16], csum.to_bytes(2, "big"), head[18:], area))


def parse_tcp(
    data: bytes | bytearray | memoryview, pseudo_header: int | None = None, *, base: int = 0
) -> TCPSegment:
    """Read a TCP segment. With ``pseudo_header`` (:func:`checksum.pseudo_header` of the
    addresses, ``length=0``) the checksum is verified and a wrong one raises
    :class:`BadChecksum`. ``base`` is added to offsets in errors. The payload of a view
    of bytes is a view too (:func:`~tcpkit.wire.frozen.frozen`), not a copy."""
    n = len(data)
    need("tcp", n, MIN_HEADER_LEN, "TCP header", base)
    sport, dport, seq, ack, off_flags, window, csum, urgent = _FIXED.unpack_from(data, 0)
    hlen = (off_flags >> 12) * 4
    if hlen < MIN_HEADER_LEN:
        raise MalformedPacket(
            "tcp", f"data offset {hlen // 4} is below the minimum of 5", base + 12
        )
    if hlen > n:
        raise MalformedPacket(
            "tcp", f"data offset of {hlen} bytes exceeds the {n}-byte segment", base + 12
        )
    if pseudo_header is not None:
        total = pseudo_header + n + word_sum(data)
        if finish(total):
            expected = finish(total - (csum or 0))
            raise BadChecksum("tcp", csum, expected, base + 16)
    return TCPSegment(
        sport,
        dport,
        seq,
        ack,
        off_flags & 0x0FFF,
        window,
        urgent,
        parse_options(bytes(data[MIN_HEADER_LEN:hlen])) if hlen > MIN_HEADER_LEN else (),
        frozen(data[hlen:]) if n > hlen else b"",
        csum,
    )

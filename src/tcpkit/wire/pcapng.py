"""pcapng files (draft-ietf-opsawg-pcapng): read.

A file is a sequence of blocks (type, total length, body, total length again). A Section
Header Block fixes the byte order of its section; Interface Description Blocks give each
interface its link type and timestamp resolution (option ``if_tsresol``, default 10^-6)
and offset (``if_tsoffset``); packets come in Enhanced, Simple or (obsolete) Packet
Blocks. Other blocks (name resolution, statistics, custom) are skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from tcpkit.wire.capture import NS_PER_SECOND, CapturedPacket
from tcpkit.wire.errors import MalformedPacket

SHB_TYPE: Final = 0x0A0D0D0A
IDB_TYPE: Final = 0x00000001
PB_TYPE: Final = 0x00000002  # obsolete Packet Block
SPB_TYPE: Final = 0x00000003
EPB_TYPE: Final = 0x00000006
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D

OPT_ENDOFOPT: Final = 0
OPT_IF_TSRESOL: Final = 9
OPT_IF_TSOFFSET: Final = 14

# Far beyond any real block; refuses to allocate for a corrupt length field.
MAX_BLOCK: Final = 16 * 1024 * 1024


@dataclass(slots=True)
class _Interface:
    linktype: int
    snaplen: int
    resolution: int = 1_000_000  # timestamp units per second
    offset: int = 0  # seconds added to every timestamp

    def ts_ns(self, units: int) -> int:
        """Nanoseconds for a raw timestamp, truncating exactly as libpcap's scaling does."""
        sec, frac = divmod(units, self.resolution)
        return (sec + self.offset) * NS_PER_SECOND + frac * NS_PER_SECOND // self.resolution


def read_pcapng(stream: BinaryIO) -> Iterator[CapturedPacket]:
    """Yield the packets of a pcapng file read from ``stream`` (from its first byte)."""
    order = "<"
    interfaces: list[_Interface] = []
    offset = 0
    while True:
        head = stream.read(8)
        if not head:
            return
        if len(head) < 8:
            raise MalformedPacket(
                "pcapng", f"truncated block header: need 8 bytes, have {len(head)}", offset
            )
        prefix = b""
        if int.from_bytes(head[:4], "little") == SHB_TYPE:
            # The section's byte order is in its first body word; the block type reads
            # the same both ways, the length does not.
            prefix = stream.read(4)
            if len(prefix) < 4:
                raise MalformedPacket(
                    "pcapng", f"truncated block: need 12 bytes, have {8 + len(prefix)}", offset
                )
            if prefix == BYTE_ORDER_MAGIC.to_bytes(4, "little"):
                order = "<"
            elif prefix == BYTE_ORDER_MAGIC.to_bytes(4, "big"):
                order = ">"
            else:
                raise MalformedPacket(
                    "pcapng", f"bad byte-order magic {prefix.hex()} in section header", offset + 8
                )
            interfaces = []
        block_type, total = struct.unpack(order + "II", head)
        if total < 12 or total % 4 or total > MAX_BLOCK:
            raise MalformedPacket("pcapng", f"bad block length {total}", offset + 4)
        body_len = total - 12
        rest = prefix + stream.read(total - 8 - len(prefix))
        if len(rest) < total - 8:
            raise MalformedPacket(
                "pcapng", f"truncated block: need {total} bytes, have {len(rest) + 8}", offset
            )
        (trailer,) = struct.unpack_from(order + "I", rest, body_len)
        if trailer != total:
            raise MalformedPacket(
                "pcapng", f"block length {total} does not match its trailer {trailer}",
                offset + total - 4,
            )
        body = rest[:body_len]
        body_offset = offset + 8
        if block_type == SHB_TYPE:
            pass  # byte order already taken; section length and options are not needed
        elif block_type == IDB_TYPE:
            interfaces.append(_interface(body, order, body_offset))
        elif block_type in (EPB_TYPE, PB_TYPE, SPB_TYPE):
            yield _packet(block_type, body, order, interfaces, body_offset)
        offset += total


def _options(body: bytes, start: int, order: str, base: int) -> Iterator[tuple[int, bytes]]:
    """(code, value) of each option from ``start`` in ``body`` up to opt_endofopt."""
    i = start
    opt_head = struct.Struct(order + "HH")
    while i + 4 <= len(body):
        code, length = opt_head.unpack_from(body, i)
        if code == OPT_ENDOFOPT:
            return
        end = i + 4 + length
        if end > len(body):
            raise MalformedPacket("pcapng", f"option {code} of {length} bytes overruns its block",
                                  base + i)
        yield code, body[i + 4 : end]
        i = end + (-length % 4)


def _interface(body: bytes, order: str, base: int) -> _Interface:
    if len(body) < 8:
        raise MalformedPacket("pcapng", "truncated interface description block", base)
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body, 0)
    iface = _Interface(linktype, snaplen)
    for code, value in _options(body, 8, order, base):
        if code == OPT_IF_TSRESOL and len(value) >= 1:
            exponent = value[0] & 0x7F
            iface.resolution = 2**exponent if value[0] & 0x80 else 10**exponent
            if iface.resolution > 10**18 or iface.resolution == 0:
                raise MalformedPacket("pcapng", f"timestamp resolution byte 0x{value[0]:02x} is "
                                      "beyond what tcpkit can scale", base)
        elif code == OPT_IF_TSOFFSET and len(value) >= 8:
            (iface.offset,) = struct.unpack(order + "q", value[:8])
    return iface


def _packet(
    block_type: int, body: bytes, order: str, interfaces: list[_Interface], base: int
) -> CapturedPacket:
    if block_type == SPB_TYPE:
        # RFC draft §4.4: no interface id (it is the first one) and no timestamp.
        if len(body) < 4 or not interfaces:
            raise MalformedPacket("pcapng", "simple packet block without an interface", base)
        (orig_len,) = struct.unpack_from(order + "I", body, 0)
        iface = interfaces[0]
        caplen = min(orig_len, len(body) - 4)
        if iface.snaplen:
            caplen = min(caplen, iface.snaplen)
        return CapturedPacket(0, body[4 : 4 + caplen], orig_len, iface.linktype)
    if block_type == EPB_TYPE:
        fixed = struct.Struct(order + "IIIII")
    else:
        fixed = struct.Struct(order + "HHIIII")
    if len(body) < fixed.size:
        raise MalformedPacket("pcapng", "truncated packet block", base)
    fields = fixed.unpack_from(body, 0)
    if block_type == EPB_TYPE:
        iface_id, ts_high, ts_low, caplen, orig_len = fields
    else:
        iface_id, _drops, ts_high, ts_low, caplen, orig_len = fields
    if iface_id >= len(interfaces):
        raise MalformedPacket(
            "pcapng", f"packet on interface {iface_id}, which no interface block described", base
        )
    if fixed.size + caplen > len(body):
        raise MalformedPacket(
            "pcapng", f"captured length {caplen} overruns its block", base + fixed.size - 8
        )
    iface = interfaces[iface_id]
    data = body[fixed.size : fixed.size + caplen]
    return CapturedPacket(iface.ts_ns((ts_high << 32) | ts_low), data, orig_len, iface.linktype)

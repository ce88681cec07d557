"""The virtio-net header a TUN device opened with ``IFF_VNET_HDR`` puts before each packet
(Linux include/uapi/linux/virtio_net.h, ``struct virtio_net_hdr``; virtio 1.2 §5.1.6).

It is how the kernel and a TUN reader share offloads:

* ``NEEDS_CSUM``: the transport checksum is partial. The field at ``csum_start +
  csum_offset`` holds only the pseudo-header sum and whoever takes the packet finishes
  it (the kernel for what we write, nobody for what we read: the kernel's own sender
  vouches for the data);
* ``DATA_VALID``: the checksum was already verified;
* ``gso_type`` and ``gso_size``: the packet is a super-segment of up to 64 KB that is
  cut into ``gso_size``-byte TCP segments (TSO, GSO) on the wire; ``hdr_len`` is the
  IP plus TCP header length that each segment repeats.

The fields are in the host's byte order (a legacy virtio device: TUN without
``TUNSETVNETLE``/``TUNSETVNETBE``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from tcpkit.wire.errors import need

HEADER_LEN: Final = 10

F_NEEDS_CSUM: Final = 1  # VIRTIO_NET_HDR_F_NEEDS_CSUM
F_DATA_VALID: Final = 2  # VIRTIO_NET_HDR_F_DATA_VALID

GSO_NONE: Final = 0  # VIRTIO_NET_HDR_GSO_NONE
GSO_TCPV4: Final = 1
GSO_UDP: Final = 3
GSO_TCPV6: Final = 4
GSO_ECN: Final = 0x80  # the segments keep the ECN bits (TUN_F_TSO_ECN)

_HEAD = struct.Struct("=BBHHHH")  # host byte order: a legacy (pre-1.0) virtio header

TCP_CHECKSUM_OFFSET: Final = 16  # offsetof(struct tcphdr, check)


@dataclass(frozen=True, slots=True)
class VirtioNetHeader:
    """One ``struct virtio_net_hdr``."""

    flags: int = 0
    gso_type: int = GSO_NONE
    hdr_len: int = 0
    gso_size: int = 0
    csum_start: int = 0
    csum_offset: int = 0

    def build(self) -> bytes:
        return _HEAD.pack(self.flags, self.gso_type, self.hdr_len, self.gso_size,
                          self.csum_start, self.csum_offset)

    @property
    def checksum_trusted(self) -> bool:
        """Need the reader not verify the transport checksum? (NEEDS_CSUM: it is
        partial, DATA_VALID: already checked.)"""
        return bool(self.flags & (F_NEEDS_CSUM | F_DATA_VALID))


def parse_virtio_net(data: bytes | bytearray | memoryview) -> VirtioNetHeader:
    """The header at the start of ``data`` (MalformedPacket if it is shorter)."""
    need("virtio_net", len(data), HEADER_LEN, "virtio_net_hdr", 0)
    return VirtioNetHeader(*_HEAD.unpack_from(data, 0))


NO_OFFLOAD: Final = VirtioNetHeader().build()  # a whole packet with its checksum done


def tcp_offload(ip_header_len: int, tcp_header_len: int, gso_size: int,
                gso_type: int = GSO_TCPV4) -> bytes:
    """The header for a TCP packet whose checksum the kernel finishes, cut into
    ``gso_size``-byte segments when ``gso_size`` is non-zero (Linux
    ``virtio_net_hdr_from_skb`` writes the same for a CHECKSUM_PARTIAL GSO skb)."""
    return _HEAD.pack(F_NEEDS_CSUM, gso_type if gso_size else GSO_NONE,
                      ip_header_len + tcp_header_len, gso_size, ip_header_len,
                      TCP_CHECKSUM_OFFSET)

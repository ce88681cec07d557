"""Generic segmentation offload done in software: a TCP super-segment cut into the
segments a device without TSO sends (Linux ``skb_gso_segment``: ``inet_gso_segment``
for the IPv4 headers, ``tcp_gso_segment`` for the TCP ones).

Linux's TCP builds GSO packets for every device and cuts them at the device's door
when the device cannot (``validate_xmit_skb``); a plain TUN link does the same, so the
engine handles one 64 KB packet where it would handle 45 segments. Each segment gets:

* the IPv4 header with its total length, the identification of the first plus the
  segment's index (``inet_gso_segment`` without ``SKB_GSO_TCP_FIXEDID``) and its checksum;
* the TCP header with its sequence number, FIN and PSH only on the last segment, CWR
  only on the first (``tcp_gso_segment``), and its full checksum.
"""

from __future__ import annotations

import struct
from typing import Final

from tcpkit.wire.checksum import finish, pseudo_header, word_sum
from tcpkit.wire.ipv4 import PROTO_TCP
from tcpkit.wire.tcp import CWR, FIN, PSH

_IP_LEN_ID: Final = struct.Struct("!HH")  # total length, identification (offset 2)
_SEQ: Final = struct.Struct("!I")  # sequence number (TCP offset 4)
_CSUM: Final = struct.Struct("!H")


def segment_tcp(headers: bytes, payload: bytes | memoryview, tcp_header_len: int,
                gso_size: int) -> list[tuple[bytes, bytes | memoryview]]:
    """Cut one IPv4 TCP packet (``headers``: its IP and TCP headers, the TCP checksum
    field as the offload path leaves it) into segments of ``gso_size`` payload bytes
    (at least one segment: a lone segment gets its checksum finished the same way).
    Returns each segment as its headers and a view of its payload, for ``writev``."""
    ihl = len(headers) - tcp_header_len
    ip_head = bytearray(headers[:ihl])
    tcp_head = bytearray(headers[ihl:])
    _, first_id = _IP_LEN_ID.unpack_from(ip_head, 2)
    (first_seq,) = _SEQ.unpack_from(tcp_head, 4)
    flags = tcp_head[13]
    pseudo = pseudo_header(bytes(ip_head[12:16]), bytes(ip_head[16:20]), PROTO_TCP)
    view = payload if isinstance(payload, memoryview) else memoryview(payload)
    total = len(view)
    out: list[tuple[bytes, bytes | memoryview]] = []
    for index, offset in enumerate(range(0, max(total, 1), gso_size)):
        piece = view[offset : offset + gso_size]
        last = offset + gso_size >= total
        _IP_LEN_ID.pack_into(ip_head, 2, ihl + tcp_header_len + len(piece),
                             (first_id + index) & 0xFFFF)
        ip_head[10:12] = b"\x00\x00"
        _CSUM.pack_into(ip_head, 10, finish(word_sum(ip_head)))
        _SEQ.pack_into(tcp_head, 4, (first_seq + offset) & 0xFFFFFFFF)
        tcp_head[13] = flags & ~((0 if last else FIN | PSH) | (CWR if index else 0))
        tcp_head[16:18] = b"\x00\x00"
        csum = finish(pseudo + tcp_header_len + len(piece) + word_sum(tcp_head)
                      + word_sum(piece))
        _CSUM.pack_into(tcp_head, 16, csum)
        out.append((bytes(ip_head) + bytes(tcp_head), piece))
    return out

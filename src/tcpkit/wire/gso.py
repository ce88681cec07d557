"""Generic segmentation and receive offloads done in software. GSO: a TCP super-segment
cut into the segments a device without TSO sends (Linux ``skb_gso_segment``: ``inet_gso_segment``
for the IPv4 headers, ``tcp_gso_segment`` for the TCP ones).

Linux's TCP builds GSO packets for every device and cuts them at the device's door
when the device cannot (``validate_xmit_skb``); a plain TUN link does the same, so the
engine handles one 64 KB packet where it would handle 45 segments. Each segment gets:

* the IPv4 header with its total length, the identification of the first plus the
  segment's index (``inet_gso_segment`` without ``SKB_GSO_TCP_FIXEDID``) and its checksum;
* the TCP header with its sequence number, FIN and PSH only on the last segment, CWR
  only on the first (``tcp_gso_segment``), and its full checksum.

GRO (:func:`coalesce_tcp`) is the way back: segments read in one batch merged into one,
as a NIC driver's ``napi_gro_receive`` does before TCP sees them.
"""

from __future__ import annotations

import struct
from typing import Final

from tcpkit.wire.checksum import finish, internet_checksum, pseudo_header, word_sum
from tcpkit.wire.ipv4 import PROTO_TCP
from tcpkit.wire.tcp import ACK, CWR, FIN, PSH

_IP_LEN_ID: Final = struct.Struct("!HH")  # total length, identification (offset 2)
_SEQ: Final = struct.Struct("!I")  # sequence number (TCP offset 4)
_CSUM: Final = struct.Struct("!H")


def segment_tcp(headers: bytes, payload: bytes | memoryview, tcp_header_len: int,
                gso_size: int) -> list[tuple[bytes, bytes | memoryview]]:
    """Cut one IPv4 TCP packet (``headers``: its IP and TCP headers, the TCP checksum
    field as the offload path leaves it) into segments of ``gso_size`` payload bytes
    (at least one segment: a lone segment gets its checksum finished the same way).
    Returns each segment as its headers and a view of its payload, for ``writev``.

    The headers are summed once, with the fields that change from segment to segment
    (IP total length and identification, TCP sequence number and flags) at zero; each
    segment adds its own values, as a number is congruent to the sum of its 16-bit
    words modulo 0xFFFF. Only the payload is summed per segment."""
    ihl = len(headers) - tcp_header_len
    ip_head = bytearray(headers[:ihl])
    tcp_head = bytearray(headers[ihl:])
    _, first_id = _IP_LEN_ID.unpack_from(ip_head, 2)
    (first_seq,) = _SEQ.unpack_from(tcp_head, 4)
    flags = tcp_head[13]
    pseudo = pseudo_header(bytes(ip_head[12:16]), bytes(ip_head[16:20]), PROTO_TCP)
    ip_head[2:6] = b"\x00\x00\x00\x00"
    ip_head[10:12] = b"\x00\x00"
    ip_sum = word_sum(ip_head)
    tcp_head[4:8] = b"\x00\x00\x00\x00"
    tcp_head[13] = 0
    tcp_head[16:18] = b"\x00\x00"
    tcp_sum = pseudo + tcp_header_len + word_sum(tcp_head)
    view = payload if isinstance(payload, memoryview) else memoryview(payload)
    total = len(view)
    middle = flags & ~(FIN | PSH)
    out: list[tuple[bytes, bytes | memoryview]] = []
    for index, offset in enumerate(range(0, max(total, 1), gso_size)):
        piece = view[offset : offset + gso_size]
        length = len(piece)
        ip_len = ihl + tcp_header_len + length
        ident = (first_id + index) & 0xFFFF
        _IP_LEN_ID.pack_into(ip_head, 2, ip_len, ident)
        _CSUM.pack_into(ip_head, 10, finish(ip_sum + ip_len + ident))
        seq = (first_seq + offset) & 0xFFFFFFFF
        seg_flags = (flags if offset + gso_size >= total else middle) & ~(CWR if index else 0)
        _SEQ.pack_into(tcp_head, 4, seq)
        tcp_head[13] = seg_flags
        _CSUM.pack_into(tcp_head, 16, finish(tcp_sum + length + seq + seg_flags
                                             + word_sum(piece)))
        out.append((bytes(ip_head) + bytes(tcp_head), piece))
    return out


# -- receive: generic receive offload ------------------------------------------------------

_MERGEABLE_FLAGS: Final = ACK | PSH  # any other flag ends a run and is never merged
_MAX_GRO: Final = 0xFFFF  # an IPv4 datagram's limit, as Linux's GRO_LEGACY_MAX_SIZE


def coalesce_tcp(packets: list[bytes]) -> list[tuple[bytes, int, bool]]:
    """Linux's GRO for TCP over IPv4 (``inet_gro_receive``, ``tcp_gro_receive``) in
    software: consecutive in-order segments of one connection, read in one batch, become
    one super-segment, so TCP handles a batch at once rather than packet by packet.

    Returns ``(packet, gso_size, checksum_verified)`` per packet to deliver, in order.
    Segments are merged only when Linux would: IPv4 without options or fragmentation,
    checksums right (each is verified here), only ACK (and PSH on the last) set, the
    same addresses, ports, TOS, TTL, DF, acknowledgment, window and options byte for
    byte, each starting where the last ended, all of the first one's size but a
    shorter or PSH last one, 64 KB in all. Anything else passes as it came."""
    out: list[tuple[bytes, int, bool]] = []
    run: list[bytes] = []  # the segments being merged, headers included
    key = b""
    size = next_seq = total = 0
    for packet in packets:
        fields = _mergeable(packet)
        if fields is None:
            _flush(run, size, out)
            run = []
            out.append((packet, 0, False))
            continue
        this_key, seq, length, psh = fields
        if (run and this_key == key and seq == next_seq and length <= size
                and total + length <= _MAX_GRO - 80):  # room for the largest headers
            run.append(packet)
            total += length
        else:
            _flush(run, size, out)
            run, key, size, total = [packet], this_key, length, length
        next_seq = (seq + length) & 0xFFFFFFFF
        if psh or length < size:  # the end of a write: Linux flushes here
            _flush(run, size, out)
            run = []
    _flush(run, size, out)
    return out


def _mergeable(packet: bytes) -> tuple[bytes, int, int, bool] | None:
    """(what must match, seq, payload length, PSH) of a segment GRO may merge."""
    n = len(packet)
    if n < 40 or packet[0] != 0x45 or packet[9] != PROTO_TCP:
        return None
    thl = (packet[32] >> 4) << 2
    flags = packet[33]
    length = n - 20 - thl
    # First what costs nothing: a bulk sender reads mostly pure ACKs, never merged.
    if thl < 20 or length <= 0 or flags & ~_MERGEABLE_FLAGS or not flags & ACK:
        return None
    total, frag = _IP_LEN_ID.unpack_from(packet, 2)[0], packet[6] & 0x3F | packet[7]
    if total != n or frag or internet_checksum(memoryview(packet)[:20]):
        return None  # padded, a fragment, or a bad header: the slow path says which
    segment = memoryview(packet)[20:]
    pseudo = pseudo_header(packet[12:16], packet[16:20], PROTO_TCP)
    if internet_checksum(segment, pseudo + n - 20):
        return None
    # TOS, DF, TTL, protocol, addresses; ports; ack, offset, window and every option.
    key = packet[1:2] + packet[6:7] + packet[8:10] + packet[12:24] + packet[28:33] \
        + packet[34:36] + packet[40:20 + thl]
    (seq,) = _SEQ.unpack_from(packet, 24)
    return key, seq, length, bool(flags & PSH)


def _flush(run: list[bytes], size: int, out: list[tuple[bytes, int, bool]]) -> None:
    if not run:
        return
    if len(run) == 1:
        out.append((run[0], 0, True))
        return
    first, last = run[0], run[-1]
    thl = (first[32] >> 4) << 2
    head = bytearray(first[: 20 + thl])
    payloads = [memoryview(p)[20 + ((p[32] >> 4) << 2):] for p in run]
    total = len(head) + sum(len(p) for p in payloads)
    _IP_LEN_ID.pack_into(head, 2, total, _IP_LEN_ID.unpack_from(first, 2)[1])
    head[10:12] = b"\x00\x00"
    _CSUM.pack_into(head, 10, internet_checksum(head[:20]))
    head[33] |= last[33] & PSH
    # The TCP checksum field is now stale, as after Linux's GRO: each segment's was
    # verified above, and the merged packet goes up as checksum-verified.
    out.append((bytes(head) + b"".join(payloads), size, True))

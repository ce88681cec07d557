"""IPv4 fragments: cutting a datagram to an MTU (RFC 791 §3.2, Linux ``ip_do_fragment``)
and reassembly (RFC 791 §3.2, RFC 815) with Linux's limits.

Fragments are keyed by (source, destination, protocol, identification). A datagram is
complete when the pieces cover 0..end with no hole and the last piece (MF clear) is
there. Overlapping fragments make Linux drop the whole datagram since 4.19 (RFC 5722's
rule for IPv6, applied to IPv4 too), and so does tcpkit. A datagram not complete within
``net.ipv4.ipfrag_time`` seconds is dropped (``IpReasmTimeout``); the bytes held in all
queues are bounded by ``ipfrag_high_thresh``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tcpkit.wire.ipv4 import FLAG_DF, FLAG_MF, IPv4Header

FragKey = tuple[bytes, bytes, int, int]
MAX_DATAGRAM = 65535
_OPTION_COPIED = 0x80  # RFC 791: this option goes into every fragment


def _copied_options(options: bytes) -> bytes:
    """The options a second or later fragment carries: those with the copied flag
    (RFC 791 §3.1; Linux ``ip_options_fragment``)."""
    kept = bytearray()
    i = 0
    while i < len(options):
        kind = options[i]
        if kind == 0:  # end of the option list
            break
        if kind == 1:  # no-operation
            i += 1
            continue
        length = options[i + 1] if i + 1 < len(options) else 0
        if length < 2:
            break  # malformed: what follows cannot be read
        if kind & _OPTION_COPIED:
            kept += options[i:i + length]
        i += length
    return bytes(kept)


def fragment(header: IPv4Header, payload: bytes, mtu: int) -> list[bytes]:
    """``payload`` cut into datagrams of at most ``mtu`` bytes, each but the last
    carrying a multiple of 8 payload bytes (RFC 791 §3.2). A datagram that is itself a
    fragment is cut further: offsets add up and the last piece keeps its MF flag."""
    first_hlen = 20 + (len(header.options) + 3) // 4 * 4
    later_options = _copied_options(header.options)
    later_hlen = 20 + (len(later_options) + 3) // 4 * 4
    pieces = []
    start = 0
    while start < len(payload):
        hlen = first_hlen if start == 0 else later_hlen
        room = (mtu - hlen) & ~7
        if room <= 0:
            raise ValueError(f"an MTU of {mtu} leaves no room for a fragment's payload")
        chunk = payload[start:start + room]
        last = start + len(chunk) == len(payload)
        flags = header.flags & FLAG_MF if last else header.flags | FLAG_MF
        piece = replace(header, flags=flags & ~FLAG_DF,
                        fragment_offset=header.fragment_offset + start,
                        options=header.options if start == 0 else later_options,
                        total_length=None, checksum=None)
        pieces.append(piece.packet(chunk))
        start += len(chunk)
    return pieces


@dataclass(slots=True)
class _Queue:
    first: IPv4Header | None = None
    pieces: dict[int, bytes] = field(default_factory=dict)
    total: int | None = None
    seen_end: int = 0  # the furthest byte any fragment reached
    size: int = 0
    expires: float = 0.0


class Reassembler:
    """Fragment queues of one host."""

    __slots__ = ("_queues", "held", "limit", "timeout")

    def __init__(self, timeout: float, limit: int) -> None:
        self._queues: dict[FragKey, _Queue] = {}
        self.timeout = timeout
        self.limit = limit
        self.held = 0

    def add(self, header: IPv4Header, payload: bytes,
            now: float) -> tuple[IPv4Header, bytes] | str | None:
        """Add one fragment. Returns the whole datagram (header of the first fragment,
        reassembled payload) when complete, a reason string when the datagram had to
        be dropped, or None while pieces are missing."""
        key = (header.src_packed, header.dst_packed, header.protocol, header.identification)
        queue = self._queues.get(key)
        if queue is None:
            if self.held + len(payload) > self.limit:
                return "fragment memory full (ipfrag_high_thresh)"
            queue = self._queues[key] = _Queue(expires=now + self.timeout)
        offset = header.fragment_offset
        end = offset + len(payload)
        more = header.flags & 1
        if end > MAX_DATAGRAM:
            self._drop(key)
            return "malformed fragment"
        if more and end % 8:
            # Linux ip_frag_queue: a fragment that more follow is cut to a multiple of
            # 8 bytes (RFC 791 says it must be one), and dropped with its datagram if
            # nothing is left.
            end &= ~7
            payload = payload[:end - offset]
            if end <= offset:
                self._drop(key)
                return "empty fragment"
        if not more:
            if end < queue.seen_end or (queue.total is not None and queue.total != end):
                self._drop(key)
                return "conflicting last fragments"
            queue.total = end
        elif queue.total is not None and end > queue.total:
            self._drop(key)
            return "fragment beyond the last one"
        queue.seen_end = max(queue.seen_end, end)
        for start, data in queue.pieces.items():
            if start < end and offset < start + len(data):
                if start == offset and data == payload:
                    return None  # an exact duplicate changes nothing
                self._drop(key)
                return "overlapping fragments"
        queue.pieces[offset] = payload
        queue.size += len(payload)
        self.held += len(payload)
        if offset == 0:
            queue.first = header
        if queue.total is None or queue.first is None or queue.size != queue.total:
            return None
        self._drop(key)
        whole = b"".join(queue.pieces[k] for k in sorted(queue.pieces))
        # Linux ip_frag_reasm rewrites the first fragment's header to describe the
        # whole datagram: no MF, offset 0, its real length, a fresh checksum.
        whole_header = replace(queue.first, flags=queue.first.flags & ~FLAG_MF,
                               fragment_offset=0, total_length=None, checksum=None)
        return whole_header, whole

    def _drop(self, key: FragKey) -> None:
        queue = self._queues.pop(key, None)
        if queue is not None:
            self.held -= queue.size

    def expire(self, now: float) -> int:
        """Drop datagrams whose time ran out; returns how many."""
        old = [k for k, q in self._queues.items() if q.expires <= now]
        for key in old:
            self._drop(key)
        return len(old)

    def next_deadline(self) -> float | None:
        return min((q.expires for q in self._queues.values()), default=None)

    def __len__(self) -> int:
        return len(self._queues)

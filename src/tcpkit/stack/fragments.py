"""IPv4 fragment reassembly (RFC 791 §3.2, RFC 815) with Linux's limits.

Fragments are keyed by (source, destination, protocol, identification). A datagram is
complete when the pieces cover 0..end with no hole and the last piece (MF clear) is
there. Overlapping fragments make Linux drop the whole datagram since 4.19 (RFC 5722's
rule for IPv6, applied to IPv4 too), and so does tcpkit. A datagram not complete within
``net.ipv4.ipfrag_time`` seconds is dropped (``IpReasmTimeout``); the bytes held in all
queues are bounded by ``ipfrag_high_thresh``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tcpkit.wire.ipv4 import IPv4Header

FragKey = tuple[bytes, bytes, int, int]
MAX_DATAGRAM = 65535


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
        return queue.first, whole

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

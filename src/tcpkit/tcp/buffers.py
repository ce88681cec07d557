"""The send buffer, the receive queue and the out-of-order store.

All three index data by unwrapped sequence number (see :mod:`tcpkit.tcp.seq`) and keep
it in chunks: appending, acknowledging and reading move references and slice memory
once, never per byte. What the receive side holds cannot change (bytes, or views of
bytes: :mod:`tcpkit.wire.frozen`), so it is handed out without a copy.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from tcpkit.wire.frozen import is_frozen_view

_COALESCE = 16384  # small writes are gathered into one chunk up to this size


class SendBuffer:
    """Bytes the application wrote that are not yet acknowledged (RFC 9293 §3.8.6.3).

    Holds the data from ``start`` (the sequence number of the first unacknowledged data
    byte) to ``end``. :meth:`slice` copies out what a segment carries; :meth:`release`
    drops what the peer acknowledged.
    """

    __slots__ = ("_borrowed", "_chunks", "_first", "_hint", "_starts", "end", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = start
        self._chunks: list[bytes | bytearray | memoryview] = []
        self._starts: list[int] = []
        self._borrowed = False  # the last chunk is a view of the caller's mutable buffer
        self._first = 0
        self._hint = 0  # chunk of the last slice: segments are cut in order

    def __len__(self) -> int:
        return self.end - self.start

    def append(self, data: bytes | bytearray | memoryview) -> None:
        """Take ``data``; a large write is not copied yet. Bytes, or a read-only view of
        bytes (what ``sendall`` passes), are immutable and kept as they are; any other
        buffer is borrowed until :meth:`keep` copies the part the write queue took, so a
        1 MiB write of which 200 KB fit costs a 200 KB copy, not a megabyte."""
        if isinstance(data, memoryview) and (data.format != "B" or data.ndim != 1):
            data = data.cast("B")  # lengths below count bytes, not items
        if not data:
            return
        chunks = self._chunks
        last = chunks[-1] if len(chunks) > self._first else None
        if isinstance(last, bytearray) and len(last) + len(data) <= _COALESCE:
            last += data
        elif len(data) < _COALESCE:
            chunks.append(bytearray(data))
            self._starts.append(self.end)
        else:
            if isinstance(data, memoryview):
                if not is_frozen_view(data):
                    self._borrowed = True  # the caller may change it once the call returns
            elif not isinstance(data, bytes):
                data = memoryview(data).cast("B")
                self._borrowed = True
            chunks.append(data)
            self._starts.append(self.end)
        self.end += len(data)

    def keep(self, end: int) -> None:
        """End the write that :meth:`append` began: forget what came after sequence
        number ``end`` (the part the send buffer had no room for; nothing past ``end``
        was sent) and copy what is left of a borrowed buffer."""
        if end < self.end:
            self._truncate(end)
        if self._borrowed:
            self._borrowed = False
            chunks = self._chunks
            if len(chunks) > self._first:
                chunks[-1] = bytes(chunks[-1])

    def _truncate(self, end: int) -> None:
        chunks, starts = self._chunks, self._starts
        while len(chunks) > self._first and starts[-1] >= end:
            chunks.pop()
            starts.pop()
            self._borrowed = False
        if len(chunks) > self._first:
            keep = end - starts[-1]
            last = chunks[-1]
            if isinstance(last, bytearray):
                del last[keep:]
            else:
                chunks[-1] = last[:keep]
        self.end = end
        self._hint = 0

    def slice(self, seq: int, length: int) -> bytes:
        """The ``length`` bytes starting at sequence number ``seq`` (clipped at the end)."""
        end = min(seq + length, self.end)
        if seq < self.start or seq >= end:
            return b""
        starts, chunks = self._starts, self._chunks
        i = self._chunk_at(seq)
        chunk_start = starts[i]
        chunk = chunks[i]
        offset = seq - chunk_start
        if chunk_start + len(chunk) >= end:
            if isinstance(chunk, bytes):
                return chunk[offset : end - chunk_start]
            if isinstance(chunk, bytearray):
                chunk = memoryview(chunk)
            return bytes(chunk[offset : end - chunk_start])  # one copy
        parts = [chunk[offset:]]
        pos = chunk_start + len(chunk)
        while pos < end:
            i += 1
            chunk = chunks[i]
            parts.append(chunk[: end - pos])
            pos += len(chunk)
        return b"".join(parts)

    def _chunk_at(self, seq: int) -> int:
        """The index of the chunk holding ``seq`` (start <= seq < end): the last one
        looked at, as segments are cut in order, else found by bisection."""
        starts, chunks = self._starts, self._chunks
        i = self._hint
        if not (self._first <= i < len(starts) and starts[i] <= seq < starts[i] + len(chunks[i])):
            i = self._hint = bisect_right(starts, seq, self._first) - 1
        return i

    def view(self, seq: int, length: int) -> bytes | memoryview:
        """As :meth:`slice`, without the copy when the bytes lie in one immutable chunk:
        for a device that takes the segment by reference (a 64 KB GSO packet written
        to TUN, maybe after the call that sent it returned). Never a view of a bytearray
        (the next small write may grow it) nor of a buffer still borrowed."""
        if self.start <= seq and seq + length <= self.end:
            chunks = self._chunks
            i = self._chunk_at(seq)
            chunk = chunks[i]
            offset = seq - self._starts[i]
            if offset + length <= len(chunk):
                if isinstance(chunk, bytes):
                    return memoryview(chunk)[offset : offset + length]
                if isinstance(chunk, memoryview) and not (self._borrowed
                                                          and i == len(chunks) - 1):
                    # Kept views are of bytes; a borrowed one is the caller's buffer
                    # until keep() copies it, and the device may write it later.
                    return chunk[offset : offset + length]
        return self.slice(seq, length)

    def release(self, seq: int) -> None:
        """Forget everything before sequence number ``seq`` (it was acknowledged)."""
        if seq <= self.start:
            return
        seq = min(seq, self.end)
        self.start = seq
        starts, chunks = self._starts, self._chunks
        first = self._first
        while first < len(chunks) and starts[first] + len(chunks[first]) <= seq:
            chunks[first] = b""
            first += 1
        self._first = first
        if first == len(chunks):  # all acknowledged: an idle connection holds no slots
            chunks.clear()
            starts.clear()
            self._first = self._hint = 0
        elif first > 64 and first * 2 > len(chunks):
            del chunks[:first], starts[:first]
            self._first = 0


class ReceiveQueue:
    """In-order bytes waiting for the application (Linux ``sk_receive_queue``)."""

    __slots__ = ("_chunks", "_head", "length")

    def __init__(self) -> None:
        self._chunks: list[bytes | memoryview] = []  # a list: see TCB.rtx
        self._head = 0  # bytes of the first chunk already read
        self.length = 0

    def __len__(self) -> int:
        return self.length

    def append(self, data: bytes | memoryview) -> None:
        if data:
            self._chunks.append(data)
            self.length += len(data)

    def read(self, size: int, *, peek: bool = False) -> bytes:
        """Up to ``size`` bytes from the front; with ``peek`` they stay queued."""
        return b"".join(self.take(size, peek=peek))

    def take(self, size: int, *, peek: bool = False) -> list[bytes | memoryview]:
        """Up to ``size`` bytes from the front as the pieces they are queued in, not
        copied: a chunk read whole is itself, a part of one a view. The chunks are
        immutable (bytes, or views of bytes), so the pieces may outlive the queue's hold
        on them; ``recv_into`` copies them once, straight into the caller's buffer."""
        size = min(size, self.length)
        if size <= 0:
            return []
        chunks, head = self._chunks, self._head
        pieces: list[bytes | memoryview] = []
        need = size
        for chunk in chunks:
            left = len(chunk) - head
            if head or left > need:
                chunk = memoryview(chunk)[head : head + need]
                left = len(chunk)
            pieces.append(chunk)
            need -= left
            head = 0
            if not need:
                break
        if not peek:
            self._advance(size)
        return pieces

    def discard(self, size: int) -> None:
        """Drop ``size`` bytes from the front without copying them."""
        self._advance(min(size, self.length))

    def _advance(self, size: int) -> None:
        self.length -= size
        chunks = self._chunks
        head = self._head + size
        done = 0
        for chunk in chunks:
            if head < len(chunk):
                break
            head -= len(chunk)
            done += 1
        del chunks[:done]
        self._head = head

    def clear(self) -> None:
        self._chunks.clear()
        self._head = 0
        self.length = 0


class OutOfOrderQueue:
    """Data that arrived beyond RCV.NXT, kept until the gap before it fills.

    Ranges never overlap: bytes already held win over a new copy of the same sequence
    numbers (they are the same bytes from an honest peer, and keeping the first ones
    means one copy). Bounded by the receive window, which the caller checks first.
    """

    __slots__ = ("_data", "_starts", "size")

    def __init__(self) -> None:
        # The lists exist only while something is held: most connections never see a
        # hole, and two empty lists would be 112 of an idle connection's bytes.
        self._starts: list[int] | tuple[()] = ()
        self._data: list[bytes | memoryview] | tuple[()] = ()
        self.size = 0

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __len__(self) -> int:
        return len(self._starts)

    def ranges(self) -> list[tuple[int, int]]:
        """The held ``(start, end)`` ranges in order, adjacent ones merged."""
        merged: list[tuple[int, int]] = []
        for start, data in zip(self._starts, self._data, strict=True):
            end = start + len(data)
            if merged and merged[-1][1] == start:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged

    def add(self, start: int, data: bytes | memoryview) -> tuple[int, int] | None:
        """Store what is new in ``data``; returns the (start, end) of bytes that were
        already held (for a D-SACK, RFC 2883 §4), or None if all of it was new."""
        end = start + len(data)
        starts, held = self._starts, self._data
        if not isinstance(starts, list) or not isinstance(held, list):
            starts, held = self._starts, self._data = [], []
        i = bisect_right(starts, start)
        duplicate: tuple[int, int] | None = None
        pieces: list[tuple[int, bytes | memoryview]] = []
        pos = start
        j = max(i - 1, 0)
        while j < len(starts) and starts[j] < end:
            held_start = starts[j]
            held_end = held_start + len(held[j])
            if held_end > pos:
                if held_start > pos:
                    pieces.append((pos, data[pos - start : held_start - start]))
                dup_start, dup_end = max(pos, held_start), min(end, held_end)
                if dup_start < dup_end and duplicate is None:
                    duplicate = (dup_start, dup_end)
                pos = max(pos, held_end)
            j += 1
        if pos < end:
            pieces.append((pos, data[pos - start :]))
        for piece_start, piece in pieces:
            k = bisect_right(starts, piece_start)
            starts.insert(k, piece_start)
            held.insert(k, piece)
            self.size += len(piece)
        return duplicate

    def pop_ready(self, rcv_nxt: int) -> list[tuple[int, bytes | memoryview]]:
        """Remove and return the pieces that start at or before ``rcv_nxt``, in order,
        as long as they are contiguous from it (the caller trims what it already has)."""
        out: list[tuple[int, bytes | memoryview]] = []
        starts, held = self._starts, self._data
        if not isinstance(starts, list) or not isinstance(held, list):
            return out
        while starts and starts[0] <= rcv_nxt:
            start = starts.pop(0)
            data = held.pop(0)
            self.size -= len(data)
            if start + len(data) > rcv_nxt:
                out.append((start, data))
                rcv_nxt = start + len(data)
        if not starts:
            self.clear()
        return out

    def last_start(self) -> int:
        """Where the highest piece held starts (there must be one)."""
        starts = self._starts
        assert isinstance(starts, list), "nothing held"
        return starts[-1]

    def drop_last(self) -> None:
        """Forget the highest piece (Linux ``tcp_prune_ofo_queue``: memory is short)."""
        starts, held = self._starts, self._data
        if isinstance(starts, list) and isinstance(held, list):
            starts.pop()
            self.size -= len(held.pop())
            if not starts:
                self.clear()

    def clear(self) -> None:
        self._starts = self._data = ()
        self.size = 0


# What a received segment costs the receive buffer, measured on Linux 6.18 over veth and
# loopback with ``ss -tm`` (skmem r): an skb holding L payload bytes is charged
# L + 832 (sk_buff, shared info and head); a segment merged into the queue's last skb
# (tcp_try_coalesce) adds only its L bytes, up to MAX_SKB_FRAGS (17) segments per skb.
SKB_OVERHEAD = 832
MAX_SKB_FRAGS = 17
# A write-queue skb (tcp_stream_alloc_skb: a small head, the data in page frags) costs
# the send buffer the same 832 bytes plus its payload; a TSO split makes one more.
SEND_SKB_OVERHEAD = SKB_OVERHEAD

# The sizes behind that figure (include/linux/skbuff.h, net/core/skbuff.c, x86-64):
SHINFO = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
SK_BUFF = 256  # SKB_DATA_ALIGN(sizeof(struct sk_buff))
SMALL_HEAD = 576  # SKB_SMALL_HEAD_CACHE_SIZE: SKB_HEAD_ALIGN(MAX_TCP_HEADER) + 64
PAGE = 4096
COLLAPSE_CHUNK = PAGE - SHINFO  # SKB_MAX_ORDER(0, 0): what tcp_collapse copies per skb


def linear_truesize(size: int) -> int:
    """The truesize of an skb whose ``size`` bytes sit in its kmalloc'ed head
    (``__alloc_skb``: ``kmalloc_reserve`` takes the small-head cache or the next
    kmalloc bucket, a power of two; ``SKB_TRUESIZE``): 832 up to 256 bytes, 1280 up to
    704, 2304 up to 1728, 4352 up to 3776."""
    head = ((size + 63) & ~63) + SHINFO
    if head <= SMALL_HEAD:
        return SMALL_HEAD + SK_BUFF
    return (1 << (head - 1).bit_length()) + SK_BUFF


class ReceiveMemory:
    """The receive buffer's accounting (Linux ``sk_rmem_alloc``): the in-order queue as
    skbs with their truesize, and what the out-of-order queue holds. Memory comes back
    when the application has read a whole skb.

    When a segment may join the last skb: Linux refuses to merge into an skb whose
    pages are shared (``skb_try_coalesce``: ``skb_cloned(to)``), and over veth or
    loopback the receiver shares the sender's pages until the sender frees its copy,
    on our ACK. So a segment merges only if the ACK covering the last skb left at
    least ``settle`` (an RTT) before it arrived: segments 10 ms apart merge, a burst
    does not (both measured with ``ss -tm`` on Linux 6.18). Out-of-order segments are
    never acknowledged cumulatively, so they never merge.
    """

    __slots__ = ("_head", "_skbs", "ofo", "queued")

    def __init__(self) -> None:
        # [end_seq, truesize, segments, time the ACK covering it left (-1: not yet)]
        self._skbs: list[list[float]] = []
        self._head = 0  # where the first skb starts
        self.queued = 0  # truesize of the in-order queue
        self.ofo = 0  # truesize of the out-of-order queue

    @property
    def total(self) -> int:
        return self.queued + self.ofo

    def charge(self, end: int, length: int, now: float, settle: float,
               truesize: int = 0) -> None:
        """A segment of ``length`` bytes ending at ``end`` joined the in-order queue.
        ``truesize``: what the receiving device charged for it (a linear skb, which
        never merges), or 0 for veth's paged skbs."""
        skbs = self._skbs
        if not skbs:
            self._head = end - length
        elif not truesize:
            last = skbs[-1]
            if last[2] < MAX_SKB_FRAGS and 0 <= last[3] <= now - settle:
                last[0] = end
                last[1] += length
                last[2] += 1
                last[3] = -1.0
                self.queued += length
                return
        if truesize:
            skbs.append([end, truesize, MAX_SKB_FRAGS, -1.0])
        else:
            truesize = length + SKB_OVERHEAD
            skbs.append([end, truesize, 1, -1.0])
        self.queued += truesize

    def acked(self, ack: int, now: float) -> None:
        """An ACK up to ``ack`` left now: the sender will free its copy of the last skb."""
        skbs = self._skbs
        if skbs and skbs[-1][3] < 0 and skbs[-1][0] <= ack:
            skbs[-1][3] = now

    def release(self, copied_seq: int) -> None:
        """The application read up to ``copied_seq``: free the skbs it emptied."""
        skbs = self._skbs
        done = 0
        for skb in skbs:
            if skb[0] > copied_seq:
                break
            self.queued -= int(skb[1])
            done += 1
        if done:
            self._head = int(skbs[done - 1][0])
            del skbs[:done]

    def collapse(self, copied_seq: int, bloated: Callable[[int, int], bool]) -> None:
        """Linux ``tcp_collapse`` on the receive queue (memory is short): from the first
        skb that is ``bloated(truesize, length)`` or partly read, everything still
        unread is copied into compact skbs of up to a page each."""
        skbs = self._skbs
        start = self._head
        i = 0
        while i < len(skbs):
            end = int(skbs[i][0])
            if start < copied_seq or bloated(int(skbs[i][1]), end - start):
                break
            start = end
            i += 1
        if i == len(skbs):
            return
        start = max(start, copied_seq)
        end = int(skbs[-1][0])
        self.queued -= sum(int(skb[1]) for skb in skbs[i:])
        del skbs[i:]
        if not skbs:
            self._head = start
        while start < end:
            size = min(COLLAPSE_CHUNK, end - start)
            start += size
            truesize = linear_truesize(size)
            skbs.append([start, truesize, MAX_SKB_FRAGS, -1.0])  # full: nothing merges
            self.queued += truesize

    def clear(self) -> None:
        self._skbs.clear()
        self.queued = self.ofo = 0

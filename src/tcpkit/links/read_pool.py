"""Buffers a device is read into, each filled again only once nothing views it.

A fresh ``bytes`` object per 64 KB read costs more than its copy: the payload views
the engine keeps hold those objects until the application reads them, they are freed
in arrival order, and glibc gives the top of the heap back to the kernel and takes it
again, so about a third of the received pages were faulted in afresh (280,000 minor
faults over 3 GiB). The pool reads into buffers it keeps (:class:`ReadOnce`) and hands
out read-only views of them, as gVisor's reference-counted buffer chunks return to
their pool; here the count is CPython's own reference count: a view holds a reference
to its buffer until the last view of it is gone.

A small read is copied out at once, and its buffer reused for the next read: a view
would keep a whole 64 KB buffer alive for a few bytes queued.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from typing import Final

from tcpkit.wire.frozen import ReadOnce

COPY_BELOW: Final = 16384  # smaller reads are copied out: a view keeps 4x at most


def _reference_count_unviewed() -> int:
    # What sys.getrefcount says of a buffer held by the pool's deque alone (measured,
    # as the count the call itself adds differs between Python versions).
    ring = deque([ReadOnce(1)])
    return sys.getrefcount(ring[0])


_UNVIEWED: Final = _reference_count_unviewed()


class ReadPool:
    """Reads of up to ``size`` bytes from ``fd``, as bytes (small) or read-only views of
    a pooled buffer (large). At most ``keep`` idle buffers are kept."""

    __slots__ = ("_fd", "_ring", "allocated", "keep", "size")

    def __init__(self, fd: int, size: int, *, keep: int = 64) -> None:
        self._fd = fd
        self.size = size
        self.keep = keep
        self._ring: deque[ReadOnce] = deque()  # in the order they were filled
        self.allocated = 0  # buffers made, for tests and benchmarks

    def read(self) -> bytes | memoryview:
        """One read (``os.readv``): BlockingIOError and other OSErrors propagate, and
        the buffer stays in the pool."""
        buffer = self._unviewed()
        try:
            n = os.readv(self._fd, [buffer])
        except BaseException:
            self._ring.appendleft(buffer)
            raise
        if n < COPY_BELOW:
            self._ring.appendleft(buffer)  # no view made: the next read takes it again
            return bytes(memoryview(buffer)[:n])
        self._ring.append(buffer)
        return memoryview(buffer).toreadonly()[:n]

    def _unviewed(self) -> ReadOnce:
        """The oldest buffer nothing views, dropping idle ones beyond ``keep``; a new one
        when the two oldest are still viewed (data the application has not read)."""
        ring = self._ring
        for _ in range(2):
            if not ring:
                break
            if sys.getrefcount(ring[0]) > _UNVIEWED:
                ring.rotate(-1)  # still viewed: look at the next, keep this one
                continue
            buffer = ring.popleft()
            while len(ring) >= self.keep and ring and sys.getrefcount(ring[0]) <= _UNVIEWED:
                ring.popleft()  # idle beyond what is kept: let it go
            return buffer
        self.allocated += 1
        return ReadOnce(self.size)

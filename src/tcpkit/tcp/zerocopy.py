"""MSG_ZEROCOPY completion notifications (Linux ``msg_zerocopy_realloc``,
``__msg_zerocopy_callback`` and ``skb_zerocopy_notify_extend`` in net/core/skbuff.c;
Documentation/networking/msg_zerocopy.rst).

With SO_ZEROCOPY set, each send() with MSG_ZEROCOPY that takes data is numbered (from
0, per socket). When every buffer holding its data has been freed (acknowledged, or
dropped when the connection ends), a notification for the range of numbers completed
goes on the socket's error queue, to be read with ``recvmsg(MSG_ERRQUEUE)``; it makes
poll() report POLLERR. Consecutive sends whose data is still unsent in the same buffer
share one number range (the buffer's ``uarg`` is extended), and consecutive ranges
merge in the queue. tcpkit copies what it is given, so every notification says
SO_EE_CODE_ZEROCOPY_COPIED, as Linux's do when the data went through loopback or a TUN
device. A socket closed by its program gets no more notifications (SOCK_DEAD).
"""

from __future__ import annotations

from collections import deque

SO_EE_ORIGIN_ZEROCOPY = 5
SO_EE_CODE_ZEROCOPY_COPIED = 1
_BYTE_LIMIT = 1 << 19  # msg_zerocopy_realloc: "limit to a few TSO"
_MAX_LEN = 0xFFFF - 1  # USHRT_MAX - 1 sends in one range


class _Range:
    """One ``ubuf_info_msgzc``: numbers [first, first+count) and where its data ends
    (the end of the buffer holding its last byte: freed when that is acknowledged)."""

    __slots__ = ("count", "done_seq", "first", "size")

    def __init__(self, first: int, size: int, done_seq: int) -> None:
        self.first = first
        self.count = 1
        self.size = size
        self.done_seq = done_seq


class ZerocopyNotifications:
    """The numbering, the sends not yet complete, and the error queue of one socket."""

    __slots__ = ("next_id", "pending", "queue")

    def __init__(self) -> None:
        self.next_id = 0  # sk_zckey
        self.pending: deque[_Range] = deque()
        self.queue: deque[list[int]] = deque()  # [first, last, code]

    def sent(self, size: int, data_end: int, tail_unsent: bool) -> None:
        """A MSG_ZEROCOPY send took ``size`` bytes, ending at ``data_end``.
        ``tail_unsent``: the newest range's last byte is still in the unsent last
        buffer, which the new data joined (the buffer's uarg is extended)."""
        newest = self.pending[-1] if self.pending else None
        if (tail_unsent and newest is not None
                and (newest.first + newest.count) & 0xFFFFFFFF == self.next_id
                and newest.count < _MAX_LEN and newest.size + size <= _BYTE_LIMIT):
            newest.count += 1
            newest.size += size
            newest.done_seq = data_end
        else:
            self.pending.append(_Range(self.next_id, size, data_end))
        self.next_id = (self.next_id + 1) & 0xFFFFFFFF

    def buffer_grew(self, end: int) -> None:
        """Later data joined the buffer holding the newest range's last byte: that
        buffer, now ending at ``end``, must be freed before the range completes."""
        if self.pending:
            self.pending[-1].done_seq = end

    def acked(self, snd_una: int, dead: bool) -> bool:
        """Complete the ranges whose buffers are all acknowledged; True if a
        notification was queued."""
        pending = self.pending
        queued = False
        while pending and pending[0].done_seq <= snd_una:
            queued |= self._complete(pending.popleft(), dead)
        return queued

    def purge(self, dead: bool) -> bool:
        """The connection ended and its queues were freed: every range completes."""
        queued = False
        while self.pending:
            queued |= self._complete(self.pending.popleft(), dead)
        return queued

    def _complete(self, done: _Range, dead: bool) -> bool:
        if dead:
            return False
        last = (done.first + done.count - 1) & 0xFFFFFFFF
        tail = self.queue[-1] if self.queue else None
        if (tail is not None and done.first == (tail[1] + 1) & 0xFFFFFFFF
                and tail[1] - tail[0] + 1 + done.count < 1 << 32):
            tail[1] = last  # skb_zerocopy_notify_extend
        else:
            self.queue.append([done.first, last, SO_EE_CODE_ZEROCOPY_COPIED])
        return True

    def take(self) -> tuple[int, int, int] | None:
        """The oldest notification (first, last, code), or None."""
        if not self.queue:
            return None
        first, last, code = self.queue.popleft()
        return first, last, code

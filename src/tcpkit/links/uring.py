"""Packets written to a descriptor in batches, through io_uring (Linux 5.6+), by ctypes.

A TUN device takes one packet per ``write``, and each write runs the kernel's receive
path for that packet inline. Written one system call at a time from Python, every
packet costs a call and a round trip through the GIL: the thread reading the device
cannot run while the writer takes the GIL back after each write, so the two threads
take turns and a second core stays idle. One ``io_uring_enter`` instead submits a
whole batch (a 64 KB GSO packet cut into 45 segments, say) and waits for it with the
GIL released, while the reader processes what came back.

The batch is linked (IOSQE_IO_LINK): the kernel runs the writes one after the other, in
the order queued, as a run of ``write`` calls would. If one fails, the rest of its
batch is cancelled (-ECANCELED): lost, as packets on a wire are, and counted.

Each packet is copied into a slot of a buffer the ring owns (its address must not
move while the kernel reads it); a packet too big for a slot is written alone with
``writev``, in its turn. Without io_uring (``kernel.io_uring_disabled``, an old
kernel) every packet is.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct
from typing import Final

# The numbers of the unified system call table (Linux 5.1+), which these machines use;
# alpha, ia64 and mips number them otherwise, and get no ring.
_SYS_IO_URING_SETUP: Final = 425
_SYS_IO_URING_ENTER: Final = 426
_UNIFIED_TABLE: Final = frozenset({"x86_64", "i386", "i686", "aarch64", "armv7l", "armv8l",
                                   "riscv64", "ppc64le", "ppc64", "s390x", "loongarch64"})
_IORING_OFF_SQ_RING: Final = 0
_IORING_OFF_CQ_RING: Final = 0x8000000
_IORING_OFF_SQES: Final = 0x10000000
_IORING_FEAT_SINGLE_MMAP: Final = 1
_IORING_ENTER_GETEVENTS: Final = 1
_IORING_OP_WRITE: Final = 23
_IOSQE_IO_LINK: Final = 1 << 2
_SQE_SIZE: Final = 64
_CQE_SIZE: Final = 16
# opcode, flags, ioprio, fd, off, addr, len, rw_flags, user_data (struct io_uring_sqe)
_SQE: Final = struct.Struct("=BBHiQQIIQ")
_SQE_FLAGS_AT: Final = 1
_SQE_LEN_AT: Final = 24
_CQE: Final = struct.Struct("=Qi")  # user_data, res
_U32: Final = struct.Struct("=I")
_CURRENT_POSITION: Final = 0xFFFFFFFFFFFFFFFF  # off = -1: a stream has no offset


class _SqOffsets(ctypes.Structure):
    _fields_ = [("head", ctypes.c_uint32), ("tail", ctypes.c_uint32),
                ("ring_mask", ctypes.c_uint32), ("ring_entries", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("dropped", ctypes.c_uint32),
                ("array", ctypes.c_uint32), ("resv1", ctypes.c_uint32),
                ("user_addr", ctypes.c_uint64)]


class _CqOffsets(ctypes.Structure):
    _fields_ = [("head", ctypes.c_uint32), ("tail", ctypes.c_uint32),
                ("ring_mask", ctypes.c_uint32), ("ring_entries", ctypes.c_uint32),
                ("overflow", ctypes.c_uint32), ("cqes", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("resv1", ctypes.c_uint32),
                ("user_addr", ctypes.c_uint64)]


class _Params(ctypes.Structure):
    _fields_ = [("sq_entries", ctypes.c_uint32), ("cq_entries", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("sq_thread_cpu", ctypes.c_uint32),
                ("sq_thread_idle", ctypes.c_uint32), ("features", ctypes.c_uint32),
                ("wq_fd", ctypes.c_uint32), ("resv", ctypes.c_uint32 * 3),
                ("sq_off", _SqOffsets), ("cq_off", _CqOffsets)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _check(result: int) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


class BatchWriter:
    """Writes packets to ``fd`` a batch at a time (module docstring). Not thread-safe:
    one writer at a time, as the link's writing lock already ensures."""

    def __init__(self, fd: int, *, entries: int = 1024, slot_size: int = 2048) -> None:
        """``entries``: packets per system call; ``slot_size``: the largest packet
        (all its parts together) a batch takes. The default takes a 1 MiB write's 724
        segments at MTU 1500 in one call: a thread back from ``io_uring_enter`` waits
        for the GIL, and fewer returns per packet moved tcpkit -> kernel over plain TUN
        from 1.0-1.1 to 1.3 Gbit/s (64 entries then 1024; 1.5 MB of slots at MTU 1500;
        2048 gained nothing more). Where io_uring is missing or forbidden
        (ENOSYS; EPERM with ``kernel.io_uring_disabled``) it writes one packet per
        ``writev`` from the start, and :attr:`broken` says why."""
        self.fd = fd
        self.slot_size = slot_size
        self.entries = 1
        # Why the ring is not used (never was, or failed once): one writev per packet.
        self.broken: str | None = None
        self._ring_fd = -1
        if os.uname().machine not in _UNIFIED_TABLE:
            self.broken = f"io_uring: system call numbers unknown on {os.uname().machine}"
            return
        params = _Params()
        try:
            self._ring_fd = _check(_syscall(ctypes.c_long(_SYS_IO_URING_SETUP),
                                            ctypes.c_long(entries), ctypes.byref(params)))
            self._map(params)
        except OSError as exc:
            if self._ring_fd >= 0:
                os.close(self._ring_fd)
                self._ring_fd = -1
            self.broken = f"io_uring: {exc.strerror}"
            return
        self.entries = params.sq_entries
        # The packets' bytes, at an address that stays put while the kernel reads it.
        self._slots = ctypes.create_string_buffer(self.entries * slot_size)
        self._slot_view = memoryview(self._slots).cast("B")
        base = ctypes.addressof(self._slots)
        # SQE i always writes slot i: all but the length is filled once, here.
        for i in range(self.entries):
            _SQE.pack_into(self._sqes, i * _SQE_SIZE, _IORING_OP_WRITE, _IOSQE_IO_LINK, 0,
                           fd, _CURRENT_POSITION, base + i * slot_size, 0, 0, 0)

    def _map(self, params: _Params) -> None:
        sq, cq = params.sq_off, params.cq_off
        sq_size = sq.array + params.sq_entries * 4
        cq_size = cq.cqes + params.cq_entries * _CQE_SIZE
        prot = mmap.PROT_READ | mmap.PROT_WRITE
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        if params.features & _IORING_FEAT_SINGLE_MMAP:
            size = max(sq_size, cq_size)
            self._sq_ring = self._cq_ring = mmap.mmap(self._ring_fd, size, flags, prot,
                                                      offset=_IORING_OFF_SQ_RING)
        else:
            self._sq_ring = mmap.mmap(self._ring_fd, sq_size, flags, prot,
                                      offset=_IORING_OFF_SQ_RING)
            self._cq_ring = mmap.mmap(self._ring_fd, cq_size, flags, prot,
                                      offset=_IORING_OFF_CQ_RING)
        self._sqes = mmap.mmap(self._ring_fd, params.sq_entries * _SQE_SIZE, flags, prot,
                               offset=_IORING_OFF_SQES)
        self._sq_head_at, self._sq_tail_at = sq.head, sq.tail
        self._sq_mask = _U32.unpack_from(self._sq_ring, sq.ring_mask)[0]
        self._tail = _U32.unpack_from(self._sq_ring, sq.tail)[0]
        self._cq_head_at, self._cq_tail_at = cq.head, cq.tail
        self._cq_mask = _U32.unpack_from(self._cq_ring, cq.ring_mask)[0]
        self._cqes_at = cq.cqes
        # Submission slot i always names SQE i: the array is filled once.
        for i in range(params.sq_entries):
            _U32.pack_into(self._sq_ring, sq.array + 4 * i, i)

    def write(self, packets: list[list[bytes | memoryview]]) -> list[int]:
        """Write ``packets`` (each a list of parts, as for ``writev``) in order; returns
        the error numbers of those that failed (ECANCELED: one before it in its batch
        failed). A packet larger than a slot goes alone, with ``writev``, in its turn;
        so does every packet without a ring (:attr:`broken`)."""
        failed: list[int] = []
        if self.broken is not None:
            for parts in packets:
                self._write_one(parts, failed)
            return failed
        ring = True  # until a submission breaks it
        view, size, mask, entries = self._slot_view, self.slot_size, self._sq_mask, self.entries
        sqes, set_length = self._sqes, _U32.pack_into
        count = 0  # filled, not yet submitted
        for parts in packets:
            if not ring:
                self._write_one(parts, failed)
                continue
            index = (self._tail + count) & mask
            start = at = index * size
            limit = start + size
            for part in parts:
                end = at + len(part)
                if end > limit:
                    break
                view[at:end] = part
                at = end
            else:
                set_length(sqes, index * _SQE_SIZE + _SQE_LEN_AT, at - start)
                count += 1
                if count == entries:
                    ring = self._submit(count, failed)
                    count = 0
                continue
            # Too big for a slot: what is filled goes first, then this one alone.
            ring = self._submit(count, failed)
            count = 0
            self._write_one(parts, failed)
        self._submit(count, failed)
        return failed

    def _write_one(self, parts: list[bytes | memoryview], failed: list[int]) -> None:
        try:
            os.writev(self.fd, parts)
        except OSError as exc:
            failed.append(exc.errno or errno.EIO)

    def _slot(self, index: int) -> memoryview:
        """The packet SQE ``index`` would write."""
        length = _U32.unpack_from(self._sqes, index * _SQE_SIZE + _SQE_LEN_AT)[0]
        start = index * self.slot_size
        return self._slot_view[start : start + length]

    def _submit(self, count: int, failed: list[int]) -> bool:
        """Hand the kernel the ``count`` SQEs filled from the tail on, and wait for all
        of them to complete. False if the ring failed (and is not to be used again)."""
        if not count:
            return True
        tail, mask = self._tail, self._sq_mask
        last = (tail + count - 1) & mask
        if count == 1:
            # One packet: a plain write costs less than a ring round trip; the SQE,
            # never handed over, is filled again next time.
            self._write_one([self._slot(last)], failed)
            return True
        flags_at = last * _SQE_SIZE + _SQE_FLAGS_AT
        self._sqes[flags_at] = 0  # the batch's last SQE ends its link chain
        self._tail = (tail + count) & 0xFFFFFFFF
        _U32.pack_into(self._sq_ring, self._sq_tail_at, self._tail)
        submitted = 0
        while submitted < count:
            done = self._enter(count - submitted, count - submitted)
            if done >= 0:
                submitted += done
                continue
            code = ctypes.get_errno()
            if code == errno.EINTR:
                continue
            self._break(code, tail, count, submitted, failed)
            return False
        self._reap(count, failed)
        self._sqes[flags_at] = _IOSQE_IO_LINK
        return True

    def _enter(self, to_submit: int, min_complete: int) -> int:
        """io_uring_enter: submit ``to_submit`` SQEs and wait for ``min_complete``
        completions, with the GIL released (ctypes lets it go); -1 and errno on error."""
        return int(_syscall(ctypes.c_long(_SYS_IO_URING_ENTER), ctypes.c_long(self._ring_fd),
                            ctypes.c_long(to_submit), ctypes.c_long(min_complete),
                            ctypes.c_long(_IORING_ENTER_GETEVENTS), None, ctypes.c_long(0)))

    def _break(self, code: int, tail: int, count: int, submitted: int,
               failed: list[int]) -> None:
        """io_uring_enter failed (not a packet: the ring, ENOMEM say). What the kernel
        did not take is written the plain way, and so is everything after: a ring
        with SQEs it never took cannot be entered again."""
        self.broken = f"io_uring_enter: {os.strerror(code)}"
        head = _U32.unpack_from(self._sq_ring, self._sq_head_at)[0]
        taken = max(submitted, (head - tail) & 0xFFFFFFFF)
        for i in range(taken, count):
            self._write_one([bytes(self._slot((tail + i) & self._sq_mask))], failed)

    def _reap(self, count: int, failed: list[int]) -> None:
        cq = self._cq_ring
        head = _U32.unpack_from(cq, self._cq_head_at)[0]
        seen = 0
        while seen < count:
            tail = _U32.unpack_from(cq, self._cq_tail_at)[0]
            if head == tail:
                # Woken before all completed (EINTR): wait for the rest.
                self._enter(0, count - seen)
                continue
            while head != tail and seen < count:
                _, res = _CQE.unpack_from(cq, self._cqes_at + (head & self._cq_mask) * _CQE_SIZE)
                if res < 0:
                    failed.append(-res)
                head = (head + 1) & 0xFFFFFFFF
                seen += 1
            _U32.pack_into(cq, self._cq_head_at, head)

    def close(self) -> None:
        if self._ring_fd < 0:
            return
        self.broken = "closed"
        self._slot_view.release()
        self._sqes.close()
        self._sq_ring.close()
        if self._cq_ring is not self._sq_ring:
            self._cq_ring.close()
        os.close(self._ring_fd)
        self._ring_fd = -1

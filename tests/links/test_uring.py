"""io_uring batches (links/uring): every packet written once, whole, in the order given,
whatever the batch sizes and packet sizes; a failed write costs its packet and the rest
of its batch, counted; a ring that fails hands over to plain writes and loses nothing.
A SOCK_SEQPACKET pair stands in for the device: it keeps packet boundaries and order as
/dev/net/tun does."""

from __future__ import annotations

import ctypes
import errno
import os
import random
import socket
import struct

import pytest

from tcpkit.links import uring
from tcpkit.links.uring import BatchWriter


def _writer(fd: int, **kw: int) -> BatchWriter:
    writer = BatchWriter(fd, **kw)
    if writer.broken and os.environ.get("CI") != "true":
        pytest.skip(f"no io_uring here ({writer.broken}): nothing to batch")
    assert not writer.broken, writer.broken
    return writer


def _packets(rng: random.Random, count: int, largest: int) -> list[list[bytes | memoryview]]:
    out: list[list[bytes | memoryview]] = []
    for n in range(count):
        body = rng.randbytes(rng.randint(0, largest))
        cut = rng.randint(0, len(body))
        out.append([struct.pack("!I", n), body[:cut], memoryview(body)[cut:]])
    return out


def _refuse(monkeypatch: pytest.MonkeyPatch, call: int, code: int) -> None:
    """System call ``call`` fails with ``code`` from now on."""
    real = uring._syscall

    def syscall(number: ctypes.c_long, *args: object) -> int:
        if number.value == call:
            ctypes.set_errno(code)
            return -1
        return real(number, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(uring, "_syscall", syscall)


def _read(sock: socket.socket, count: int) -> list[bytes]:
    return [sock.recv(1 << 16) for _ in range(count)]


@pytest.mark.parametrize("seed", range(5))
def test_every_packet_once_whole_and_in_order(device: tuple[socket.socket, socket.socket],
                                              seed: int) -> None:
    ours, theirs = device
    writer = _writer(ours.fileno(), entries=8, slot_size=512)
    rng = random.Random(seed)
    try:
        for _ in range(20):
            # Runs longer than the ring, of one packet, and packets too big for a slot.
            packets = _packets(rng, rng.choice([1, 2, 7, 8, 9, 30]), 700)
            assert writer.write(packets) == []
            assert _read(theirs, len(packets)) == [b"".join(p) for p in packets]
        assert writer.broken is None
    finally:
        writer.close()


def test_a_failed_write_cancels_the_rest_of_its_batch(
        device: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = device
    writer = _writer(ours.fileno(), entries=4, slot_size=256)
    theirs.shutdown(socket.SHUT_RD)  # the other end takes nothing more: EPIPE
    try:
        failed = writer.write([[b"x" * 10] for _ in range(6)])
        # Batches of 4 and 2: each fails at its first packet and cancels the rest.
        assert failed == [errno.EPIPE] + [errno.ECANCELED] * 3 + [errno.EPIPE, errno.ECANCELED]
    finally:
        writer.close()


def test_a_ring_that_fails_loses_nothing(device: tuple[socket.socket, socket.socket],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = device
    writer = _writer(ours.fileno(), entries=8, slot_size=512)
    _refuse(monkeypatch, uring._SYS_IO_URING_ENTER, errno.ENOMEM)
    packets = _packets(random.Random(9), 20, 300)
    try:
        assert writer.write(packets) == []
        assert writer.broken == "io_uring_enter: Cannot allocate memory"
        assert _read(theirs, 20) == [b"".join(p) for p in packets]
        more = _packets(random.Random(10), 5, 300)
        assert writer.write(more) == []
        assert _read(theirs, 5) == [b"".join(p) for p in more]
    finally:
        writer.close()


def test_without_io_uring_one_write_per_packet(device: tuple[socket.socket, socket.socket],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the kernel refuses io_uring (kernel.io_uring_disabled=2: EPERM)."""
    ours, theirs = device
    _refuse(monkeypatch, uring._SYS_IO_URING_SETUP, errno.EPERM)
    writer = BatchWriter(ours.fileno())
    assert writer.broken == "io_uring: Operation not permitted"
    packets = _packets(random.Random(11), 12, 3000)
    assert writer.write(packets) == []
    assert _read(theirs, 12) == [b"".join(p) for p in packets]
    writer.close()

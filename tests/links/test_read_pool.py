"""The device read pool (links/read_pool): a large read is a read-only view of a pooled
buffer, and no buffer is filled again while any view of it is alive, whatever the order
in which views are dropped; small reads are bytes. A SOCK_SEQPACKET pair stands in for
the device (one packet per read, as /dev/net/tun gives)."""

from __future__ import annotations

import errno
import os
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpkit.links.read_pool import COPY_BELOW, ReadPool
from tcpkit.wire.frozen import frozen, is_frozen_view
from tests.links.conftest import seqpacket_pair

SIZE = 65546


def _packet(number: int, size: int) -> bytes:
    return (number.to_bytes(4, "big") * (size // 4 + 1))[:size]


def test_large_reads_are_frozen_views_and_small_ones_bytes(
        device: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = device
    pool = ReadPool(ours.fileno(), SIZE)
    theirs.send(_packet(1, SIZE))
    theirs.send(_packet(2, COPY_BELOW - 1))
    big = pool.read()
    small = pool.read()
    assert isinstance(big, memoryview) and is_frozen_view(big) and big == _packet(1, SIZE)
    assert frozen(big) is big  # a parsed payload keeps it, uncopied
    assert type(small) is bytes and small == _packet(2, COPY_BELOW - 1)
    with pytest.raises(TypeError):
        big[0] = 0  # type: ignore[index]


def test_nothing_read_leaves_the_buffer_in_the_pool(
        device: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = device
    ours.setblocking(False)
    pool = ReadPool(ours.fileno(), SIZE)
    for _ in range(3):
        with pytest.raises(BlockingIOError):
            pool.read()
    theirs.send(_packet(7, SIZE))
    assert pool.read() == _packet(7, SIZE)
    assert pool.allocated == 1


def test_a_closed_descriptor_raises_ebadf() -> None:
    r, w = os.pipe()
    os.close(w)
    pool = ReadPool(r, SIZE)
    os.close(r)
    with pytest.raises(OSError) as exc:
        pool.read()
    assert exc.value.errno == errno.EBADF


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, SIZE), st.integers(0, 6)), min_size=1,
                max_size=60))
def test_no_buffer_is_refilled_while_viewed(steps: list[tuple[int, int]]) -> None:
    """Each step reads a packet and keeps it for ``hold`` more reads (0: dropped at once,
    6: kept to the end), so views die out of order; every view kept must still show its
    own packet at the end, and buffers are reused once free."""
    ours, theirs = seqpacket_pair()
    try:
        pool = ReadPool(ours.fileno(), SIZE, keep=4)
        held: list[tuple[int, int, bytes | memoryview]] = []  # (until step, number, data)
        kept: list[tuple[int, bytes | memoryview]] = []
        for number, (size, hold) in enumerate(steps):
            theirs.send(_packet(number, size))
            data = pool.read()
            assert data == _packet(number, size)
            if hold == 6:
                kept.append((number, data))
            elif hold:
                held.append((number + hold, number, data))
            del data
            for entry in [h for h in held if h[0] <= number]:
                held.remove(entry)
                assert entry[2] == _packet(entry[1], len(entry[2]))
        for number, data in kept:
            assert data == _packet(number, len(data))
        large = sum(1 for size, _ in steps if size >= COPY_BELOW)
        # Never more buffers than reads (a buffer is reused once free) ...
        assert pool.allocated <= max(1, large + 1)
        views_alive = sum(1 for _, d in kept if isinstance(d, memoryview)) + sum(
            1 for *_, d in held if isinstance(d, memoryview))
        # ... and never more than the views alive at any time allow; after each read at
        # most 8 (hold < 6) are short-lived, the rest are kept to the end.
        assert pool.allocated <= views_alive + 8 + 1
    finally:
        ours.close()
        theirs.close()


def test_idle_buffers_beyond_keep_are_let_go(
        device: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = device
    pool = ReadPool(ours.fileno(), SIZE, keep=2)
    views = []
    for number in range(10):
        theirs.send(_packet(number, SIZE))
        views.append(pool.read())
    assert pool.allocated == 10  # each still viewed: none could be reused
    views.clear()
    for number in range(5):
        theirs.send(_packet(number, SIZE))
        assert pool.read() == _packet(number, SIZE)
    assert pool.allocated == 10  # the freed ones were reused ...
    assert len(pool._ring) <= 3  # ... and those beyond ``keep`` let go

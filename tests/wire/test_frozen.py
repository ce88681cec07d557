"""Which buffers a parsed segment may keep by reference (wire/frozen.py)."""

from __future__ import annotations

import array

import pytest

from tcpkit.wire.frozen import frozen, is_frozen_view
from tcpkit.wire.tcp import ACK, TCPSegment, parse_tcp


def test_views_of_bytes_are_kept_and_anything_writable_is_copied() -> None:
    data = b"0123456789"
    assert frozen(data) is data
    view = memoryview(data)[2:]
    assert frozen(view) is view
    for whole in (True, False):
        mutable = bytearray(data)
        kept = frozen(mutable if whole else memoryview(mutable)[2:])
        mutable[5] = ord("x")
        assert type(kept) is bytes
        assert kept == (data if whole else data[2:])  # the copy did not change


@pytest.mark.parametrize("view", [
    memoryview(b"01234567")[::2],  # strided: not one run of memory
    memoryview(b"01234567").cast("I"),  # items of four bytes: lengths would not be bytes
    memoryview(b"01234567").cast("B", (2, 4)),  # two-dimensional
    memoryview(array.array("B", b"0123")),  # writable by whoever holds the array
])
def test_other_views_are_not_frozen(view: memoryview) -> None:
    assert not is_frozen_view(view)


def test_a_parsed_payload_is_a_view_only_of_memory_that_cannot_change() -> None:
    wire = TCPSegment(1, 2, seq=7, flags=ACK, window=100, payload=b"payload!").build(0)
    from_device = parse_tcp(memoryview(wire))
    assert isinstance(from_device.payload, memoryview)
    assert from_device.payload.obj is wire and from_device.payload == b"payload!"
    assert type(parse_tcp(wire).payload) is bytes
    writable = bytearray(wire)
    copied = parse_tcp(memoryview(writable))
    writable[-1] = 0
    assert copied.payload == b"payload!" and type(copied.payload) is bytes
    pure_ack = parse_tcp(memoryview(wire)[:20])
    assert pure_ack.payload == b"" and type(pure_ack.payload) is bytes

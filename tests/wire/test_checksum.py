"""The internet checksum against RFC 1071's worked example and a per-byte reference."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from tcpkit.tools.bench_wire import CANDIDATES, per_byte_loop
from tcpkit.wire.checksum import finish, internet_checksum, pseudo_header, word_sum


def test_rfc1071_example() -> None:
    # RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2; the checksum is ~ddf2.
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert internet_checksum(data) == ~0xDDF2 & 0xFFFF


@given(st.binary(max_size=9000))
def test_matches_per_byte_reference(data: bytes) -> None:
    assert internet_checksum(data) == per_byte_loop(data)


def test_buffers_either_side_of_the_split_and_the_fold() -> None:
    """word_sum reads more than 1 KiB in quarters; finish folds sums above 4096 bits."""
    for size in (1023, 1024, 1025, 1026, 1449, 4095, 4096, 4097, 65535, 65536, 200_001):
        data = os.urandom(size)
        assert internet_checksum(data) == per_byte_loop(data), size


def test_negative_zero_and_all_zero() -> None:
    # A non-zero sum that is a multiple of 0xFFFF is one's-complement -0: checksum 0x0000.
    assert internet_checksum(b"\xff\xff") == 0x0000
    assert internet_checksum(b"\x80\x00\x7f\xff") == 0x0000
    # All-zero data sums to +0, whose complement is 0xFFFF.
    assert internet_checksum(b"\x00" * 6) == 0xFFFF
    assert internet_checksum(b"") == 0xFFFF


@given(st.binary(max_size=3000))
def test_checksum_over_data_with_its_checksum_is_zero(data: bytes) -> None:
    if len(data) % 2:
        data += b"\x00"
    csum = internet_checksum(data)
    assert internet_checksum(data + csum.to_bytes(2, "big")) == 0


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_partial_sums_add(a: bytes, b: bytes) -> None:
    if len(a) % 2:
        a += b"\x00"
    assert finish(word_sum(a) + word_sum(b)) == internet_checksum(a + b)


def test_pseudo_header_matches_its_byte_layout() -> None:
    src, dst = bytes([192, 0, 2, 1]), bytes([198, 51, 100, 7])
    layout_v4 = src + dst + b"\x00\x06" + (1234).to_bytes(2, "big")
    assert finish(pseudo_header(src, dst, 6, 1234)) == internet_checksum(layout_v4)
    src6, dst6 = os.urandom(16), os.urandom(16)
    layout_v6 = src6 + dst6 + (70000).to_bytes(4, "big") + b"\x00\x00\x00\x3a"
    assert finish(pseudo_header(src6, dst6, 58, 70000)) == internet_checksum(layout_v6)


@given(st.binary(max_size=2000))
def test_every_benchmark_candidate_agrees(data: bytes) -> None:
    # The benchmark compares these; it must compare correct implementations.
    expected = per_byte_loop(data)
    for name, fn in CANDIDATES.items():
        assert fn(data) == expected, name

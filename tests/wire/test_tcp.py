"""TCP header and options: exact round trips and clear errors for bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.errors import BadChecksum, MalformedPacket
from tcpkit.wire.tcp import ACK, FIN, PSH, SYN, TCPSegment, flag_names, parse_tcp
from tcpkit.wire.tcp_options import (
    MSS,
    NOP,
    SACK_PERMITTED,
    BadOptions,
    EndOfOptions,
    FastOpen,
    Sack,
    Timestamps,
    UnknownOption,
    WindowScale,
    build_options,
    find_option,
    parse_options,
)
from tests.wire.strategies import option_lists, tcp_segments, u32

PSEUDO = pseudo_header(bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]), 6)


@given(tcp_segments)
def test_segment_round_trip(segment: TCPSegment) -> None:
    data = segment.build(PSEUDO)
    parsed = parse_tcp(data, PSEUDO)
    assert parsed.checksum is not None
    parsed.checksum = None
    assert parsed == segment
    assert parsed.build(PSEUDO) == data
    assert len(data) == segment.header_length + len(segment.payload)


@given(option_lists())
def test_options_round_trip(options: tuple[object, ...]) -> None:
    area = build_options(options)  # type: ignore[arg-type]
    assert len(area) % 4 == 0
    assert parse_options(area) == options
    assert build_options(parse_options(area)) == area


@given(st.binary(max_size=40))
def test_any_option_area_survives_byte_for_byte(area: bytes) -> None:
    # Whatever the bytes, parsing never fails and building gives them back.
    assert b"".join(o.to_bytes() for o in parse_options(area)) == area


def test_linux_syn_layout() -> None:
    # Linux's SYN: mss, sackOK, TS, nop, wscale (tcp_options_write), 20 bytes.
    opts = (MSS(1460), SACK_PERMITTED, Timestamps(1, 0), NOP, WindowScale(7))
    area = build_options(opts)
    assert area.hex() == "020405b40402080a0000000100000000" + "01030307"
    assert parse_options(area) == opts


def test_timestamp_fast_path_equals_general_path() -> None:
    area = bytes.fromhex("0101080a0000000100000002")
    assert parse_options(area) == (NOP, NOP, Timestamps(1, 2))
    # The same options in another order go through the general walk.
    assert parse_options(bytes.fromhex("080a00000001000000020101")) == (Timestamps(1, 2), NOP, NOP)


def test_known_kind_with_wrong_length_is_kept_raw() -> None:
    # MSS with length 6 is not an MSS option (RFC 9293 §3.2.1); Linux ignores it.
    assert parse_options(bytes.fromhex("020605b400000100")) == (
        UnknownOption(2, bytes.fromhex("05b40000")), NOP, EndOfOptions(b"")
    )
    assert parse_options(bytes.fromhex("05020101")) == (UnknownOption(5, b""), NOP, NOP)
    assert parse_options(bytes.fromhex("050b000000010000000200")) == (
        UnknownOption(5, bytes.fromhex("000000010000000200")),
    )


def test_fast_open_cookies_and_requests() -> None:
    """RFC 7413 §4.1.1: kind 34, a 4..16-byte cookie or none (a request); before the
    RFC, kind 254 with the magic 0xF989 (RFC 6994). Another length is not Fast Open."""
    assert parse_options(bytes.fromhex("22020101")) == (FastOpen(), NOP, NOP)
    assert parse_options(bytes.fromhex("2206abcd1234")) == (FastOpen(bytes.fromhex("abcd1234")),)
    assert parse_options(bytes.fromhex("fe04f989")) == (FastOpen(experimental=True),)
    assert FastOpen(b"\x01" * 8, experimental=True).to_bytes() == \
        bytes.fromhex("fe0cf989") + b"\x01" * 8
    assert parse_options(bytes.fromhex("2204abcd")) == (UnknownOption(34, bytes.fromhex("abcd")),)
    assert parse_options(bytes.fromhex("fe06f98a0000")) == (
        UnknownOption(254, bytes.fromhex("f98a0000")),)


def test_unwalkable_area_is_kept_as_bad_options() -> None:
    assert parse_options(bytes.fromhex("0101ff")) == (NOP, NOP, BadOptions(b"\xff"))
    assert parse_options(bytes.fromhex("02010000")) == (BadOptions(bytes.fromhex("02010000")),)
    assert parse_options(bytes.fromhex("0128")) == (NOP, BadOptions(b"\x28"))
    assert parse_options(bytes.fromhex("080b00")) == (BadOptions(bytes.fromhex("080b00")),)


def test_sack_blocks_and_find_option() -> None:
    opts = parse_options(bytes.fromhex("0101050a0000000a00000014"))
    assert opts == (NOP, NOP, Sack(((10, 20),)))
    assert find_option(opts, Sack) == Sack(((10, 20),))
    assert find_option(opts, MSS) is None


@given(u32, u32)
def test_seg_len_counts_syn_and_fin(seq: int, ack: int) -> None:
    assert TCPSegment(1, 2, seq, ack, SYN).seg_len == 1
    assert TCPSegment(1, 2, seq, ack, SYN | FIN, payload=b"abc").seg_len == 5
    assert TCPSegment(1, 2, seq, ack, ACK | PSH, payload=b"abc").seg_len == 3


def test_flag_names() -> None:
    assert flag_names(SYN | ACK) == "SYN|ACK"
    assert flag_names(0) == "none"
    assert flag_names(0x200 | FIN) == "FIN|reserved=0x1"


def test_bad_checksum_is_reported_with_the_right_value() -> None:
    data = bytearray(TCPSegment(1000, 80, 1, 2, ACK, 100, payload=b"hello").build(PSEUDO))
    good = int.from_bytes(data[16:18], "big")
    data[16:18] = b"\x12\x34"
    with pytest.raises(BadChecksum) as info:
        parse_tcp(bytes(data), PSEUDO)
    assert info.value.found == 0x1234
    assert info.value.expected == good
    assert info.value.offset == 16
    assert isinstance(info.value, MalformedPacket)
    parse_tcp(bytes(data))  # without a pseudo-header nothing is checked


@pytest.mark.parametrize(
    ("data", "reason", "offset"),
    [
        (b"", "truncated TCP header", 0),
        (bytes(19), "truncated TCP header", 0),
        (bytes(12) + b"\x40" + bytes(7), "data offset 4 is below the minimum of 5", 12),
        (bytes(12) + b"\x60" + bytes(7), "data offset of 24 bytes exceeds the 20-byte segment",
         12),
    ],
)
def test_malformed_headers(data: bytes, reason: str, offset: int) -> None:
    with pytest.raises(MalformedPacket) as info:
        parse_tcp(data, base=100)
    assert info.value.reason.startswith(reason)
    assert info.value.offset == 100 + offset
    assert info.value.layer == "tcp"


def test_options_that_do_not_fit_are_refused_on_build() -> None:
    with pytest.raises(ValueError, match="exceed the 40-byte limit"):
        TCPSegment(1, 2, options=(Timestamps(1, 2),) * 5).build(PSEUDO)

"""pcap and pcapng: tcpkit's writer and readers, and files written by Wireshark's tools."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpkit.wire.capture import LINKTYPE_ETHERNET, LINKTYPE_RAW, CapturedPacket
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.errors import MalformedPacket
from tcpkit.wire.pcap import PcapWriter
from tests.conftest import require_tool

records = st.lists(
    st.tuples(st.binary(max_size=200), st.integers(0, 2**32 * 10**9 - 1)), max_size=20
)


def _write(packets: list[tuple[bytes, int]], *, nanosecond: bool, linktype: int) -> bytes:
    buffer = io.BytesIO()
    with PcapWriter(buffer, linktype, nanosecond=nanosecond) as writer:
        for data, ts in packets:
            writer.write_ns(data, ts)
    return buffer.getvalue()


@given(records, st.booleans(), st.sampled_from([LINKTYPE_RAW, LINKTYPE_ETHERNET]))
def test_pcap_round_trip(packets: list[tuple[bytes, int]], nano: bool, linktype: int) -> None:
    raw = _write(packets, nanosecond=nano, linktype=linktype)
    back = list(open_capture(io.BytesIO(raw)))
    assert [p.data for p in back] == [d for d, _ in packets]
    assert [p.ts_ns for p in back] == [ts if nano else ts // 1000 * 1000 for _, ts in packets]
    assert all(p.linktype == linktype and p.orig_len == len(p.data) for p in back)


def test_big_endian_files_are_read() -> None:
    body = b"\x45" + bytes(19)
    raw = struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 101)
    raw += struct.pack(">IIII", 5, 7, len(body), 100) + body
    (packet,) = open_capture(io.BytesIO(raw))
    assert packet == CapturedPacket(5_000_000_007, body, 100, LINKTYPE_RAW)


def test_snaplen_cuts_data_and_keeps_the_original_length() -> None:
    buffer = io.BytesIO()
    with PcapWriter(buffer, snaplen=10) as writer:
        writer.write(b"x" * 50, 1.5)
    (packet,) = open_capture(io.BytesIO(buffer.getvalue()))
    assert (packet.data, packet.orig_len, packet.ts_ns) == (b"x" * 10, 50, 1_500_000_000)


def test_writer_refuses_negative_times_and_reports_unwritable_paths(tmp_path: Path) -> None:
    with PcapWriter(io.BytesIO()) as writer, pytest.raises(ValueError, match="negative"):
        writer.write_ns(b"", -1)
    with pytest.raises(FileNotFoundError):
        PcapWriter(tmp_path / "missing" / "x.pcap")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "file too short for a magic number"),
        (b"\x00\x01\x02\x03rest", "not a pcap or pcapng file"),
        (struct.pack("<I", 0xA1B2C3D4) + bytes(10), "truncated file header"),
        (struct.pack("<IHHiIII", 0xA1B2C3D4, 3, 0, 0, 0, 0, 1), "unsupported version 3.0"),
        (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0, 1) + bytes(5),
         "truncated record header"),
        (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0, 1) + struct.pack("<IIII", 0, 0, 9, 9)
         + b"abc", "truncated record: need 9 bytes, have 3"),
        (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0, 1)
         + struct.pack("<IIII", 0, 0, 10**7, 10**7), "record length 10000000 exceeds"),
        (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0, 1)
         + struct.pack("<IIII", 0, 1_000_000, 0, 0), "fraction of a second 1000000"),
    ],
)
def test_bad_pcap_files(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedPacket) as info:
        list(open_capture(io.BytesIO(raw)))
    assert reason in info.value.reason


def test_good_records_before_a_bad_one_are_yielded() -> None:
    raw = _write([(b"one", 1), (b"two", 2)], nanosecond=True, linktype=LINKTYPE_RAW)
    reader = open_capture(io.BytesIO(raw[:-1]))
    assert next(reader).data == b"one"
    with pytest.raises(MalformedPacket, match="truncated record"):
        next(reader)


def _block(block_type: int, body: bytes, order: str = "<") -> bytes:
    body += b"\x00" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack(order + "II", block_type, total) + body + struct.pack(order + "I", total)


def _shb(order: str = "<") -> bytes:
    return _block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1), order)


def _idb(linktype: int, options: bytes = b"", order: str = "<") -> bytes:
    return _block(1, struct.pack(order + "HHI", linktype, 0, 0) + options, order)


def _epb(iface: int, ts: int, data: bytes, order: str = "<") -> bytes:
    fixed = struct.pack(order + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
    return _block(6, fixed + data, order)


def test_pcapng_resolutions_offsets_and_byte_orders() -> None:
    binary = struct.pack("<HH", 9, 1) + bytes([0x80 | 10]) + b"\x00" * 3  # 2^-10 s units
    offset = struct.pack("<HH", 14, 8) + struct.pack("<q", 100)
    raw = (_shb() + _idb(LINKTYPE_RAW) + _idb(LINKTYPE_ETHERNET, binary + offset)
           + _epb(0, 1_500_000, b"a") + _epb(1, 1536, b"b") + _block(3, struct.pack("<I", 3)
           + b"abc") + _block(99, b"custom block, skipped"))
    big = _shb(">") + _idb(LINKTYPE_RAW, order=">") + _epb(0, 2_000_001, b"c", ">")
    packets = list(open_capture(io.BytesIO(raw + big)))
    assert [(p.ts_ns, p.data, p.linktype) for p in packets] == [
        (1_500_000_000, b"a", LINKTYPE_RAW),
        (101_500_000_000, b"b", LINKTYPE_ETHERNET),  # 1536/1024 s + 100 s offset
        (0, b"abc", LINKTYPE_RAW),  # a simple packet block has no timestamp
        (2_000_001_000, b"c", LINKTYPE_RAW),
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_shb()[:10], "truncated block"),
        (_shb()[:8] + b"\x00\x00\x00\x00" + _shb()[12:], "bad byte-order magic"),
        (_shb() + struct.pack("<II", 6, 13), "bad block length 13"),
        (_shb() + _epb(0, 0, b"x"), "no interface block described"),
        (_shb() + _idb(1)[:-4] + b"\x00\x00\x00\x00", "does not match its trailer"),
        (_shb() + _idb(1) + _block(6, struct.pack("<IIIII", 0, 0, 0, 50, 50)),
         "captured length 50 overruns"),
    ],
)
def test_bad_pcapng_files(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedPacket) as info:
        list(open_capture(io.BytesIO(raw)))
    assert reason in info.value.reason


def test_files_converted_by_editcap_read_the_same(tmp_path: Path) -> None:
    # editcap (Wireshark) rewrites tcpkit's pcap as pcapng and as nanosecond pcap:
    # an outside writer for our readers.
    editcap = require_tool("editcap")
    original = tmp_path / "ours.pcap"
    packets = [(bytes([0x45]) + bytes(range(i % 200)), 1_700_000_000_000_000_000 + i * 1_001_000)
               for i in range(50)]
    original.write_bytes(_write(packets, nanosecond=False, linktype=LINKTYPE_RAW))
    expected = list(open_capture(original))
    for fmt in ("pcapng", "nsecpcap", "pcap"):
        converted = tmp_path / f"converted.{fmt}"
        subprocess.run([editcap, "-F", fmt, str(original), str(converted)], check=True,
                       capture_output=True)
        assert list(open_capture(converted)) == expected, fmt


def test_reading_from_a_pipe() -> None:
    raw = _write([(b"piped", 42_000)], nanosecond=False, linktype=LINKTYPE_RAW)

    class Pipe(io.RawIOBase):
        """Hands out at most 3 bytes per read and cannot seek, like a pipe."""

        def __init__(self) -> None:
            self.data = raw

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            n = min(3, len(buffer), len(self.data))
            buffer[:n] = self.data[:n]
            self.data = self.data[n:]
            return n

    (packet,) = open_capture(io.BufferedReader(Pipe(), buffer_size=4))  # type: ignore[arg-type]
    assert packet.data == b"piped" and packet.ts_ns == 42_000

"""Classic pcap files (the libpcap format, draft-ietf-opsawg-pcap): write and read.

A file is a 24-byte global header (magic, version 2.4, snaplen, link type) and records of
a 16-byte header (seconds, fraction, captured length, original length) plus the bytes.
The magic says the byte order and whether the fraction counts micro- or nanoseconds.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO, Final

from tcpkit.wire.capture import LINKTYPE_RAW, NS_PER_SECOND, CapturedPacket, seconds_to_ns
from tcpkit.wire.errors import MalformedPacket

MAGIC_MICRO: Final = 0xA1B2C3D4
MAGIC_NANO: Final = 0xA1B23C4D
# libpcap refuses records longer than this whatever the file's snaplen says.
MAX_SNAPLEN: Final = 262144

PCAP_MAGICS: Final = frozenset(
    m.to_bytes(4, order) for m in (MAGIC_MICRO, MAGIC_NANO) for order in ("little", "big")
)

_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")


class PcapWriter:
    """Write packets to a classic pcap file (little-endian, as tcpdump writes on x86).

    Use as a context manager, or call :meth:`close`. ``source`` is a path or a binary
    stream; a stream passed in is flushed but not closed.
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | BinaryIO,
        linktype: int = LINKTYPE_RAW,
        *,
        nanosecond: bool = False,
        snaplen: int = MAX_SNAPLEN,
    ) -> None:
        if isinstance(source, str | os.PathLike):
            self._stream: BinaryIO = open(source, "wb")  # noqa: SIM115 (closed in close())
            self._owned = True
        else:
            self._stream = source
            self._owned = False
        self.linktype = linktype
        self.nanosecond = nanosecond
        self.snaplen = snaplen
        magic = MAGIC_NANO if nanosecond else MAGIC_MICRO
        self._stream.write(_GLOBAL.pack(magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, data: bytes, ts: float, orig_len: int | None = None) -> None:
        """Append one packet captured ``ts`` seconds after the epoch (or the simulation start)."""
        self.write_ns(data, seconds_to_ns(ts), orig_len)

    def write_ns(self, data: bytes, ts_ns: int, orig_len: int | None = None) -> None:
        """Append one packet with an integer-nanosecond timestamp; data beyond the
        snaplen is cut, and ``orig_len`` (default: the data length) is kept."""
        if ts_ns < 0:
            raise ValueError(f"negative timestamp {ts_ns} ns cannot be stored in a pcap file")
        sec, frac = divmod(ts_ns, NS_PER_SECOND)
        if not self.nanosecond:
            frac //= 1000
        length = len(data) if orig_len is None else orig_len
        captured = data[: self.snaplen]
        self._stream.write(_RECORD.pack(sec, frac, len(captured), length))
        self._stream.write(captured)

    def close(self) -> None:
        self._stream.flush()
        if self._owned:
            self._stream.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def read_pcap(stream: BinaryIO) -> Iterator[CapturedPacket]:
    """Yield the packets of a classic pcap file read from ``stream`` (from its first byte)."""
    head = stream.read(_GLOBAL.size)
    if len(head) < _GLOBAL.size:
        raise MalformedPacket(
            "pcap", f"truncated file header: need {_GLOBAL.size} bytes, have {len(head)}", 0
        )
    magic_le = int.from_bytes(head[:4], "little")
    order = "<" if magic_le in (MAGIC_MICRO, MAGIC_NANO) else ">"
    glob = struct.Struct(order + "IHHiIII")
    record = struct.Struct(order + "IIII")
    magic, major, minor, _zone, _sigfigs, _snaplen, network = glob.unpack(head)
    if magic not in (MAGIC_MICRO, MAGIC_NANO):
        raise MalformedPacket("pcap", f"not a pcap file (magic 0x{magic_le:08x})", 0)
    if major != 2:
        raise MalformedPacket("pcap", f"unsupported version {major}.{minor}", 4)
    frac_to_ns = 1 if magic == MAGIC_NANO else 1000
    linktype = network & 0x03FFFFFF  # the top bits carry FCS information (RFC draft §4)
    offset = _GLOBAL.size
    while True:
        rec = stream.read(record.size)
        if not rec:
            return
        if len(rec) < record.size:
            raise MalformedPacket(
                "pcap", f"truncated record header: need {record.size} bytes, have {len(rec)}",
                offset,
            )
        sec, frac, caplen, orig_len = record.unpack(rec)
        if caplen > MAX_SNAPLEN:
            raise MalformedPacket(
                "pcap", f"record length {caplen} exceeds the maximum of {MAX_SNAPLEN}", offset + 8
            )
        if frac * frac_to_ns >= NS_PER_SECOND:
            raise MalformedPacket(
                "pcap", f"fraction of a second {frac} is out of range", offset + 4
            )
        data = stream.read(caplen)
        if len(data) < caplen:
            raise MalformedPacket(
                "pcap", f"truncated record: need {caplen} bytes, have {len(data)}",
                offset + record.size,
            )
        yield CapturedPacket(sec * NS_PER_SECOND + frac * frac_to_ns, data, orig_len, linktype)
        offset += record.size + caplen

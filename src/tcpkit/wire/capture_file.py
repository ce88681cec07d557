"""Opening any capture file: classic pcap or pcapng, from a path, a file or a pipe."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import BinaryIO

from tcpkit.wire.capture import CapturedPacket
from tcpkit.wire.errors import MalformedPacket
from tcpkit.wire.pcap import PCAP_MAGICS, read_pcap
from tcpkit.wire.pcapng import SHB_TYPE, read_pcapng


def open_capture(source: str | os.PathLike[str] | BinaryIO) -> Iterator[CapturedPacket]:
    """Yield the packets of a classic pcap or a pcapng file, whichever ``source`` holds.

    Bad input raises :class:`MalformedPacket` at the first record that cannot be read,
    after yielding every good one before it, as tcpdump prints what it can then complains.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield from open_capture(stream)
        return
    head = source.read(4)
    if len(head) < 4:
        raise MalformedPacket(
            "capture", f"file too short for a magic number ({len(head)} bytes)", 0
        )
    rest = io.BufferedReader(_Prefixed(head, source))
    if head in PCAP_MAGICS:
        yield from read_pcap(rest)
    elif int.from_bytes(head, "little") == SHB_TYPE:
        yield from read_pcapng(rest)
    else:
        raise MalformedPacket("capture", f"not a pcap or pcapng file (magic {head.hex()})", 0)


class _Prefixed(io.RawIOBase):
    """A stream with some already-read bytes put back in front (pipes cannot seek)."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

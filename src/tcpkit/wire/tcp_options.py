"""TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018), read and written byte for byte.

Every option area parses into a tuple of option objects and builds back into the same
bytes: a known kind with a length its RFC does not allow is kept as
:class:`UnknownOption`, the bytes after an End of Option List stay in its ``padding``, and
an area that cannot be walked (a length byte below 2 or past the end) keeps its rest as
:class:`BadOptions`. That last case is not an error: Linux stops parsing there and still
processes the segment (``tcp_parse_options``: "silly options", "don't parse partial
options"), and so does tcpkit.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, TypeVar

KIND_EOL: Final = 0
KIND_NOP: Final = 1
KIND_MSS: Final = 2
KIND_WSCALE: Final = 3
KIND_SACK_PERMITTED: Final = 4
KIND_SACK: Final = 5
KIND_TIMESTAMPS: Final = 8
KIND_FASTOPEN: Final = 34
KIND_EXPERIMENTAL: Final = 254
FASTOPEN_MAGIC: Final = 0xF989  # RFC 6994 experiment id of Fast Open before RFC 7413

_U16 = struct.Struct("!H")
_TS = struct.Struct("!II")


@dataclass(frozen=True, slots=True)
class EndOfOptions:
    """Kind 0 (RFC 9293 §3.2). ``padding`` is what follows it in the option area."""

    padding: bytes = b""
    kind = KIND_EOL

    def to_bytes(self) -> bytes:
        return b"\x00" + self.padding


@dataclass(frozen=True, slots=True)
class NoOperation:
    """Kind 1, used to align the next option (RFC 9293 §3.2)."""

    kind = KIND_NOP

    def to_bytes(self) -> bytes:
        return b"\x01"


@dataclass(frozen=True, slots=True)
class MSS:
    """Kind 2: the largest segment the sender of this SYN can receive (RFC 9293 §3.7.1)."""

    value: int
    kind = KIND_MSS

    def to_bytes(self) -> bytes:
        return b"\x02\x04" + _U16.pack(self.value)


@dataclass(frozen=True, slots=True)
class WindowScale:
    """Kind 3: the shift count for the sender's receive window (RFC 7323 §2.2)."""

    shift: int
    kind = KIND_WSCALE

    def to_bytes(self) -> bytes:
        return bytes((3, 3, self.shift))


@dataclass(frozen=True, slots=True)
class SackPermitted:
    """Kind 4: the sender can receive SACK blocks (RFC 2018 §2)."""

    kind = KIND_SACK_PERMITTED

    def to_bytes(self) -> bytes:
        return b"\x04\x02"


@dataclass(frozen=True, slots=True)
class Sack:
    """Kind 5: up to four (left edge, right edge) blocks received out of order (RFC 2018 §3)."""

    blocks: tuple[tuple[int, int], ...]
    kind = KIND_SACK

    def to_bytes(self) -> bytes:
        out = bytearray((5, 2 + 8 * len(self.blocks)))
        for left, right in self.blocks:
            out += _TS.pack(left, right)
        return bytes(out)


@dataclass(frozen=True, slots=True)
class Timestamps:
    """Kind 8: TSval and TSecr (RFC 7323 §3.2)."""

    tsval: int
    tsecr: int
    kind = KIND_TIMESTAMPS

    def to_bytes(self) -> bytes:
        return b"\x08\x0a" + _TS.pack(self.tsval, self.tsecr)


@dataclass(frozen=True, slots=True)
class FastOpen:
    """Kind 34: a TCP Fast Open cookie of 4 to 16 bytes, or none to ask for one (RFC
    7413 §4.1.1). ``experimental``: the layout used before the RFC, kind 254 with the
    magic 0xF989 (RFC 6994), which Linux still understands and can send."""

    cookie: bytes = b""
    experimental: bool = False

    @property
    def kind(self) -> int:
        return KIND_EXPERIMENTAL if self.experimental else KIND_FASTOPEN

    def to_bytes(self) -> bytes:
        if self.experimental:
            return bytes((KIND_EXPERIMENTAL, 4 + len(self.cookie))) \
                + _U16.pack(FASTOPEN_MAGIC) + self.cookie
        return bytes((KIND_FASTOPEN, 2 + len(self.cookie))) + self.cookie


@dataclass(frozen=True, slots=True)
class UnknownOption:
    """Any other kind, or a known kind with a length its RFC does not allow, kept as is."""

    kind: int
    data: bytes

    def to_bytes(self) -> bytes:
        return bytes((self.kind, 2 + len(self.data))) + self.data


@dataclass(frozen=True, slots=True)
class BadOptions:
    """The rest of an option area that cannot be walked; ``data`` starts at the bad option."""

    data: bytes
    kind = -1

    def to_bytes(self) -> bytes:
        return self.data


TCPOption = (
    EndOfOptions
    | NoOperation
    | MSS
    | WindowScale
    | SackPermitted
    | Sack
    | Timestamps
    | FastOpen
    | UnknownOption
    | BadOptions
)

NOP: Final = NoOperation()
SACK_PERMITTED: Final = SackPermitted()

# Linux sends timestamps on every segment as nop,nop,TS (RFC 7323 appendix A layout).
_NOP_NOP_TS: Final = b"\x01\x01\x08\x0a"
_EXPECTED_LEN: Final = {KIND_MSS: 4, KIND_WSCALE: 3, KIND_SACK_PERMITTED: 2, KIND_TIMESTAMPS: 10}


def _known(kind: int, body: bytes) -> TCPOption:
    """The option object for a kind whose total length was already checked."""
    if kind == KIND_TIMESTAMPS:
        tsval, tsecr = _TS.unpack(body)
        return Timestamps(tsval, tsecr)
    if kind == KIND_MSS:
        return MSS(_U16.unpack(body)[0])
    if kind == KIND_WSCALE:
        return WindowScale(body[0])
    return SACK_PERMITTED


def parse_options(area: bytes) -> tuple[TCPOption, ...]:
    """Walk a TCP option area (RFC 9293 §3.2); never raises, see the module docstring."""
    n = len(area)
    if n == 12 and area[:4] == _NOP_NOP_TS:
        tsval, tsecr = _TS.unpack_from(area, 4)
        return (NOP, NOP, Timestamps(tsval, tsecr))
    out: list[TCPOption] = []
    i = 0
    while i < n:
        kind = area[i]
        if kind == KIND_NOP:
            out.append(NOP)
            i += 1
            continue
        if kind == KIND_EOL:
            out.append(EndOfOptions(area[i + 1 :]))
            break
        if i + 1 >= n or area[i + 1] < 2 or i + area[i + 1] > n:
            out.append(BadOptions(area[i:]))
            break
        size = area[i + 1]
        body = area[i + 2 : i + size]
        if _EXPECTED_LEN.get(kind) == size:
            out.append(_known(kind, body))
        elif kind == KIND_SACK and size >= 10 and (size - 2) % 8 == 0:
            out.append(Sack(tuple(_TS.iter_unpack(body))))
        elif kind == KIND_FASTOPEN and (size == 2 or 6 <= size <= 18):
            out.append(FastOpen(body))
        elif kind == KIND_EXPERIMENTAL and (size == 4 or 8 <= size <= 20) \
                and body[:2] == b"\xf9\x89":
            out.append(FastOpen(body[2:], experimental=True))
        else:
            out.append(UnknownOption(kind, body))
        i += size
    return tuple(out)


def build_options(options: tuple[TCPOption, ...] | list[TCPOption]) -> bytes:
    """The option area for ``options``, padded with zeros to a multiple of 4 bytes."""
    area = b"".join([opt.to_bytes() for opt in options])
    if len(area) % 4:
        area += b"\x00" * (4 - len(area) % 4)
    return area


_T = TypeVar("_T")


def find_option(options: tuple[TCPOption, ...], cls: type[_T]) -> _T | None:
    """The first option of type ``cls``, or None."""
    for opt in options:
        if isinstance(opt, cls):
            return opt
    return None

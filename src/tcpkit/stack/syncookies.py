"""SYN cookies: answering SYNs without keeping state when the SYN queue is full
(RFC 4987 §3.6; Linux net/ipv4/syncookies.c, whose layout this follows).

The ISN of the SYN-ACK is the cookie::

    cookie = H1(addresses, ports) + client ISN + (minute << 24)
             + ((H2(addresses, ports, minute) + mss index) mod 2^24)

where the minute is a counter of whole minutes and the MSS index points into Linux's
table of four MSS values. The ACK that completes the handshake acknowledges cookie + 1;
the host recomputes it and accepts the ACK if the cookie is at most two minutes old.
Options a cookie cannot carry travel in the SYN-ACK's timestamp: its low 6 bits hold the
peer's window scale (15 when absent) and a SACK bit, and the peer echoes them back.
Without timestamps the connection has neither window scaling nor SACK.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from tcpkit.tcp.isn import Endpoint

COOKIE_BITS: Final = 24
COOKIE_MASK: Final = (1 << COOKIE_BITS) - 1
MAX_AGE_MINUTES: Final = 2  # MAX_SYNCOOKIE_AGE
MSS_TABLE: Final = (536, 1300, 1440, 1460)  # msstab: 1440 and 1452 are PPPoE's
TS_BITS: Final = 6
TS_WSCALE_MASK: Final = 0xF
TS_SACK: Final = 1 << 4


@dataclass(frozen=True, slots=True)
class CookieOptions:
    """What a valid cookie says about the peer's SYN."""

    mss: int
    wscale: int | None
    sack: bool
    timestamps: bool


def _hash(key: bytes, label: bytes, local: Endpoint, remote: Endpoint, count: int) -> int:
    data = b"%s|%s|%d|%s|%d|%d" % (label, local[0].encode(), local[1], remote[0].encode(),
                                  remote[1], count)
    return int.from_bytes(hashlib.blake2s(data, key=key, digest_size=4).digest(), "big")


def _minutes(now: float) -> int:
    return int(now // 60)


def mss_index(mss: int) -> int:
    """The largest table entry not above the peer's MSS (index 0 for tiny ones)."""
    index = 0
    for i, value in enumerate(MSS_TABLE):
        if value <= mss:
            index = i
    return index


def make_cookie(key: bytes, local: Endpoint, remote: Endpoint, client_isn: int, mss: int,
                now: float) -> tuple[int, int]:
    """The cookie ISN for a SYN from ``remote`` and the MSS it encodes."""
    count = _minutes(now)
    index = mss_index(mss)
    cookie = (_hash(key, b"h1", local, remote, 0) + client_isn + (count << COOKIE_BITS)
              + ((_hash(key, b"h2", local, remote, count) + index) & COOKIE_MASK))
    return cookie & 0xFFFFFFFF, MSS_TABLE[index]


def check_cookie(key: bytes, local: Endpoint, remote: Endpoint, client_isn: int,
                 cookie: int, now: float) -> int | None:
    """The MSS of a valid cookie, or None (forged, or older than two minutes)."""
    count = _minutes(now)
    value = (cookie - _hash(key, b"h1", local, remote, 0) - client_isn) & 0xFFFFFFFF
    diff = (count - (value >> COOKIE_BITS)) & (0xFFFFFFFF >> COOKIE_BITS)
    if diff >= MAX_AGE_MINUTES:
        return None
    index = (value - _hash(key, b"h2", local, remote, count - diff)) & COOKIE_MASK
    return MSS_TABLE[index] if index < len(MSS_TABLE) else None


def encode_timestamp(ts_now: int, wscale: int | None, sack: bool) -> int:
    """Linux ``cookie_init_timestamp``: our TSval with the options in its low bits,
    never ahead of our clock."""
    options = (TS_WSCALE_MASK if wscale is None else wscale) | (TS_SACK if sack else 0)
    ts = ((ts_now >> TS_BITS) << TS_BITS) | options
    if ts > ts_now:
        ts -= 1 << TS_BITS
    return ts & 0xFFFFFFFF


def decode_timestamp(tsecr: int | None, mss: int) -> CookieOptions:
    """Linux ``cookie_timestamp_decode``: the options echoed back in TSecr."""
    if tsecr is None:
        return CookieOptions(mss, None, False, False)
    wscale = tsecr & TS_WSCALE_MASK
    return CookieOptions(mss, None if wscale == TS_WSCALE_MASK else wscale,
                         bool(tsecr & TS_SACK), True)

"""A captured packet and the link types tcpkit reads and writes.

Timestamps are integer nanoseconds since the epoch (or since the start of a simulation).
That is exact for microsecond and nanosecond files, and for pcapng's other resolutions it
truncates exactly as libpcap does, so every timestamp tcpdump can print is reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

LINKTYPE_NULL: Final = 0  # BSD loopback: 4-byte address family in host byte order
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101  # the packet starts with the IPv4 or IPv6 header
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276

LINKTYPE_NAMES: Final = {
    LINKTYPE_NULL: "NULL",
    LINKTYPE_ETHERNET: "EN10MB",
    LINKTYPE_RAW: "RAW",
    LINKTYPE_LINUX_SLL: "LINUX_SLL",
    LINKTYPE_IPV4: "IPV4",
    LINKTYPE_IPV6: "IPV6",
    LINKTYPE_LINUX_SLL2: "LINUX_SLL2",
}

NS_PER_SECOND: Final = 1_000_000_000


@dataclass(slots=True)
class CapturedPacket:
    """One record of a capture: when, what was captured, and how long it was on the wire."""

    ts_ns: int
    data: bytes
    orig_len: int
    linktype: int

    @property
    def timestamp(self) -> float:
        """Seconds as a float (loses nanoseconds for epoch times; use ``ts_ns`` to be exact)."""
        return self.ts_ns / NS_PER_SECOND


def seconds_to_ns(ts: float) -> int:
    """Float seconds to integer nanoseconds, splitting first so large epochs keep precision."""
    whole = int(ts)
    return whole * NS_PER_SECOND + round((ts - whole) * NS_PER_SECOND)

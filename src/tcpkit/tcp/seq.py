"""Sequence number arithmetic (RFC 9293 §3.4) done once, at the edge.

On the wire a sequence number is 32 bits and wraps; comparisons are "modulo 2**32"
(RFC 9293 §3.4: ``a < b`` means the signed 32-bit difference is negative). Inside the
engine every sequence variable (snd_una, snd_nxt, rcv_nxt, ...) holds an *unwrapped*
number: the wire value plus a multiple of 2**32, chosen nearest to a reference the
connection already holds. Comparisons are then plain integer comparisons, which is
exactly the RFC's modular arithmetic for any two numbers less than 2**31 apart, and no
wrap-around case can be forgotten. :func:`unwrap` turns an arriving 32-bit field into an
unwrapped number; :func:`wire` is the other way.

Timestamps (RFC 7323) are compared the same modular way but are not unwrapped: they are
opaque clocks of the peer, so :func:`ts_before` compares them directly.
"""

from __future__ import annotations

from typing import Final

MASK: Final = 0xFFFFFFFF
HALF: Final = 1 << 31
MODULUS: Final = 1 << 32


def unwrap(value: int, near: int) -> int:
    """The unwrapped number congruent to the 32-bit ``value`` that is closest to ``near``."""
    diff = (value - near) & MASK
    if diff >= HALF:
        diff -= MODULUS
    return near + diff


def wire(seq: int) -> int:
    """The 32-bit field value of an unwrapped sequence number."""
    return seq & MASK


def ts_before(a: int, b: int) -> bool:
    """RFC 7323 §5.2: timestamp ``a`` is earlier than ``b`` (signed 32-bit difference < 0)."""
    return (a - b) & MASK >= HALF


def ts_diff(a: int, b: int) -> int:
    """The signed 32-bit difference ``a - b`` of two timestamps."""
    diff = (a - b) & MASK
    return diff - MODULUS if diff >= HALF else diff

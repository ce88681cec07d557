"""The host-wide budget of challenge ACKs (RFC 5961 §7, Linux ``tcp_send_challenge_ack``).

RFC 5961 §7 asks for a limit on challenge ACKs so that they cannot be used to probe a
connection's sequence space (CVE-2016-5696 showed a global counter leaks). Linux keeps a
per-namespace budget refilled every second with a random amount between half and one
and a half times ``net.ipv4.tcp_challenge_ack_limit``; since Linux 6.0 the default limit
is INT_MAX, which turns the global budget off and leaves only the per-connection limit
of one out-of-window ACK per ``tcp_invalid_ratelimit`` (500 ms). One limiter belongs to
one host and is shared by its connections.
"""

from __future__ import annotations

import random

UNLIMITED = 2**31 - 1


class ChallengeAckLimiter:
    """Decides whether one more challenge ACK may go out this second."""

    __slots__ = ("_count", "_rng", "_second", "limit")

    def __init__(self, limit: int = UNLIMITED, rng: random.Random | None = None) -> None:
        self.limit = limit
        self._rng = rng if rng is not None else random.Random()
        self._second: int | None = None
        self._count = 0

    def allow(self, now: float) -> bool:
        if self.limit >= UNLIMITED:
            return True
        second = int(now)
        if second != self._second:
            half = (self.limit + 1) >> 1
            self._second = second
            self._count = self._rng.randint(half, self.limit + half - 1)
        if self._count > 0:
            self._count -= 1
            return True
        return False

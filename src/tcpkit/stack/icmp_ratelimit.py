"""How many ICMP errors a host may send: Linux's per-destination token bucket
(net/ipv4/icmp.c ``icmpv4_xrlim_allow``, net/ipv4/inetpeer.c ``inet_peer_xrlim_allow``).

RFC 1812 §4.3.2.8 and RFC 1122 §3.2.2 ask hosts to limit the ICMP errors they send. Linux
gives each destination a bucket of tokens counted in jiffies: it fills at one jiffy per
jiffy up to six messages' worth (``XRLIM_BURST_FACTOR``), and a message costs
``icmp_ratelimit``. A new destination starts with a full bucket. Only the types in
``icmp_ratemask`` are limited; fragmentation needed never is (path MTU discovery must
work), nor is anything sent over loopback. Linux's global limit (``icmp_msgs_per_sec``,
1000 per second) is not modelled: a simulated story does not come near it.
"""

from __future__ import annotations

from tcpkit.wire import icmp

BURST_FACTOR = 6  # XRLIM_BURST_FACTOR
FRESH_PEER_AGE = 60  # seconds: inet_getpeer backdates rate_last so the bucket starts full


class IcmpRateLimit:
    """The buckets of one host, by destination address."""

    __slots__ = ("_buckets", "_hz")

    def __init__(self, hz: int) -> None:
        self._hz = hz
        self._buckets: dict[str, tuple[int, int]] = {}  # dst -> (tokens, last jiffy)

    def allow(self, dst: str, icmp_type: int, code: int, now: float, *,
              ratelimit_ms: int, ratemask: int) -> bool:
        """May an error of ``icmp_type``/``code`` go to ``dst`` now? Takes a token."""
        if icmp_type == icmp.DEST_UNREACHABLE and code == icmp.FRAGMENTATION_NEEDED:
            return True
        if icmp_type > 31 or not (1 << icmp_type) & ratemask:
            return True
        hz = self._hz
        cost = ratelimit_ms * hz // 1000  # proc_dointvec_ms_jiffies
        jiffy = int(now * hz)
        tokens, last = self._buckets.get(dst, (0, jiffy - FRESH_PEER_AGE * hz))
        tokens = min(tokens + jiffy - last, BURST_FACTOR * cost)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        self._buckets[dst] = (tokens, jiffy)
        return allowed

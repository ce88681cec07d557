"""Initial sequence numbers (RFC 6528) and timestamp offsets, from a per-host secret.

RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M is
a clock and F a keyed hash, so that an off-path attacker cannot guess the next ISN of a
connection while a new incarnation of the same 4-tuple still gets a higher ISN than the
old one. Linux (``secure_tcp_seq``) uses SipHash for F and nanoseconds >> 6 (64 ns ticks)
for M; tcpkit uses BLAKE2s for F (the stdlib's keyed hash) and the same 64 ns clock, so
ISNs advance as fast as Linux's. Linux also offsets each connection's timestamp clock by
a keyed hash of the address pair (``secure_tcp_ts_off``, RFC 7323 §7.1); so does tcpkit.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from tcpkit.tcp.seq import MASK

Endpoint = tuple[str, int]


@dataclass(frozen=True, slots=True)
class HostSecrets:
    """The secret of one host; a simulation passes a seeded one for repeatable runs."""

    key: bytes = field(default_factory=lambda: os.urandom(32))

    def _hash(self, label: bytes, *parts: str | int) -> int:
        data = label + b"|".join(str(p).encode() for p in parts)
        digest = hashlib.blake2s(data, key=self.key, digest_size=4).digest()
        return int.from_bytes(digest, "big")

    def isn(self, local: Endpoint, remote: Endpoint, now: float) -> int:
        """RFC 6528 §3: the ISN for this 4-tuple at time ``now`` (seconds)."""
        clock = int(now * 1e9) >> 6
        return (self._hash(b"isn", *local, *remote) + clock) & MASK

    def ts_offset(self, local_address: str, remote_address: str) -> int:
        """The offset added to this connection's timestamp clock (RFC 7323 §7.1)."""
        return self._hash(b"ts", local_address, remote_address)

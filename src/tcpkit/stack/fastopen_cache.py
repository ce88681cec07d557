"""What a host remembers about each server for TCP Fast Open (Linux tcp_metrics'
``tcp_fastopen_metrics``: ``tcp_fastopen_cache_get`` and ``tcp_fastopen_cache_set``),
flushed by ``ip tcp_metrics flush``. Linux keeps it per destination address."""

from __future__ import annotations

from dataclasses import dataclass

from tcpkit.tcp.events import FastOpenLearned
from tcpkit.tcp.fastopen import FastOpenAttempt

TFO_CLIENT_ENABLE = 0x1  # net.ipv4.tcp_fastopen bit: clients may use Fast Open
TFO_SERVER_ENABLE = 0x2  # ... and servers (tcpkit has no Fast Open server)


@dataclass(slots=True)
class _Server:
    mss: int = 0
    cookie: bytes = b""
    experimental: bool = False  # the cookie came in the experimental option
    try_exp: int = 0  # 1: ask with the experimental option next time


class FastOpenCache:
    """Cookies and MSSs by server address."""

    __slots__ = ("_servers",)

    def __init__(self) -> None:
        self._servers: dict[str, _Server] = {}

    def attempt(self, address: str) -> FastOpenAttempt:
        """A Fast Open for a connection to ``address``: with the cookie and MSS kept,
        or asking for a cookie (``tcp_fastopen_cache_get``)."""
        known = self._servers.get(address)
        if known is None:
            return FastOpenAttempt()
        if known.cookie:
            return FastOpenAttempt(known.cookie, known.experimental, known.mss)
        return FastOpenAttempt(b"", known.try_exp == 1, known.mss)

    def learned(self, address: str, event: FastOpenLearned) -> None:
        """``tcp_fastopen_cache_set``: keep what the SYN-ACK said. Linux also counts
        SYN-data losses there, but only ``ip tcp_metrics show`` reads the count (what
        turns Fast Open off is a global blackhole check, off by default and not
        modelled), so it is not kept."""
        known = self._servers.setdefault(address, _Server())
        if event.mss:
            known.mss = event.mss
        if event.cookie:
            known.cookie, known.experimental = event.cookie, event.experimental
        elif event.try_exp > known.try_exp and not known.cookie and not known.experimental:
            known.try_exp = event.try_exp

    def flush(self) -> None:
        """``ip tcp_metrics flush all``."""
        self._servers.clear()

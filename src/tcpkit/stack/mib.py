"""A host's counters, with the names Linux's ``nstat`` prints (``/proc/net/snmp`` and
``/proc/net/netstat``): ``TcpActiveOpens``, ``TcpExtListenOverflows``, ...

Each name is the MIB group (``Ip``, ``Icmp``, ``Tcp``, ``TcpExt``) glued to the counter's
name, as ``nstat`` shows them, so a tcpkit counter and a kernel one compare by name.
The meanings are RFC 4022's for ``Tcp`` and RFC 4293's for ``Ip``; ``TcpExt`` ones are
Linux's own (include/uapi/linux/snmp.h).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

COUNTERS: Final = frozenset({
    # RFC 4293 ipSystemStats, as Linux names them.
    "IpInReceives", "IpInHdrErrors", "IpInAddrErrors", "IpInUnknownProtos",
    "IpInDelivers", "IpOutRequests", "IpOutNoRoutes", "IpReasmReqds", "IpReasmOKs",
    "IpReasmFails", "IpReasmTimeout", "IpFragOKs", "IpFragCreates", "IpFragFails",
    "IpInDiscards", "IpOutDiscards", "IpForwDatagrams", "IpExtInNoRoutes",
    # RFC 792 / RFC 4293 ICMP.
    "IcmpInMsgs", "IcmpInErrors", "IcmpInDestUnreachs", "IcmpOutMsgs", "IcmpOutDestUnreachs",
    "IcmpOutRateLimitHost", "IcmpOutTimeExcds",
    # RFC 4022 tcp group.
    "TcpActiveOpens", "TcpPassiveOpens", "TcpAttemptFails", "TcpEstabResets",
    "TcpInSegs", "TcpOutSegs", "TcpRetransSegs", "TcpInErrs", "TcpOutRsts", "TcpInCsumErrors",
    # Linux TcpExt (include/uapi/linux/snmp.h).
    "TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtSyncookiesSent",
    "TcpExtSyncookiesRecv", "TcpExtSyncookiesFailed", "TcpExtTCPTimeouts",
    "TcpExtTCPReqQFullDrop", "TcpExtTCPReqQFullDoCookies", "TcpExtTW", "TcpExtTWRecycled",
    "TcpExtTCPAbortOnData", "TcpExtTCPAbortOnClose", "TcpExtTCPAbortOnTimeout",
    "TcpExtTCPAbortOnLinger", "TcpExtTCPAbortOnMemory", "TcpExtTCPKeepAlive",
    "TcpExtTCPWinProbe",
    "TcpExtEmbryonicRsts", "TcpExtPAWSEstab", "TcpExtTCPChallengeACK",
    "TcpExtTCPSynRetrans", "TcpExtTCPLossProbes", "TcpExtTCPFastRetrans",
    "TcpExtOutOfWindowIcmps", "TcpExtLockDroppedIcmps", "TcpExtTCPTimeWaitOverflow",
    # Receive-side drops the engine reports (tcp_sequence, tcp_data_queue,
    # tcp_prune_queue, tcp_prune_ofo_queue).
    "TcpExtBeyondWindow", "TcpExtTCPZeroWindowDrop", "TcpExtTCPRcvQDrop", "TcpExtTCPOFODrop",
    "TcpExtPruneCalled", "TcpExtRcvPruned", "TcpExtOfoPruned",
    # A retransmission the device refused (__tcp_retransmit_skb).
    "TcpExtTCPRetransFail",
    # Fast Open, the client's side (tcp_rcv_fastopen_synack).
    "TcpExtTCPFastOpenActive", "TcpExtTCPFastOpenActiveFail",
})

class Counters:
    """The counters of one host; unknown names are a programming error (KeyError)."""

    __slots__ = ("_gauges", "_values")

    def __init__(self) -> None:
        self._values: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._gauges: dict[str, Callable[[], int]] = {}

    def gauge(self, name: str, read: Callable[[], int]) -> None:
        """A value read when asked for, not counted (``TcpCurrEstab``)."""
        self._gauges[name] = read

    def inc(self, name: str, by: int = 1) -> None:
        try:
            self._values[name] += by
        except KeyError:
            raise KeyError(f"no counter named {name!r}") from None

    def __getitem__(self, name: str) -> int:
        gauge = self._gauges.get(name)
        if gauge is not None:
            return gauge()
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"no counter named {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted([*self._values, *self._gauges]))

    def nonzero(self) -> dict[str, int]:
        """The counters that moved (and gauges not at zero), as ``nstat`` lists them."""
        return {name: value for name in self if (value := self[name])}

"""Pluggable congestion control: one small interface, algorithms registered by name.

The engine keeps cwnd and ssthresh in packets, as Linux does (``snd_cwnd``), and runs
loss recovery itself (fast retransmit, fast recovery, RTO: :mod:`tcpkit.tcp.recovery`);
an algorithm only decides how the window grows on ACKs and where ssthresh goes on a
loss, like Linux's ``struct tcp_congestion_ops``.
"""

from __future__ import annotations

from tcpkit.tcp.congestion.base import CongestionControl, Window
from tcpkit.tcp.congestion.reno import Reno

ALGORITHMS: dict[str, type[CongestionControl]] = {"reno": Reno, "newreno": Reno}


def create(name: str) -> CongestionControl:
    """A new instance of the algorithm called ``name`` (ValueError if unknown)."""
    try:
        return ALGORITHMS[name]()
    except KeyError:
        raise ValueError(f"unknown congestion control {name!r} (have: {', '.join(ALGORITHMS)})") \
            from None


__all__ = ["ALGORITHMS", "CongestionControl", "Reno", "Window", "create"]

"""NewReno's window arithmetic: slow start and additive increase (RFC 5681 §3.1).

Slow start: cwnd grows by one packet per packet acknowledged while cwnd < ssthresh;
congestion avoidance: by one packet per cwnd packets acknowledged. On a loss ssthresh
becomes half the window, at least 2 (RFC 5681 (4) counts flight size; Linux's reno,
``tcp_reno_ssthresh``, halves cwnd, and tcpkit follows Linux). The growth only happens
while the connection is using its window (``tcp_is_cwnd_limited``): an application that
sends little must not inflate cwnd (RFC 7661 §4.3). The recovery side of NewReno (fast
retransmit, partial ACKs, RFC 6582) is in :mod:`tcpkit.tcp.recovery`.
"""

from __future__ import annotations

from tcpkit.tcp.congestion.base import CongestionControl, Window

CWND_CLAMP = 0xFFFFFFFF


def slow_start(w: Window, acked: int) -> int:
    """Grow cwnd up to ssthresh; return the acknowledged packets left over (Linux
    ``tcp_slow_start``)."""
    cwnd = min(w.cwnd + acked, w.ssthresh)
    acked -= cwnd - w.cwnd
    w.cwnd = min(cwnd, CWND_CLAMP)
    return acked


def additive_increase(w: Window, per: int, acked: int) -> None:
    """One packet per ``per`` packets acknowledged (Linux ``tcp_cong_avoid_ai``)."""
    if w.cwnd_cnt >= per:
        w.cwnd_cnt = 0
        w.cwnd += 1
    w.cwnd_cnt += acked
    if w.cwnd_cnt >= per:
        delta = w.cwnd_cnt // per
        w.cwnd_cnt -= delta * per
        w.cwnd += delta
    w.cwnd = min(w.cwnd, CWND_CLAMP)


def cwnd_limited(w: Window) -> bool:
    """Linux ``tcp_is_cwnd_limited``: in slow start, grow to twice what was in flight."""
    if w.is_cwnd_limited:
        return True
    if w.cwnd < w.ssthresh:
        return w.cwnd < 2 * w.max_packets_out
    return False


class Reno(CongestionControl):
    """Linux ``reno``: RFC 5681 growth, halving on loss."""

    name = "reno"

    def cong_avoid(self, w: Window, acked: int) -> None:
        if not cwnd_limited(w):
            return
        if w.cwnd < w.ssthresh:
            acked = slow_start(w, acked)
            if not acked:
                return
        additive_increase(w, w.cwnd, acked)

    def ssthresh_on_loss(self, w: Window) -> int:
        return max(w.cwnd >> 1, 2)

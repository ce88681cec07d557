"""The interface every congestion control algorithm implements."""

from __future__ import annotations

from typing import Protocol


class Window(Protocol):
    """What an algorithm may read and change on the connection (all in packets)."""

    cwnd: int
    ssthresh: int
    cwnd_cnt: int
    is_cwnd_limited: bool
    max_packets_out: int


class CongestionControl:
    """Base class: override what the algorithm changes (Linux ``tcp_congestion_ops``)."""

    name = "base"

    def cong_avoid(self, w: Window, acked: int) -> None:
        """``acked`` packets were newly acknowledged in the Open state: grow cwnd."""
        raise NotImplementedError

    def ssthresh_on_loss(self, w: Window) -> int:
        """The new ssthresh when a loss is detected (fast retransmit or RTO)."""
        raise NotImplementedError

    def undo_cwnd(self, w: Window, prior_cwnd: int) -> int:
        """The cwnd to restore when a loss turns out to have been spurious."""
        return max(w.cwnd, prior_cwnd)

    def on_state(self, w: Window, new_state: int) -> None:
        """Called when the CA state changes (Open, Disorder, CWR, Recovery, Loss)."""

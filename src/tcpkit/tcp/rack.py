"""RACK: loss detection by time (RFC 8985 §6), as Linux does it (net/ipv4/tcp_recovery.c).

A segment is lost when a segment sent *after* it has been delivered (SACKed or
ACKed) and a little more than that segment's round trip has passed since it was sent:
RACK.rtt plus a reordering window. Only time counts, not how many segments arrived
above the hole, so one SACK is enough when the hole is old, a retransmission that is
lost again is found the same way, and a hole that is still young arms a timer (the
REO timer) instead of waiting for more duplicates.

Linux's choices, reproduced here:

* the reordering window is a quarter of the minimum RTT (at most SRTT);
  it is zero, so losses are marked at once, while no reordering has been seen and
  either recovery is under way or ``reordering`` (3) segments are SACKed above the
  hole, which keeps RFC 6675's duplicate-ACK threshold as a fast path
  (``tcp_rack_reo_wnd``);
* a retransmitted segment whose ACK came back sooner than the minimum RTT may have
  been the original's ACK: it does not advance RACK (``tcp_rack_advance``);
* reordering is seen when a never-retransmitted segment below the highest SACK is
  delivered; it also raises ``reordering`` (``tcp_check_sack_reordering``).

SACK connections always use RACK, as Linux 6.18 does; without SACK, loss is found by
RFC 6582's NewReno rule (recovery.py).

Not modelled: the growth of the window on D-SACKs (RFC 8985 §6.2 step 4, Linux
``tcp_rack_update_reo_wnd``, which needs the delivery rate sampler); the window stays
at one step.
"""

from __future__ import annotations

from tcpkit.tcp.config import usecs_to_jiffies
from tcpkit.tcp.sender import Sender
from tcpkit.tcp.tcb import XMIT_REO_TIMEOUT, CAState, SentSegment

# net.ipv4.tcp_recovery bits (include/net/tcp.h). The first, 0x1, chose RACK over
# RFC 6675's duplicate count; Linux 6.18 uses RACK whatever it says (measured here:
# lossy-transfer with tcp_recovery=0 still resends at the first SACK), and so does
# tcpkit.
RACK_NO_DUPTHRESH = 0x4
TIMEOUT_MIN_US = 2000  # TCP_TIMEOUT_MIN_US: the REO timer waits at least this more


def _sent_after(t1: float, t2: float, seq1: int, seq2: int) -> bool:
    """Linux ``tcp_skb_sent_after``: sent later, or at the same time but further on."""
    return t1 > t2 or (t1 == t2 and seq1 > seq2)


class Rack(Sender):
    """Loss marking: RACK's time rule and the bookkeeping it shares with the rest."""

    __slots__ = ()

    def _mark_lost(self, s: SentSegment) -> None:
        """Linux ``tcp_mark_skb_lost``: a retransmission lost again stops counting as
        in flight; either way the loss is counted (``tp->lost``)."""
        if s.sacked:
            return
        if s.lost:
            if s.retrans:
                s.retrans = False
                self.retrans_out -= 1
                self.lost += 1
        else:
            s.lost = True
            self.lost_out += 1
            self.lost += 1

    def _rack_advance(self, s: SentSegment, now: float) -> None:
        """Linux ``tcp_rack_advance`` (RFC 8985 §6.2 step 2): a newly delivered segment
        sets RACK.rtt and, if it was sent later than the current one, RACK's send time."""
        rtt_us = int((now - s.last_sent) * 1e6)
        if s.ever_retransmitted and rtt_us < self.rtt.min_rtt_us:
            return  # maybe the original's ACK: ambiguous
        self.rack_advanced = True
        self.rack_rtt_us = rtt_us
        if _sent_after(s.last_sent, self.rack_mstamp, s.end, self.rack_end_seq):
            self.rack_mstamp = s.last_sent
            self.rack_end_seq = s.end

    def _rack_reo_wnd(self) -> int:
        """Linux ``tcp_rack_reo_wnd`` (RFC 8985 §6.2 step 4), in microseconds."""
        if not self.reord_seen:
            if self.ca_state >= CAState.RECOVERY:
                return 0
            if (self.sacked_out >= self.reordering
                    and not self.config.recovery & RACK_NO_DUPTHRESH):
                return 0
        return min(self.rtt.min_rtt_us >> 2, self.rtt.srtt_us >> 3)

    def _rack_detect_loss(self, now: float) -> int:
        """Linux ``tcp_rack_detect_loss`` (RFC 8985 §6.2 step 5): mark lost every
        segment sent before RACK's whose time is up; return the longest wait (µs) of
        those whose time is not up yet (0: none)."""
        self._rtx_per_segment()
        reo_wnd = self._rack_reo_wnd()
        mstamp, end_seq = self.rack_mstamp, self.rack_end_seq
        deadline = self.rack_rtt_us + reo_wnd
        wait = 0
        for s in self.rtx:
            if s.sacked or (s.lost and not s.retrans):
                continue  # delivered, or marked and not yet sent again
            if not _sent_after(mstamp, s.last_sent, end_seq, s.end):
                if not s.ever_retransmitted:
                    # Sent after RACK's segment: so was everything above it, first
                    # sent later still (Linux walks a send-time-ordered list and stops).
                    break
                continue
            remaining = deadline - int((now - s.last_sent) * 1e6)
            if remaining <= 0:
                self._mark_lost(s)
            elif remaining > wait:
                wait = remaining
        return wait

    def _rack_mark_lost(self, now: float) -> bool:
        """Linux ``tcp_rack_mark_lost``: look for losses if RACK advanced; arm the REO
        timer for the segments not yet old enough. True if the timer was armed."""
        if not self.rack_advanced:
            return False
        self.rack_advanced = False
        wait = self._rack_detect_loss(now)
        if wait:
            ticks = min(usecs_to_jiffies(wait + TIMEOUT_MIN_US, self.config.hz),
                        self.rtt.rto_jiffies)
            self._set_xmit_timer_kind(XMIT_REO_TIMEOUT, self._jiffies_deadline(now, ticks))
        return bool(wait)

    def _check_sack_reordering(self, low_seq: int) -> None:
        """Linux ``tcp_check_sack_reordering``: data at ``low_seq``, never retransmitted,
        was delivered below the highest SACK: the path reorders, by that distance."""
        fack = self._highest_sack_end()
        if low_seq >= fack:
            return
        mss = self.mss_cache
        metric = fack - low_seq
        if mss and metric > self.reordering * mss:
            self.reordering = min((metric + mss - 1) // mss, self.config.max_reordering)
        self.reord_seen += 1

    def _highest_sack_end(self) -> int:
        """Linux ``tcp_highest_sack_seq``: the end of the highest SACKed segment."""
        if not self.sacked_out:
            return self.snd_una
        for s in reversed(self.rtx):
            if s.sacked:
                return s.end
        return self.snd_una

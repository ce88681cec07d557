"""Round-trip time estimation and the retransmission timeout (RFC 6298), as Linux does it.

RFC 6298 §2 gives SRTT, RTTVAR and RTO = SRTT + max(G, 4*RTTVAR), at least 1 s. Linux
(``tcp_rtt_estimator`` and ``tcp_set_rto`` in net/ipv4/tcp_input.c) follows it with two
well-known deviations that this module reproduces, because they decide when a real
kernel retransmits:

* the minimum (200 ms, ``TCP_RTO_MIN``) bounds the variance term, not the RTO:
  RTO = SRTT + max(mdev, rto_min) roughly, so on a LAN the RTO is about 200 ms + SRTT;
* a falling RTT reduces the deviation eight times slower (an "Eifel"-like gain), and
  the variance term only decays once per round trip.

Values are kept in integer microseconds with Linux's scalings (srtt << 3, mdev << 2);
the RTO is a whole number of jiffies (1/HZ s), rounded up like ``usecs_to_jiffies``.
Karn's algorithm (§3: no sample from a retransmitted segment) is the caller's job: it
only calls :meth:`sample` with valid measurements.
"""

from __future__ import annotations

from tcpkit.tcp.config import ConnectionConfig, usecs_to_jiffies

_NO_MIN = (0.0, 0xFFFFFFFF)


class RttEstimator:
    """SRTT/RTTVAR/RTO of one connection, plus the exponential backoff (RFC 6298 §5.5)."""

    __slots__ = ("_hz", "_min", "_rto_min_us", "backoff", "mdev_max_us", "mdev_us",
                 "rto_jiffies", "rto_max", "rtt_seq", "rttvar_us", "srtt_us")

    def __init__(self, config: ConnectionConfig) -> None:
        self._hz = config.hz
        self._rto_min_us = config.jiffies(config.rto_min) * 1_000_000 // config.hz
        self.rto_max = config.rto_max
        self.srtt_us = 0  # scaled by 8; 0 = no sample yet
        self.mdev_us = 0  # scaled by 4
        self.mdev_max_us = 0
        self.rttvar_us = 0
        self.rtt_seq = 0
        self.rto_jiffies = config.jiffies(config.rto_initial)
        self.backoff = 0
        # The windowed minimum: the best, second and third best (time, µs) samples of
        # the window (Kathleen Nichols' estimator, Linux lib/minmax.c).
        self._min = [_NO_MIN] * 3

    @property
    def srtt(self) -> float:
        """Smoothed RTT in seconds (0.0 before the first sample)."""
        return self.srtt_us / 8e6

    @property
    def rto(self) -> float:
        """The current RTO in seconds, without backoff."""
        return self.rto_jiffies / self._hz

    def backed_off_rto(self) -> float:
        """RTO << backoff, capped at the maximum (``inet_csk_rto_backoff``)."""
        return min(self.rto * (1 << self.backoff), self.rto_max)

    def sample(self, rtt_us: int, snd_una: int, snd_nxt: int) -> None:
        """Take a valid RTT measurement (RFC 6298 §2.2-2.3; Linux ``tcp_rtt_estimator``)."""
        m = max(rtt_us, 1)
        srtt = self.srtt_us
        if srtt:
            m -= srtt >> 3
            srtt += m
            if m < 0:
                m = -m
                m -= self.mdev_us >> 2
                if m > 0:
                    m >>= 3
            else:
                m -= self.mdev_us >> 2
            self.mdev_us += m
            if self.mdev_us > self.mdev_max_us:
                self.mdev_max_us = self.mdev_us
                self.rttvar_us = max(self.rttvar_us, self.mdev_max_us)
            if snd_una > self.rtt_seq:
                if self.mdev_max_us < self.rttvar_us:
                    self.rttvar_us -= (self.rttvar_us - self.mdev_max_us) >> 2
                self.rtt_seq = snd_nxt
                self.mdev_max_us = self._rto_min_us
        else:
            srtt = m << 3
            self.mdev_us = m << 1
            self.rttvar_us = max(self.mdev_us, self._rto_min_us)
            self.mdev_max_us = self.rttvar_us
            self.rtt_seq = snd_nxt
        self.srtt_us = max(1, srtt)
        self._set_rto()
        self.backoff = 0  # RFC 6298 §5.7: a valid sample ends the backoff

    @property
    def min_rtt_us(self) -> int:
        """The lowest RTT of the window (Linux ``tcp_min_rtt``; ~0U before a sample)."""
        return self._min[0][1]

    def sample_min(self, rtt_us: int, now: float, window: float) -> None:
        """Feed the windowed minimum filter (Linux ``tcp_update_rtt_min``): a new
        lowest value replaces everything; older estimates expire after ``window``
        seconds, handing over to the second and third best, which are refreshed after a
        quarter and a half of the window so that an expiring best has successors."""
        sample = (now, rtt_us or 1_000_000 // self._hz)
        best, second, third = self._min
        if sample[1] <= best[1] or now - third[0] > window:
            self._min = [sample] * 3
            return
        if sample[1] <= second[1]:
            second = third = sample
        elif sample[1] <= third[1]:
            third = sample
        age = now - best[0]
        if age > window:
            best, second, third = second, third, sample
            if now - best[0] > window:
                best, second, third = second, third, sample
        elif second[0] == best[0] and age > window / 4:
            second = third = sample
        elif third[0] == second[0] and age > window / 2:
            third = sample
        self._min = [best, second, third]

    def fallback(self) -> None:
        """RFC 6298 §5.7: the handshake needed retransmissions and gave no sample, so the
        RTO goes back to 3 s (Linux ``tcp_init_metrics``)."""
        self.rttvar_us = 3_000_000
        self.mdev_us = self.mdev_max_us = self.rttvar_us
        self.rto_jiffies = 3 * self._hz

    @property
    def rto_max_jiffies(self) -> int:
        return int(self.rto_max * self._hz)

    def back_off(self) -> None:
        """RFC 6298 §5.5: double the RTO, up to the maximum."""
        self.backoff += 1
        self.rto_jiffies = min(self.rto_jiffies << 1, self.rto_max_jiffies)

    def revert_backoff(self, initial_jiffies: int) -> None:
        """RFC 6069 §4 (Linux ``tcp_ld_RTO_revert``): undo one doubling. The RTO is
        recomputed from SRTT and RTTVAR (``initial_jiffies`` before any sample) and
        shifted by the backoff left (``inet_csk_rto_backoff``)."""
        self.backoff -= 1
        base = self._base_rto_jiffies() if self.srtt_us else initial_jiffies
        self.rto_jiffies = min(base << self.backoff, self.rto_max_jiffies)

    def _base_rto_jiffies(self) -> int:
        """SRTT + RTTVAR in jiffies, without backoff (Linux ``__tcp_set_rto``)."""
        return usecs_to_jiffies((self.srtt_us >> 3) + self.rttvar_us, self._hz)

    def _set_rto(self) -> None:
        self.rto_jiffies = min(self._base_rto_jiffies(), self.rto_max_jiffies)

"""Timeouts (RFC 9293 §3.10.8): retransmission, zero-window probe, tail loss probe,
delayed ACK, keepalive, FIN_WAIT_2 and TIME_WAIT.

Timers are deadlines stored on the connection; :meth:`Timers.next_deadline` tells the
driver the earliest one and :meth:`Timers.on_timer` runs every timer that is due. The
handlers are Linux's (net/ipv4/tcp_timer.c): ``tcp_retransmit_timer`` with
``tcp_write_timeout`` (when to give up: SYN retries, ``tcp_retries2`` modelled as a
time budget, TCP_USER_TIMEOUT), ``tcp_probe_timer``, ``tcp_delack_timer_handler`` and
``tcp_keepalive_timer``. Giving up reports ETIMEDOUT, or the soft error an ICMP message
left (EHOSTUNREACH, ...), once.
"""

from __future__ import annotations

import errno

from tcpkit.tcp.config import TCP_TIMEWAIT_LEN
from tcpkit.tcp.recovery import Recovery
from tcpkit.tcp.state import Event, State
from tcpkit.tcp.tcb import ACK_TIMER, XMIT_LOSS_PROBE, XMIT_PROBE0, XMIT_REO_TIMEOUT, XMIT_RETRANS

# TCP_RESOURCE_PROBE_INTERVAL (HZ/2): the retry after the device refused a packet.
RESOURCE_PROBE_INTERVAL = 0.5


class Timers(Recovery):
    """Timer deadlines and their handlers."""

    __slots__ = ()

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`on_timer` has something to do, or None."""
        deadlines = [d for d in (self.xmit_deadline, self.delack_deadline,
                                 self.comp_sack_deadline, self.keepalive_deadline,
                                 self.finwait2_deadline, self.timewait_deadline)
                     if d is not None]
        return min(deadlines) if deadlines else None

    def on_timer(self, now: float) -> None:
        """Run every timer due at ``now`` (RFC 9293 §3.10.8)."""
        self.clock = now
        if self.comp_sack_deadline is not None and now >= self.comp_sack_deadline:
            self.comp_sack_deadline = None
            if self.compressed_ack:
                self._send_ack(now)
        if self.delack_deadline is not None and now >= self.delack_deadline:
            self.delack_deadline = None
            self._delack_timer(now)
        if self.xmit_deadline is not None and now >= self.xmit_deadline:
            kind = self.xmit_kind
            if kind in (XMIT_LOSS_PROBE, XMIT_REO_TIMEOUT):
                # Linux tcp_write_timer_handler leaves icsk_pending set for these: the
                # RTO they rearm keeps its schedule from the oldest segment's
                # transmission (tcp_rearm_rto), not from now.
                self.xmit_deadline = None
            else:
                self._clear_xmit_timer()
            if kind == XMIT_RETRANS:
                self._retransmit_timer(now)
            elif kind == XMIT_PROBE0:
                self._probe_timer(now)
            elif kind == XMIT_LOSS_PROBE:
                self._send_loss_probe(now)
            elif kind == XMIT_REO_TIMEOUT:
                self._rack_reo_timeout(now)
        if self.keepalive_deadline is not None and now >= self.keepalive_deadline:
            self.keepalive_deadline = None
            self._keepalive_timer(now)
        if self.finwait2_deadline is not None and now >= self.finwait2_deadline:
            self.finwait2_deadline = None
            if self.state is State.FIN_WAIT_2:
                self._done(Event.FIN_WAIT_2_TIMEOUT, "FIN_WAIT_2 timed out (tcp_fin_timeout)")
        if self.timewait_deadline is not None and now >= self.timewait_deadline:
            self.timewait_deadline = None
            if self.state is State.TIME_WAIT:
                self._done(Event.TIMEWAIT_TIMEOUT, "TIME_WAIT over (2MSL)")

    # -- delayed ACK ------------------------------------------------------------------

    def _delack_timer(self, now: float) -> None:
        """Linux ``tcp_delack_timer_handler``: send the delayed ACK, and learn from the
        wait: outside an interactive exchange the next delay doubles (up to the RTO);
        inside one, the exchange is over and quick ACKs return."""
        if self.state in (State.CLOSED, State.LISTEN) or not self.ack_pending & ACK_TIMER:
            return
        self.ack_pending &= ~ACK_TIMER
        if self.ack_pending & 1:
            if not self._in_pingpong():
                self.ato = min(self.ato << 1, self.rtt.rto_jiffies)
            else:
                self.pingpong = 0
                self.ato = self._ato_min()
            self._send_ack(now)

    # -- retransmission timeout (RFC 6298 §5) -----------------------------------------------

    def _retransmit_timer(self, now: float) -> None:
        """Linux ``tcp_retransmit_timer``: give up, or retransmit the oldest segment,
        enter Loss and back the timer off."""
        if not self.packets_out or not self.rtx:
            return
        self._rtx_per_segment()
        self.tlp_high_seq = 0
        head = self.rtx[0]
        if (not self.snd_wnd and not self.orphan
                and self.state not in (State.SYN_SENT, State.SYN_RECEIVED)):
            # The peer shrank its window to zero under our data: retransmissions become
            # window probes and never time out while the peer answers (RFC 1122).
            if now - self.rcv_tstamp > self.config.rto_max:
                self._write_err("retransmissions to a zero window unanswered")
                return
            self._enter_loss()
            self._retransmit(head, now)
            self._backoff_and_rearm(now)
            return
        if self._write_timeout(now):
            return
        self.total_rto += 1
        self._enter_loss()
        self.retransmits += 1
        if not self._retransmit(head, now):
            # Local congestion: try again soon, without backing off.
            self._set_xmit_timer_kind(
                XMIT_RETRANS, self._deadline_after(now, RESOURCE_PROBE_INTERVAL))
            return
        self._backoff_and_rearm(now)

    def _backoff_and_rearm(self, now: float) -> None:
        """RFC 6298 §5.5: double the RTO, up to the maximum. Linux 6.x keeps a SYN's
        first ``tcp_syn_linear_timeouts`` retransmissions 1 RTO apart."""
        rtt = self.rtt
        if self.state is not State.SYN_SENT or self.total_rto > self.config.syn_linear_timeouts:
            rtt.back_off()
        ticks = self._clamp_rto_to_user_timeout(now)
        self._set_xmit_timer_kind(XMIT_RETRANS, self._jiffies_deadline(now, ticks))

    def _clamp_rto_to_user_timeout(self, now: float) -> int:
        """Linux ``tcp_clamp_rto_to_user_timeout``: fire when TCP_USER_TIMEOUT ends."""
        timeout = self.config.user_timeout
        if not timeout:
            return self.rtt.rto_jiffies
        start = now if self.retrans_stamp is None else self.retrans_stamp
        remaining = timeout - (now - start)
        if remaining <= 0:
            return 1
        return min(self.rtt.rto_jiffies, self.config.jiffies(remaining))

    def _model_timeout(self, boundary: int, rto_base: float) -> float:
        """Linux ``tcp_model_timeout``: how long ``boundary`` exponentially backed-off
        retransmissions take from ``rto_base``, capped at TCP_RTO_MAX each."""
        rto_max = self.config.rto_max
        thresh = (int(rto_max / rto_base)).bit_length() - 1
        if boundary <= thresh:
            return ((2 << boundary) - 1) * rto_base
        return ((2 << thresh) - 1) * rto_base + (boundary - thresh) * rto_max

    def _retransmits_timed_out(self, boundary: int, timeout: float, now: float) -> bool:
        """Linux ``retransmits_timed_out``: retries are a time budget measured from the
        first retransmission's original send time."""
        if not self.retransmits:
            return False
        if not timeout:
            base = self.config.rto_initial if self.state in (
                State.SYN_SENT, State.SYN_RECEIVED) else self.config.rto_min
            timeout = self._model_timeout(boundary, base)
        start = now if self.retrans_stamp is None else self.retrans_stamp
        # Compared in the millisecond timestamp clock, as Linux does.
        return int(now * 1000) - int(start * 1000) >= int(timeout * 1000 + 1e-6)

    def _write_timeout(self, now: float) -> bool:
        """Linux ``tcp_write_timeout``: True if the connection was given up."""
        cfg = self.config
        expired = False
        if self.state in (State.SYN_SENT, State.SYN_RECEIVED):
            retry_until = cfg.syn_retries if self.state is State.SYN_SENT else cfg.synack_retries
            max_retransmits = retry_until
            if self.state is State.SYN_SENT:
                max_retransmits += cfg.syn_linear_timeouts
            expired = self.retransmits >= max_retransmits
        else:
            retry_until = cfg.retries2
            if self.orphan:
                alive = self.rtt.rto < cfg.rto_max
                retry_until = self._orphan_retries(alive)
        if not expired:
            expired = self._retransmits_timed_out(retry_until, cfg.user_timeout, now)
        if expired:
            self._write_err("retransmissions unanswered")
        return expired

    def _orphan_retries(self, alive: bool) -> int:
        """Linux ``tcp_orphan_retries``: 0 means 8 for an orphan still making progress."""
        retries = self.config.orphan_retries
        if self.soft_error and not alive:
            retries = 0
        if retries == 0 and alive:
            retries = 8
        return retries

    def _write_err(self, cause: str) -> None:
        """Linux ``tcp_write_err``: the soft error ICMP reported, else ETIMEDOUT."""
        err = self.soft_error or errno.ETIMEDOUT
        self._done(Event.GIVE_UP, cause, err)

    # -- zero-window probes (RFC 9293 §3.8.6.1) ----------------------------------------------

    def _probe_timer(self, now: float) -> None:
        """Linux ``tcp_probe_timer``: probe a zero window; give up only after
        ``tcp_retries2`` unanswered probes, or TCP_USER_TIMEOUT of them."""
        if self.packets_out or self.snd_nxt >= self.write_seq:
            self.probes_out = 0
            self.probes_tstamp = None
            return
        cfg = self.config
        if self.probes_tstamp is None:
            self.probes_tstamp = now
        elif cfg.user_timeout and now - self.probes_tstamp >= cfg.user_timeout:
            self._write_err("zero-window probes unanswered (TCP_USER_TIMEOUT)")
            return
        max_probes = cfg.retries2
        if self.orphan:
            alive = self.rtt.backed_off_rto() < cfg.rto_max
            max_probes = self._orphan_retries(alive)
            if not alive and self.rtt.backoff >= max_probes:
                self._write_err("zero-window probes of an orphan unanswered")
                return
        if self.probes_out >= max_probes:
            self._write_err("zero-window probes unanswered")
            return
        self._send_probe0(now)

    def _send_probe0(self, now: float) -> None:
        """Linux ``tcp_send_probe0``: after a probe the device refused, the next comes
        after TCP_RESOURCE_PROBE_INTERVAL, not backed off."""
        sent = self._write_wakeup(now, "TcpExtTCPWinProbe")
        if self.packets_out or self.snd_nxt >= self.write_seq:
            self.probes_out = 0
            self.rtt.backoff = 0
            self.probes_tstamp = None
            return
        self.probes_out += 1
        if sent:
            if self.rtt.backoff < self.config.retries2:
                self.rtt.backoff += 1
            when = self._probe0_when()
        else:
            when = RESOURCE_PROBE_INTERVAL
        when = min(when, self._user_timeout_clamp_probe(now))
        self._set_xmit_timer_kind(XMIT_PROBE0, self._deadline_after(now, when))

    # -- keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6) -----------------------------------

    def _keepalive_time_elapsed(self, now: float) -> float:
        return min(now - self.lrcvtime, now - self.rcv_tstamp)

    def _arm_keepalive(self, now: float, seconds: float) -> None:
        self.keepalive_deadline = self._deadline_after(now, seconds)

    def _keepalive_timer(self, now: float) -> None:
        """Linux ``tcp_keepalive_timer``: after ``keepalive_time`` of silence, probe at
        SND.UNA-1 every ``keepalive_intvl``; ``keepalive_probes`` unanswered probes (or
        TCP_USER_TIMEOUT) end the connection with a RST and ETIMEDOUT."""
        cfg = self.config
        if self.state is State.FIN_WAIT_2 and self.orphan:
            self._finwait2_timeout(now)
            return
        if not cfg.keepalive or self.state in (State.CLOSED, State.SYN_SENT, State.LISTEN):
            return
        when = cfg.keepalive_time
        if self.packets_out or self.snd_nxt < self.write_seq:
            self._arm_keepalive(now, when)
            return
        elapsed = self._keepalive_time_elapsed(now)
        if elapsed + 1e-9 >= when:
            if ((cfg.user_timeout and elapsed >= cfg.user_timeout and self.probes_out > 0)
                    or (not cfg.user_timeout and self.probes_out >= cfg.keepalive_probes)):
                self._send_active_reset(now)
                self._write_err("keepalive probes unanswered")
                return
            if self._write_wakeup(now, "TcpExtTCPKeepAlive"):
                self.probes_out += 1
                self._arm_keepalive(now, cfg.keepalive_intvl)
            else:  # lost to local congestion: try harder
                self._arm_keepalive(now, RESOURCE_PROBE_INTERVAL)
        else:
            self._arm_keepalive(now, when - elapsed)

    # -- FIN_WAIT_2 and TIME_WAIT -------------------------------------------------------

    def _fin_time(self) -> float:
        """Linux ``tcp_fin_time``: tcp_fin_timeout, at least 3.5 RTOs."""
        return max(self.config.fin_timeout, 3.5 * self.rtt.rto)

    def _finwait2_timeout(self, now: float) -> None:
        tmo = self._fin_time() - TCP_TIMEWAIT_LEN
        if tmo > 0:
            self.finwait2_deadline = self._deadline_after(now, TCP_TIMEWAIT_LEN)
            return
        self._send_active_reset(now)
        self._done(Event.FIN_WAIT_2_TIMEOUT, "FIN_WAIT_2 timed out (tcp_fin_timeout)")


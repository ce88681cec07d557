"""ICMP errors about a connection's segments (RFC 9293 §3.9, RFC 1122 §4.2.3.9, RFC
1191 path MTU discovery), as Linux ``tcp_v4_err`` treats them.

The host reads the ICMP message, finds the connection from the quoted TCP header and
calls :meth:`IcmpErrors.on_icmp_error` with the errno the message stands for (the host
owns Linux's ``icmp_err_convert`` table) or :meth:`IcmpErrors.on_mtu_reduced` for
"fragmentation needed". What the connection does:

* the quoted sequence number must lie in [SND.UNA, SND.NXT], or the message is ignored
  (an off-path forgery cannot hit a live connection: RFC 5927 §4.1);
* while connecting (SYN-SENT, SYN-RECEIVED) any destination unreachable is fatal: connect()
  fails with its errno at once (Linux: ``tcp_done_with_error``);
* once synchronized, RFC 1122 §4.2.3.9 lets TCP treat them as soft: the errno is kept
  (``sk_err_soft``) and reported only if the connection later times out;
* network and host unreachable also undo one step of the retransmission backoff
  (RFC 6069, Linux ``tcp_ld_RTO_revert``): the path is broken, not congested, so
  retransmissions keep probing at the base RTO and find it again sooner;
* fragmentation needed lowers the MSS and resends what no longer fits
  (``tcp_v4_mtu_reduced`` and ``tcp_simple_retransmit``).
"""

from __future__ import annotations

from tcpkit.tcp.config import usecs_to_jiffies
from tcpkit.tcp.seq import unwrap
from tcpkit.tcp.state import Event, State
from tcpkit.tcp.tcb import XMIT_RETRANS
from tcpkit.tcp.user_calls import UserCalls

IPV4_MIN_MTU = 68  # RFC 791: every host must take 68-byte datagrams


class IcmpErrors(UserCalls):
    """ICMP errors (see the module docstring)."""

    __slots__ = ()

    def _icmp_applies(self, quoted_seq: int) -> bool:
        """A live connection, and the quoted segment is one of ours in flight."""
        if self.state in (State.CLOSED, State.LISTEN, State.TIME_WAIT):
            return False
        seq = unwrap(quoted_seq, self.snd_una)
        return self.snd_una <= seq <= self.snd_nxt

    def on_icmp_error(self, err: int, quoted_seq: int, now: float, *,
                      revert_backoff: bool = False) -> bool:
        """An ICMP error with errno ``err`` quoting a segment of ours that began at
        ``quoted_seq``. Returns False if it was ignored (out of window, or no longer
        relevant), which the host counts as ``OutOfWindowIcmps``."""
        if not self._icmp_applies(quoted_seq):
            return False
        state = self.state
        self.clock = now
        if revert_backoff:
            self._revert_rto(quoted_seq, now)
        if state in (State.SYN_SENT, State.SYN_RECEIVED):
            self._done(Event.ABORT if state is State.SYN_RECEIVED else Event.CLOSE,
                       f"ICMP error while connecting: {err}", err)
            return True
        self.soft_error = err  # RFC 1122 §4.2.3.9: soft; reported if we give up later
        return True

    def _revert_rto(self, quoted_seq: int, now: float) -> None:
        """RFC 6069 §4 (Linux ``tcp_ld_RTO_revert``): an unreachable quoting the oldest
        unacknowledged segment, while retransmitting, undoes one doubling of the RTO;
        if the shorter timeout has already run out, the retransmission goes now."""
        rtt = self.rtt
        if (unwrap(quoted_seq, self.snd_una) != self.snd_una or not self.retransmits
                or not rtt.backoff or not self.rtx):
            return
        cfg = self.config
        rtt.revert_backoff(cfg.jiffies(cfg.rto_initial))
        elapsed_us = int((now - self.rtx[0].last_sent) * 1_000_000)
        remaining = rtt.rto_jiffies - usecs_to_jiffies(elapsed_us, cfg.hz)
        if remaining > 0:
            self._set_xmit_timer_kind(XMIT_RETRANS, self._jiffies_deadline(now, remaining))
        else:
            self._retransmit_timer(now)

    def on_mtu_reduced(self, mtu: int, quoted_seq: int, now: float) -> bool:
        """ICMP fragmentation needed with next-hop MTU ``mtu`` (RFC 1191 §4)."""
        if not self._icmp_applies(quoted_seq):
            return False
        mtu = max(mtu, IPV4_MIN_MTU)
        if mtu >= self.config.mtu:
            return True
        self.clock = now
        old_mss = self.mss_cache
        self.own_config().mtu = mtu
        self._sync_mss()
        if self.mss_cache < old_mss and self.state not in (State.SYN_SENT,
                                                            State.SYN_RECEIVED):
            self._simple_retransmit(now)
        return True

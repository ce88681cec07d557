"""What every part of the engine shares: state transitions, the end of a connection,
events, and time as Linux counts it.

The engine is one object built from a chain of mixins, each a file of its own:
``core`` → ``window`` → ``output`` → ``receiver`` → ``sender`` → ``recovery`` →
``timers`` → ``segment_arrives`` → ``user_calls`` → ``connection``. Each layer calls
only the layers before it, so the chain reads (and type-checks) from the bottom up.
"""

from __future__ import annotations

import errno
import os

from tcpkit.tcp.events import ConnectionClosed, ConnectionEvent, ConnectionFailed, StateChanged
from tcpkit.tcp.state import Event, State, next_state
from tcpkit.tcp.tcb import TCB, XMIT_NONE, CAState, SentSegment

# First delay (in jiffies) of each timer-wheel level (LVL_START(n) = 63 << 3(n-1)).
LEVEL_START = (0, 63, 504, 4032, 32256, 258048, 2064384, 16515072, 132120576, 1 << 62)

# Errors and the reason each one is reported, in one place (RFC 9293 §3.10.7, Linux
# tcp_reset / tcp_write_err / tcp_done_with_error).
RESET_ERRNO = {
    State.SYN_SENT: errno.ECONNREFUSED,  # RST answering our SYN: "connection refused"
    State.CLOSE_WAIT: errno.EPIPE,  # Linux: the peer already finished, we wrote: broken pipe
}


class Core(TCB):
    """Transitions, the end of a connection, events and clocks."""

    __slots__ = ()

    # -- state ----------------------------------------------------------------------

    def _transition(self, event: Event, cause: str) -> None:
        """Move to the state ``event`` leads to (the table in :mod:`state` decides)."""
        old = self.state
        new = next_state(old, event)
        self.state = new
        self.events.append(StateChanged(old, new, event, cause))

    def _closed(self) -> bool:
        """Is the TCB gone? (A method, so type checkers do not assume the state a
        previous comparison saw still holds after calls that change it.)"""
        return self.state is State.CLOSED

    def _emit(self, event: ConnectionEvent) -> None:
        self.events.append(event)

    def _done(self, event: Event, cause: str, err: int = 0) -> None:
        """The connection is over (Linux ``tcp_done``): stop every timer, drop what was
        waiting to be sent, report ``err`` if any, and go to CLOSED."""
        if err:
            self.error = err
            self._emit(ConnectionFailed(err, cause))
        if self.state is not State.CLOSED:
            self._transition(event, cause)
        self.rcv_shutdown = self.snd_shutdown = True
        self._clear_timers()
        self.rtx.clear()
        if self.zerocopy is not None:  # tcp_write_queue_purge frees their buffers
            self.zerocopy.purge(dead=self.orphan)
        self.sent_skbs = 0
        self.packets_out = self.sacked_out = self.lost_out = self.retrans_out = 0
        self._emit(ConnectionClosed(cause))

    def _reset_received(self, cause: str) -> None:
        """A valid RST arrived (Linux ``tcp_reset``): the errno depends on the state."""
        err = RESET_ERRNO.get(self.state, errno.ECONNRESET)
        self._done(Event.RCV_RST, cause, err)

    def _clear_timers(self) -> None:
        self.xmit_deadline = self.delack_deadline = None
        self.xmit_kind = XMIT_NONE
        self.keepalive_deadline = self.finwait2_deadline = self.timewait_deadline = None
        self.comp_sack_deadline = None
        self.ack_pending = 0

    # -- clocks ---------------------------------------------------------------------

    def _jiffies_deadline(self, now: float, ticks: int) -> float:
        """When a Linux timer armed now for ``ticks`` jiffies really fires.

        Linux's timer wheel (kernel/time/timer.c ``calc_wheel_index``) never fires
        early: it rounds the expiry up to the granularity of the wheel level the delay
        falls in (1 jiffy below 63 jiffies, then 8, 64, 512, ... jiffies), always at
        least one tick later. That is why a 1 s RTO is seen after 1.004 to 1.032 s and
        a bare FIN is acknowledged on the next tick.
        """
        hz = self.config.hz
        clk = int(now * hz + 1e-9)
        if 0 <= ticks < 63:
            return (clk + ticks + 1) / hz  # level 0: one-jiffy slots
        expires = clk + max(ticks, 0)
        level = 0
        while level < 8 and ticks >= LEVEL_START[level + 1]:
            level += 1
        shift = 3 * level
        return (((expires >> shift) + 1) << shift) / hz

    def _deadline_after(self, now: float, seconds: float) -> float:
        return self._jiffies_deadline(now, self.config.jiffies(seconds))

    def _ts_raw(self, now: float) -> int:
        """Our millisecond timestamp clock without the connection's offset: the clock
        RTT samples are measured in (an echoed TSecr has the offset taken off)."""
        return int(now * 1000) & 0xFFFFFFFF

    def _ts_now(self, now: float) -> int:
        """TSval for a segment sent now: the millisecond clock plus this connection's
        offset (Linux ``tcp_time_stamp`` + ``tsoffset``, RFC 7323 §5.4)."""
        return (int(now * 1000) + self.ts_offset) & 0xFFFFFFFF

    # -- shared counters --------------------------------------------------------------

    def _in_flight(self) -> int:
        """Packets believed in the network (Linux ``tcp_packets_in_flight``, RFC 6675
        "pipe"): sent, minus those SACKed or deemed lost, plus retransmissions."""
        return self.packets_out - (self.sacked_out + self.lost_out) + self.retrans_out

    def _set_ca_state(self, new: CAState) -> None:
        self.cc.on_state(self, int(new))
        self.ca_state = new

    def _error_or(self, default: int) -> OSError:
        """The pending error (reported once, then cleared) or ``default`` (Linux
        ``sock_error`` / ``sk_stream_error``)."""
        err = self.error or default
        self.error = 0
        return OSError(err, os.strerror(err))


__all__ = ["Core", "SentSegment"]

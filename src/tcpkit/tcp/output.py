"""Building outgoing segments: header fields, options in Linux's layout, and the
bookkeeping every transmission does (Linux ``tcp_transmit_skb``, ``tcp_options_write``).

Option layouts, byte for byte as Linux writes them:

* SYN and SYN-ACK: ``mss``, then ``sackOK,TS`` (or ``nop,nop,TS`` without SACK, or
  ``nop,nop,sackOK`` without timestamps), then ``nop,wscale`` — only what was offered
  (SYN) or agreed (SYN-ACK);
* every other segment: ``nop,nop,TS`` when timestamps were agreed, then
  ``nop,nop,sack N`` with a D-SACK block first (RFC 2883) and as many SACK blocks as fit
  in the 40-byte option space (3 with timestamps, 4 without; RFC 2018 §3).
"""

from __future__ import annotations

from collections.abc import Callable

from tcpkit.tcp.config import MAX_SACK_BLOCKS
from tcpkit.tcp.seq import MASK
from tcpkit.tcp.state import State
from tcpkit.tcp.tcb import ACK_NOW
from tcpkit.tcp.window import Window
from tcpkit.wire.tcp import ACK, RST, SYN, URG, TCPSegment
from tcpkit.wire.tcp_options import (
    MSS,
    NOP,
    SACK_PERMITTED,
    Sack,
    TCPOption,
    Timestamps,
    WindowScale,
)


class Output(Window):
    """Segment construction and the per-transmission side effects."""

    __slots__ = ()

    def _ato_min(self) -> int:
        return self.ato_min

    def _syn_options(self, now: float, *, synack: bool) -> tuple[TCPOption, ...]:
        """Options of our SYN (what we offer) or SYN-ACK (what was agreed)."""
        cfg = self.config
        if synack:
            ts, sack, ws = self.ts_ok, self.sack_ok, self.wscale_ok
        else:
            ts, sack, ws = cfg.timestamps, cfg.sack, cfg.window_scaling
        opts: list[TCPOption] = [MSS(self.advmss)]
        if ts:
            stamp = Timestamps(self._ts_now(now), self.ts_recent)
            opts += [SACK_PERMITTED, stamp] if sack else [NOP, NOP, stamp]
        elif sack:
            opts += [NOP, NOP, SACK_PERMITTED]
        if ws:
            opts += [NOP, WindowScale(self.rcv_wscale)]
        if not synack and self.fastopen is not None:
            opts += self.fastopen.syn_option(sum(len(o.to_bytes()) for o in opts))
        return tuple(opts)

    def _established_options(self, now: float) -> tuple[TCPOption, ...]:
        """Timestamps and SACK blocks (Linux ``tcp_established_options``)."""
        if self.ts_ok:
            tsval = self._ts_now(now)
            opts = self.ts_options
            stamp = opts[2] if opts else None
            if not isinstance(stamp, Timestamps) or stamp.tsval != tsval \
                    or stamp.tsecr != self.ts_recent:
                # A burst sent at one instant shares one option tuple.
                opts = self.ts_options = (NOP, NOP, Timestamps(tsval, self.ts_recent))
            room = 3
        else:
            opts = ()
            room = MAX_SACK_BLOCKS
        if self.sack_ok and (self.dsack is not None or self.sack_blocks):
            blocks = [self.dsack] if self.dsack is not None else []
            blocks += self.sack_blocks
            self.dsack = None
            opts += (NOP, NOP, Sack(tuple((s & MASK, e & MASK) for s, e in blocks[:room])))
        return opts

    def _emit_segment(
        self,
        seq: int,
        flags: int,
        now: float,
        payload: bytes | memoryview = b"",
        options: tuple[TCPOption, ...] | None = None,
        gso_size: int = 0,
    ) -> bool:
        """Build one segment and queue it for the wire (Linux ``tcp_transmit_skb``).
        False if the host's device refused it (see :meth:`_device_refused`): what
        sending does to the ACK and idle state is done all the same, as in Linux's
        ``__tcp_transmit_skb``, but the caller must not count the segment as sent."""
        if flags & SYN:
            window = min(self.rcv_wnd, 0xFFFF)  # RFC 7323 §2.2: a SYN's window is unscaled
        else:
            window = self._select_window()
        if options is None:
            options = self._established_options(now)
        urgent = 0
        if self.urg_mode and seq < self.snd_up:
            if self.snd_up < seq + 0x10000:
                urgent = self.snd_up - seq
                flags |= URG
            elif seq + 0xFFFF > self.snd_nxt:
                urgent = 0xFFFF
                flags |= URG
        segment = TCPSegment(
            self.local[1], self.remote[1], seq & MASK, self.rcv_nxt & MASK if flags & ACK else 0,
            flags, window, urgent, options, payload, None, gso_size,
        )
        refuses = self.device_refuses
        sent = refuses is None or not self._device_refused(refuses)
        if sent:
            self.out.append(segment)
        if flags & ACK:
            self._event_ack_sent()
            self.rcv_mem.acked(self.rcv_nxt, now)
        if payload:
            self._event_data_sent(now)
        return sent

    def _device_refused(self, refuses: Callable[[], bool]) -> bool:
        """Local congestion: the device's queueing discipline has no room (``tc qdisc
        ... pfifo limit 0`` drops all). Linux's ``__tcp_transmit_skb`` then enters CWR
        and reports the failure, and its callers keep the data unsent, count a failed
        retransmission (TcpExtTCPRetransFail) and retry after
        TCP_RESOURCE_PROBE_INTERVAL (``tcp_send_probe0``, ``tcp_retransmit_timer``,
        ``tcp_keepalive_timer``)."""
        if not refuses():
            return False
        self._enter_cwr()
        return True

    def _enter_cwr(self) -> None:
        """Hook: recovery reduces cwnd (Linux ``tcp_enter_cwr``)."""

    def _event_ack_sent(self) -> None:
        """Any segment carrying an ACK answers what was pending (Linux
        ``tcp_event_ack_sent``): leave quick-ACK mode by one, drop the delayed ACK."""
        if self.ack_quick:
            if self.ack_quick <= 1:
                self.ack_quick = 0
                self.ato = self._ato_min()
            else:
                self.ack_quick -= 1
        self.ack_pending = 0
        self.delack_deadline = None
        self.compressed_ack = 0
        self.comp_sack_deadline = None

    def _event_data_sent(self, now: float) -> None:
        """Linux ``tcp_event_data_sent``: remember when data last left, and notice an
        interactive (ping-pong) exchange: data sent right after data arrived."""
        self.lsndtime = now
        if self.ato and now - self.lrcvtime < self.ato / self.config.hz:
            self.pingpong = min(self.pingpong + 1, 255)

    def _send_ack(self, now: float) -> None:
        """A pure ACK now (Linux ``tcp_send_ack``)."""
        if self.state is State.CLOSED:
            return
        self._emit_segment(self.snd_nxt, ACK, now)

    def _acceptable_seq(self) -> int:
        """Linux ``tcp_acceptable_seq``: a sequence number the peer will accept."""
        wnd_end = self.snd_una + self.snd_wnd
        if wnd_end >= self.snd_nxt or (
            self.wscale_ok and self.snd_nxt - wnd_end < (1 << self.rcv_wscale)
        ):
            return self.snd_nxt
        return wnd_end

    def _send_active_reset(self, now: float) -> None:
        """RST for ABORT or close() with unread data (RFC 9293 §3.10.5; Linux
        ``tcp_send_active_reset``)."""
        self._emit_segment(self._acceptable_seq(), RST | ACK, now)

    def _schedule_ack(self) -> None:
        self.ack_pending |= 1  # ICSK_ACK_SCHED

    def _ack_now(self) -> None:
        self.ack_pending |= ACK_NOW

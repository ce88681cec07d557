"""The sending half: cutting the byte stream into segments, and what holds them back.

RFC 9293 §3.8.6.2.1 and RFC 1122 §4.2.3.4 (sender SWS avoidance, Nagle), RFC 5681
(cwnd) and RFC 9293 §3.8.6.1 (zero-window probing) set the rules; the behaviour is
Linux's (net/ipv4/tcp_output.c ``tcp_write_xmit``, ``tcp_nagle_test``,
``tcp_mss_split_point``, ``tcp_send_fin``, ``tcp_retransmit_skb``,
``tcp_write_wakeup``, ``tcp_send_probe0``):

* the write queue holds buffers (skbs) as ``tcp_sendmsg`` fills them: up to 64 KB,
  at most half the peer's largest window (the size goal); each write ending with PSH
  on its last buffer, which the next write clears if it appends to that buffer;
* Linux TCP always sends buffers as GSO packets (6.x): ``tcp_write_xmit`` sends a
  buffer at a time, at most half of cwnd and about 1 ms at the pacing rate, and the
  segments it is cut into carry PSH on the last one when there are several;
* a buffer goes out while fewer than cwnd packets are in flight and its first MSS
  fits in the peer's window; the window may cut it, with a final partial segment
  unless Nagle holds that;
* Nagle is Minshall's variant: a small segment waits only while an earlier *small*
  segment is unacknowledged (TCP_NODELAY turns that off, TCP_CORK holds every partial
  segment until uncorked); a buffer that cannot go whole may wait for the ACK due
  within a millisecond (``tcp_tso_should_defer``);
* a FIN rides on the last data segment if that one has not left yet;
* a retransmission of a short segment takes along the following ones that fit in one
  MSS (``tcp_retrans_try_collapse``).
"""

from __future__ import annotations

from tcpkit.tcp.buffers import SEND_SKB_OVERHEAD
from tcpkit.tcp.config import TCP_DEFAULT_MSS
from tcpkit.tcp.events import Counted, SendSpaceFreed
from tcpkit.tcp.receiver import Receiver
from tcpkit.tcp.state import State
from tcpkit.tcp.tcb import (
    WQ_EOR,
    WQ_PSH,
    XMIT_LOSS_PROBE,
    XMIT_NONE,
    XMIT_PROBE0,
    XMIT_REO_TIMEOUT,
    XMIT_RETRANS,
    CAState,
    SentSegment,
)
from tcpkit.wire.tcp import ACK, FIN, PSH, SYN

GSO_MAX_SIZE = 65536  # a device's default gso_max_size (GSO_LEGACY_MAX_SIZE)
PACING_SHIFT = 10  # sk_pacing_shift: a GSO packet is ~1 ms (2^-10 s) at the pacing rate
NAGLE_OFF = 1  # TCP_NODELAY
NAGLE_CORK = 2  # TCP_CORK or MSG_MORE
NAGLE_PUSH = 4  # push everything (a FIN, a probe)
RESOURCE_PROBE_INTERVAL = 0.5  # TCP_RESOURCE_PROBE_INTERVAL (HZ/2)


class Sender(Receiver):
    """Segmentation, transmission and the retransmission primitive."""

    __slots__ = ()

    # -- MSS (RFC 9293 §3.7.1, RFC 6691) ------------------------------------------------

    def _mtu_to_mss(self) -> int:
        """Linux ``tcp_mtu_to_mss``: the route's MTU less headers and the timestamp
        option, clamped by the peer's MSS and TCP_MAXSEG."""
        mss = self.config.mtu - self.config.header_overhead
        mss = min(mss, self.mss_clamp)
        mss = max(mss, 48)  # net.ipv4.tcp_min_snd_mss
        return mss - (12 if self.ts_ok else 0)

    def _bound_to_half_wnd(self, size: int) -> int:
        """Linux ``tcp_bound_to_half_wnd``: never more than half the largest window the
        peer ever offered (all of it if that is tiny), so small windows fill evenly."""
        cutoff = self.max_window >> 1 if self.max_window > TCP_DEFAULT_MSS else self.max_window
        if cutoff and size > cutoff:
            return max(cutoff, 68 - (32 if self.ts_ok else 20))
        return size

    def _sync_mss(self) -> int:
        """Linux ``tcp_sync_mss``: the route's MSS, bounded to half the peer's window."""
        mss = self.mss_cache = self._bound_to_half_wnd(self._mtu_to_mss())
        return mss

    def _current_mss(self) -> int:
        """Linux ``tcp_current_mss``: less the room SACK blocks take in this ACK."""
        mss = self.mss_cache
        blocks = len(self.sack_blocks) + (self.dsack is not None)
        if self.sack_ok and blocks:
            room = 3 if self.ts_ok else 4
            mss -= 4 + 8 * min(blocks, room)
        return mss

    def _advertised_mss(self) -> int:
        """The MSS option we send: MTU less headers, or TCP_MAXSEG if smaller."""
        mss = self.config.mtu - self.config.header_overhead
        if self.config.user_mss and self.config.user_mss < mss:
            mss = self.config.user_mss
        return mss

    # -- Nagle ---------------------------------------------------------------------------

    def _nonagle(self) -> int:
        cfg = self.config
        return (NAGLE_OFF if cfg.nodelay else 0) | (NAGLE_CORK if cfg.cork else 0)

    def _nagle_holds(self, partial: bool, nonagle: int) -> bool:
        """Linux ``tcp_nagle_check``: hold a partial segment (RFC 1122 §4.2.3.4, with
        Minshall's rule: only while an earlier small segment is unacknowledged)."""
        return partial and bool(
            nonagle & NAGLE_CORK
            or (not nonagle and self.packets_out
                and self.snd_una < self.snd_sml <= self.snd_nxt)
        )

    # -- transmission --------------------------------------------------------------------

    def _update_pacing_rate(self) -> None:
        """Linux ``tcp_update_pacing_rate``, run for each ACK (``tcp_cong_control``):
        cwnd per SRTT, doubled in slow start (below half ssthresh), +20% after; in bytes
        per second. Without an RTT yet Linux skips the division: no limit (-1)."""
        srtt = self.rtt.srtt_us
        if not srtt:
            self.pacing_rate = -1
            return
        cfg = self.config
        ratio = cfg.pacing_ss_ratio if self.cwnd < self.ssthresh >> 1 else cfg.pacing_ca_ratio
        self.pacing_rate = (self.mss_cache * 80_000 * ratio
                            * max(self.cwnd, self.packets_out) // srtt)

    def _tso_segs(self, mss: int) -> int:
        """Linux ``tcp_tso_autosize``: how many segments one GSO buffer may carry, about
        a millisecond's worth at the pacing rate, more for a close peer (a 64 KB
        allowance halved per 512 µs of min RTT), at least two, at most 64 KB."""
        rate = self.pacing_rate
        size = GSO_MAX_SIZE if rate < 0 else rate >> PACING_SHIFT
        shift = self.rtt.min_rtt_us >> self.config.tso_rtt_log
        if shift < 32:
            size += GSO_MAX_SIZE >> shift
        return max(min(size, GSO_MAX_SIZE) // mss, self.config.min_tso_segs)

    def _write_xmit(self, now: float, nonagle: int, push_one: int = 0) -> bool:
        """Linux ``tcp_write_xmit``: send what cwnd, the peer's window and Nagle allow,
        a write-queue buffer at a time. Each buffer is sent as one GSO packet: at most
        half of cwnd (``tcp_cwnd_test``: two packets in flight at least) and the
        autosized segment count, grown from the next buffer first (``tcp_grow_skb``),
        cut at the window (``tcp_mss_split_point``); the device cuts it into segments
        and the last carries PSH when there are several (``__tcp_transmit_skb``).
        ``push_one`` is 1 to send one buffer, 2 for a loss probe (cwnd or not).
        Returns True if nothing could be sent while nothing is in flight (the caller
        then arms the zero-window probe timer)."""
        mss = self._current_mss()
        wnd_end = self.snd_una + self.snd_wnd
        queue = self.write_queue
        max_segs = self._tso_segs(mss)
        sent = 0
        cwnd_limited = False
        while self.snd_nxt < self.write_seq:
            seq = self.snd_nxt
            if not queue:
                # A FIN alone is not held by cwnd (tcp_cwnd_test) but needs the window.
                if seq + 1 > wnd_end:
                    break
                sent += self._transmit_new(seq, 0, True, False, now)
                break
            in_flight = self._in_flight()
            if in_flight >= self.cwnd:
                if push_one != 2:
                    cwnd_limited = True
                    break
                quota = 1  # a loss probe goes out anyway
            else:
                quota = min(max(self.cwnd >> 1, 1), self.cwnd - in_flight)
            quota = min(quota, max_segs)
            head = queue[0]
            if len(queue) > 1 and not head[1] & WQ_EOR and quota * mss > head[0] - seq:
                self._grow_head(quota * mss - (head[0] - seq))
            length = head[0] - seq
            last = len(queue) == 1
            fin = self.fin_queued and last
            if (seq + mss if length > mss else seq + length + fin) > wnd_end:
                break  # tcp_snd_wnd_test
            segs = -(-length // mss)
            if segs == 1:
                if not (nonagle & NAGLE_PUSH or not last or fin or self.urg_mode
                        or not self._nagle_holds(length < mss, nonagle)):
                    break
            elif not push_one:
                defer, limited = self._tso_should_defer(seq, length, last,
                                                        fin or bool(head[1] & WQ_EOR),
                                                        max_segs, now)
                cwnd_limited |= limited
                if defer:
                    break
            limit = mss
            if segs > 1 and not self.urg_mode:
                limit = self._mss_split_point(seq, length, last, mss, quota, nonagle)
            psh, eor = bool(head[1] & WQ_PSH), bool(head[1] & WQ_EOR)
            if length > limit:  # tso_fragment: the rest keeps them
                length, fin, psh, eor = limit, False, False, False
            burst = self._transmit_burst(seq, length, fin, psh, mss, now)
            if not burst:
                break  # the device refused it: it stays unsent (tcp_write_xmit)
            sent += burst
            if eor:
                self.rtx[-1].eor = True
            if push_one:
                break
        cwnd_limited |= self._in_flight() >= self.cwnd
        if sent or cwnd_limited:
            self._cwnd_validate(cwnd_limited, now)
        if sent:
            if self.ca_state in (2, 3):  # CWR or Recovery: proportional rate reduction
                self.prr_out += sent
            if push_one != 2:
                self._after_new_data(now)
            return False
        return not self.packets_out and self.snd_nxt < self.write_seq

    def _grow_head(self, missing: int) -> None:
        """Linux ``tcp_grow_skb``: the first write-queue buffer takes up to ``missing``
        bytes from the next one, and its PSH if it takes it all."""
        queue = self.write_queue
        head, nxt = queue[0], queue[1]
        head[0] = min(head[0] + missing, nxt[0])
        if head[0] == nxt[0]:
            head[1] |= nxt[1]
            del queue[1]

    def _mss_split_point(self, seq: int, length: int, last: bool, mss: int, segs: int,
                         nonagle: int) -> int:
        """Linux ``tcp_mss_split_point``: how much of the buffer goes now: ``segs``
        segments, or what the window takes, less a partial last segment Nagle holds."""
        window = self.snd_una + self.snd_wnd - seq
        max_len = mss * segs
        if max_len <= window and not last:
            return max_len
        needed = min(length, window)
        if max_len <= needed:
            return max_len
        partial = needed % mss
        if self._nagle_holds(partial != 0, nonagle):
            return needed - partial
        return needed

    def _tso_should_defer(self, seq: int, length: int, last: bool, final: bool,
                          max_segs: int, now: float) -> tuple[bool, bool]:
        """Linux ``tcp_tso_should_defer``: hold a buffer that cannot go whole when an
        ACK, due within min(SRTT/2, 1 ms), will let more of it go, and something was sent
        less than 1 ms ago. Returns (defer, cwnd-limited)."""
        if self.ca_state >= CAState.RECOVERY or now - self.lsndtime > 0.001:  # or idle
            return False, False
        mss = self.mss_cache
        send_win = self.snd_una + self.snd_wnd - seq
        cong_win = (self.cwnd - self._in_flight()) * mss
        limit = min(send_win, cong_win)
        if limit >= max_segs * mss or (not last and limit >= length):
            return False, False
        divisor = self.config.tso_win_divisor
        if divisor and limit >= min(self.snd_wnd, self.cwnd * mss) // divisor:
            return False, False
        if not divisor and limit > 3 * mss:  # tcp_max_tso_deferred_mss
            return False, False
        if not self.rtx:
            return False, False
        srtt = self.rtt.srtt_us / 8e6
        if self.rtx[0].last_sent + srtt - now > min(srtt / 2, 0.001):
            return False, False  # the next ACK is too far off
        if cong_win < send_win:
            if cong_win <= length:
                return True, True
        elif send_win <= length:
            return True, False
        return not final, False  # a FIN or MSG_EOR buffer gets no more data: no wait

    def _transmit_burst(self, seq: int, length: int, fin: bool, psh: bool, mss: int,
                        now: float) -> int:
        """Send [seq, seq+length) (and the FIN) as one GSO packet: MSS-sized segments,
        PSH and FIN on the last; PSH forced when there are several. Returns how many
        (0: the device refused the packet). A device that segments itself (``gso``)
        gets the packet as one super-segment; the retransmit queue holds the segments
        it becomes either way."""
        end = seq + length
        if self.gso and length > mss:
            flags = ACK | PSH | (FIN if fin else 0)  # the device leaves them on the last
            if not self._emit_segment(seq, flags, now, self.send_buffer.view(seq, length),
                                      gso_size=mss):
                return 0
            count = self._sent_gso(seq, end, fin, mss, now)
            piece = end - seq - (count - 1) * mss
        else:
            count = 0
            while True:
                piece = min(mss, end - seq)
                final = seq + piece >= end
                if not self._transmit_new(seq, piece, fin and final,
                                          final and (psh or count > 0), now):
                    return 0  # the first segment: a device takes or refuses a GSO packet
                count += 1
                seq += piece
                if final:
                    break
        self.rtx[-1].skb_end = True
        self.sent_skbs += 1
        if piece < mss:
            self.snd_sml = self.snd_nxt  # tcp_minshall_update: a small segment went out
        return count

    def _transmit_new(self, seq: int, length: int, fin: bool, psh: bool, now: float) -> bool:
        """Send new data (Linux ``tcp_transmit_skb`` + ``tcp_event_new_data_sent``);
        False if the device refused it (the data stays unsent)."""
        payload = self.send_buffer.slice(seq, length) if length else b""
        flags = ACK | (FIN if fin else 0) | (PSH if psh and length else 0)
        if not self._emit_segment(seq, flags, now, payload):
            return False
        self._sent_new(seq, length, fin, psh, now)
        return True

    def _sent_gso(self, seq: int, end: int, fin: bool, mss: int, now: float) -> int:
        """:meth:`_sent_new` for a whole GSO packet: one retransmit-queue record of
        ``pcount`` segments, as Linux's skb (this is the sender's hot path over a device
        that offloads). Returns how many segments."""
        count = (end - seq - 1) // mss + 1
        self.rtx.append(SentSegment(seq, end + (1 if fin else 0), ACK | PSH | (FIN if fin else 0),
                                    now, now, False, False, False, False, self.delivered,
                                    False, False, count, mss))
        self.rtx_whole = True
        self._advance_snd_nxt(end + (1 if fin else 0), count, now)
        return count

    def _rtx_per_segment(self) -> None:
        """Cut whole GSO packets in the retransmit queue into their segments (Linux
        ``tcp_fragment``), before anything that looks at, marks or resends one segment:
        SACK, loss detection, retransmission, a loss probe. An ACK that takes whole
        packets, the one path a clean bulk transfer follows, never needs it."""
        if not self.rtx_whole:
            return
        self.rtx_whole = False
        rtx = self.rtx
        if any(s.pcount > 1 for s in rtx):
            rtx[:] = [piece for s in rtx for piece in s.segments()]

    def _sent_new(self, seq: int, length: int, fin: bool, psh: bool, now: float) -> None:
        """Linux ``tcp_event_new_data_sent``: [seq, seq+length) (and the FIN) left; it
        joins the retransmit queue and advances SND.NXT."""
        end = seq + length + (1 if fin else 0)
        flags = ACK | (FIN if fin else 0) | (PSH if psh and length else 0)
        self.rtx.append(SentSegment(seq, end, flags, now, now, delivered=self.delivered))
        self._advance_snd_nxt(end, 1, now)

    def _advance_snd_nxt(self, end: int, count: int, now: float) -> None:
        """``count`` new segments up to ``end`` are out: SND.NXT moves, the write
        queue lets go of what they took, and the first in flight arms the RTO."""
        prior = self.packets_out
        self.packets_out = prior + count
        self.snd_nxt = end
        queue = self.write_queue
        while queue and queue[0][0] <= end:
            del queue[0]
        if not prior:
            self._rearm_rto(now)

    def _cwnd_validate(self, cwnd_limited: bool, now: float) -> None:
        """Linux ``tcp_cwnd_validate`` (RFC 7661): remember whether cwnd was the limit,
        so an application-limited sender does not grow it, and shrink an unused cwnd."""
        if (self.snd_una >= self.cwnd_usage_seq or cwnd_limited
                or (not self.is_cwnd_limited and self.packets_out > self.max_packets_out)):
            self.is_cwnd_limited = cwnd_limited
            self.max_packets_out = self.packets_out
            self.cwnd_usage_seq = self.snd_nxt
        if self.is_cwnd_limited or (self.cwnd < self.ssthresh
                                    and self.cwnd < 2 * self.max_packets_out):
            self.snd_cwnd_used = 0
            self.snd_cwnd_stamp = now
            return
        self.snd_cwnd_used = max(self.snd_cwnd_used, self.packets_out)
        if (self.config.slow_start_after_idle
                and now - self.snd_cwnd_stamp >= self.rtt.rto):
            self._cwnd_application_limited(now)

    def _cwnd_application_limited(self, now: float) -> None:
        """Linux ``tcp_cwnd_application_limited`` (RFC 2861): an application that did
        not use its window for an RTO gives half of the unused part back."""
        if self.ca_state == 0 and not self.write_blocked:
            win_used = max(self.snd_cwnd_used, self.config.init_cwnd)
            if win_used < self.cwnd:
                self.ssthresh = self._current_ssthresh()
                self.cwnd = (self.cwnd + win_used) >> 1
            self.snd_cwnd_used = 0
        self.snd_cwnd_stamp = now

    def _current_ssthresh(self) -> int:
        """Linux ``tcp_current_ssthresh``: ssthresh, or 3/4 of cwnd if that is more."""
        if self.ca_state in (2, 3):  # in a cwnd reduction (CWR, Recovery)
            return self.ssthresh
        return max(self.ssthresh, ((self.cwnd >> 1) + (self.cwnd >> 2)))

    def _push(self, now: float, nonagle: int | None = None) -> None:
        """Linux ``tcp_push_pending_frames``: send what may go, or start probing a zero
        window if nothing is in flight to bring an ACK back."""
        if self.snd_nxt >= self.write_seq:
            return
        if nonagle is None:
            nonagle = self._nonagle()
        if self._write_xmit(now, nonagle) and self.xmit_kind == XMIT_NONE:
            self._arm_probe_timer(now)

    def _push_one(self, now: float) -> None:
        """Linux ``tcp_push_one``: send the first buffer now, if it may go."""
        self._write_xmit(now, NAGLE_PUSH, push_one=1)

    def _queue_fin(self, now: float) -> None:
        """Linux ``tcp_send_fin``: the FIN takes the sequence number after the data and
        rides on the last data segment if that one is still unsent; then push."""
        self.fin_queued = True
        self.write_seq += 1
        self._push(now, NAGLE_OFF)

    def _send_syn(self, now: float) -> bool:
        """Our SYN (RFC 9293 §3.10.1) with the options we offer."""
        options = self._syn_options(now, synack=False)
        return self._emit_segment(self.iss, SYN, now, options=options)

    def _send_synack(self, now: float) -> bool:
        """Our SYN-ACK (RFC 9293 §3.10.7.2) with the options the peer's SYN agreed to."""
        options = self._syn_options(now, synack=True)
        return self._emit_segment(self.iss, SYN | ACK, now, options=options)

    def _retransmit(self, seg: SentSegment, now: float) -> bool:
        """Send a segment of the retransmission queue again (Linux
        ``tcp_retransmit_skb``), collapsing short followers into it. False if the
        device refused it: counted as a retransmission all the same, and never again
        taken as an RTT sample, but not in flight as one."""
        if seg.flags & SYN:
            if self.state is State.SYN_SENT:
                sent = self._send_syn(now)
            else:
                sent = self._send_synack(now)
        else:
            # Partly acknowledged: send only the rest (Linux tcp_trim_head).
            seg.seq = max(seg.seq, self.snd_una)
            self._collapse_after(seg)
            length = seg.end - seg.seq - (1 if seg.flags & FIN else 0)
            payload = self.send_buffer.slice(seg.seq, length) if length else b""
            sent = self._emit_segment(seg.seq, seg.flags | ACK, now, payload)
        seg.ever_retransmitted = True
        self.total_retrans += 1
        if self.retrans_stamp is None:
            # Linux tcp_retransmit_skb: the time of the first retransmission (a tail
            # loss probe does not count), from which tcp_retries2's budget runs; the
            # first attempt, sent or not.
            self.retrans_stamp = now
        if not sent:
            self._emit(Counted("TcpExtTCPRetransFail"))
            return False
        if not seg.retrans:
            seg.retrans = True
            self.retrans_out += 1
        seg.last_sent = now
        seg.delivered = self.delivered
        return True

    def _collapse_after(self, seg: SentSegment) -> None:
        """Linux ``tcp_retrans_try_collapse``: merge the following unsacked segments
        into a short retransmission while they fit in one MSS and in the window."""
        rtx = self.rtx
        try:
            i = rtx.index(seg)
        except ValueError:
            return
        limit = min(self._current_mss(), self.snd_una + self.snd_wnd - seg.seq)
        while i + 1 < len(rtx):
            nxt = rtx[i + 1]
            if (seg.flags & FIN or seg.eor or nxt.sacked or nxt.flags & SYN
                    or nxt.ever_retransmitted):
                break
            if nxt.end - seg.seq - (1 if nxt.flags & FIN else 0) > limit:
                break
            seg.end = nxt.end
            seg.flags |= nxt.flags & (FIN | PSH)
            seg.eor = nxt.eor
            if seg.skb_end:
                self.sent_skbs -= 1  # two skbs became one
            seg.skb_end = nxt.skb_end
            if nxt.lost:
                self.lost_out -= 1
            del rtx[i + 1]
            self.packets_out -= 1

    def _after_new_data(self, now: float) -> None:
        """Hook run after a burst of new data: recovery arms the tail loss probe."""
        del now

    def _rearm_rto(self, now: float) -> None:
        """Linux ``tcp_rearm_rto``: the retransmission timer runs while data is out.
        Replacing a loss probe or RACK's reordering timer, it keeps the RTO's own
        schedule (from the oldest segment's transmission), not a fresh one."""
        if not self.packets_out:
            self._clear_xmit_timer()
            return
        ticks = self.rtt.rto_jiffies
        if self.xmit_kind in (XMIT_LOSS_PROBE, XMIT_REO_TIMEOUT) and self.rtx:
            remaining = self.rtx[0].last_sent + self.rtt.rto - now
            ticks = max(self.config.jiffies(max(remaining, 1e-6)), 1)
        self._set_xmit_timer_kind(XMIT_RETRANS, self._jiffies_deadline(now, ticks))

    def _set_xmit_timer_kind(self, kind: int, deadline: float) -> None:
        self.xmit_kind = kind
        self.xmit_deadline = deadline

    def _clear_xmit_timer(self) -> None:
        self.xmit_kind = XMIT_NONE
        self.xmit_deadline = None

    # -- the send buffer ------------------------------------------------------------------

    # Linux charges the send buffer by skb, not by byte (sk_wmem_queued): each buffer
    # of the write queue and each GSO packet sent and not yet acknowledged costs
    # SEND_SKB_OVERHEAD plus its payload. A write fills the last buffer up to the size
    # goal whatever the charge; only a new buffer needs the charge under SO_SNDBUF, so
    # a write can overshoot it by a size goal (measured on 6.18: 60000 bytes queued at
    # once against 42000). Writers wake once the free part is half of the charge.

    def _size_goal(self) -> int:
        """Linux ``tcp_send_mss``/``tcp_xmit_size_goal``: how much one write-queue buffer
        takes: up to 64 KB (GSO), at most half the peer's largest window, in whole
        segments."""
        mss = self._current_mss()
        return max(self._bound_to_half_wnd(GSO_MAX_SIZE) // mss, 1) * mss

    def _wmem_queued(self) -> int:
        """Linux ``sk_wmem_queued``: what the send buffer is charged."""
        skbs = self.sent_skbs + len(self.write_queue)
        return self.write_seq - self.snd_una + SEND_SKB_OVERHEAD * skbs

    def _stream_memory_free(self, wake: int = 0) -> bool:
        """Linux ``__sk_stream_memory_free``: may a new write-queue buffer be started?
        The charge must be under SO_SNDBUF, and what is not sent yet under
        TCP_NOTSENT_LOWAT (half of it to wake a writer: ``tcp_stream_memory_free``)."""
        cfg = self.config
        lowat = cfg.user_notsent_lowat or cfg.notsent_lowat
        return (self._wmem_queued() < self.sndbuf
                and (self.write_seq - self.snd_nxt) << wake < lowat)

    def _stream_writeable(self) -> bool:
        """Linux ``__sk_stream_is_writeable``: what poll() reports and what wakes a
        writer: the free part of the buffer at least half of what is charged."""
        queued = self._wmem_queued()
        return self.sndbuf - queued >= queued >> 1 and self._stream_memory_free(1)

    def _tail_room(self) -> int:
        """How much the last write-queue buffer can still take (up to the size goal)."""
        queue = self.write_queue
        if not queue or queue[-1][1] & WQ_EOR:
            return 0
        start = queue[-2][0] if len(queue) > 1 else self.snd_nxt
        return max(self._size_goal() - (queue[-1][0] - start), 0)

    def _send_space(self) -> int:
        """Bytes a write could take now: the last buffer's room, and room for new
        buffers while the charge is under SO_SNDBUF."""
        return self._tail_room() + max(self.sndbuf - self._wmem_queued(), 0)

    def _check_space(self) -> None:
        """Linux ``tcp_check_space``/``sk_stream_write_space``: once the application was
        told to wait, say when it may write again."""
        if not self.write_blocked:
            return
        if self._in_flight() < self.cwnd:
            # tcp_new_space: a writer is waiting and cwnd has room: grow the buffer to
            # two windows of the current cwnd (tcp_should_expand_sndbuf).
            self._expand_sndbuf()
        if self._stream_writeable():
            self.write_blocked = False
            self._emit(SendSpaceFreed(self._send_space()))

    # -- zero-window probes (RFC 9293 §3.8.6.1) ---------------------------------------------

    def _probe0_base(self) -> float:
        """Linux ``tcp_probe0_base``: the RTO, at least TCP_RTO_MIN."""
        return max(self.rtt.rto, self.config.rto_min)

    def _probe0_when(self) -> float:
        return min(self._probe0_base() * (1 << self.rtt.backoff), self.config.rto_max)

    def _arm_probe_timer(self, now: float) -> None:
        """Linux ``tcp_check_probe_timer``."""
        self._set_xmit_timer_kind(XMIT_PROBE0, self._deadline_after(now, self._probe0_base()))

    def _write_wakeup(self, now: float, mib: str) -> bool:
        """Linux ``tcp_write_wakeup``: a probe. Data if the window allows some (a
        window-limited piece, pushed), else a segment at SND.UNA-1 that the receiver
        must acknowledge (zero-window and keepalive probes), counted in ``mib``
        (``tcp_xmit_probe_skb``: TcpExtTCPWinProbe, TcpExtTCPKeepAlive). False if the
        device refused it."""
        seq = self.snd_nxt
        wnd_end = self.snd_una + self.snd_wnd
        if seq < self.write_seq and seq < wnd_end:
            queue = self.write_queue
            head_end = queue[0][0] if queue else seq
            last = len(queue) <= 1
            end_seq = head_end + (1 if self.fin_queued and last else 0)
            self.pushed_seq = max(self.pushed_seq, end_seq)
            length = head_end - seq
            mss = self._current_mss()
            fin = self.fin_queued and last
            if wnd_end < end_seq or length > mss:
                # tcp_fragment: the piece goes, the rest (and the FIN) stays, and PSH,
                # set before the split, is on both.
                length = min(wnd_end - seq, mss)
                queue[0][1] |= WQ_PSH
                fin = False
            return self._transmit_new(seq, length, fin, True, now)
        if self.urg_mode and self.snd_una + 1 <= self.snd_up <= self.snd_una + 0xFFFF:
            self._emit(Counted(mib))
            self._emit_segment(self.snd_una, ACK, now)
        self._emit(Counted(mib))
        return self._emit_segment(self.snd_una - 1, ACK, now)

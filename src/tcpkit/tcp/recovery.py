"""Processing ACKs, and recovering from loss (RFC 9293 §3.10.7.4 fifth step, RFC 5681,
RFC 6582, RFC 6675, RFC 6937, RFC 8985).

This is Linux's ``tcp_ack`` and ``tcp_fastretrans_alert`` machinery
(net/ipv4/tcp_input.c), with its congestion-avoidance states (Open, Disorder, CWR,
Recovery, Loss):

* duplicate ACKs from a peer without SACK are counted as if each SACKed one segment
  ("reno SACKs"), so new data can go out on the first two (limited transmit, RFC 3042)
  and the third makes the oldest segment lost: fast retransmit (RFC 5681 §3.2);
* with SACK the scoreboard marks segments SACKed (RFC 6675), and RACK (rack.py,
  RFC 8985 §6) decides by time which holes are lost: at once when the hole is older
  than a round trip plus a reordering window, else when the REO timer fires;
* in Recovery, cwnd follows Proportional Rate Reduction (RFC 6937) down to ssthresh;
  a partial ACK makes the next hole lost and retransmitted (NewReno, RFC 6582 §3.2);
  Recovery ends when everything sent before it is acknowledged, with cwnd = ssthresh;
* an RTO marks everything outstanding lost (with RACK, all but what was sent within
  the last RACK.rtt), sets cwnd to one more than what is still in flight and
  retransmits in slow start (Loss state, RFC 5681 §3.1 (5));
* with SACK, a tail loss probe goes out 2*SRTT after the last transmission instead
  of waiting for the RTO (RFC 8985 §7, Linux ``tcp_send_loss_probe``).

Not modelled yet, and said so: F-RTO (RFC 5682) and undoing a reduction judged
spurious by D-SACK or timestamps (Eifel, RFC 3522).
"""

from __future__ import annotations

from tcpkit.tcp.config import usecs_to_jiffies
from tcpkit.tcp.events import Counted
from tcpkit.tcp.rack import Rack
from tcpkit.tcp.sender import NAGLE_OFF
from tcpkit.tcp.seq import unwrap
from tcpkit.tcp.tcb import XMIT_LOSS_PROBE, XMIT_REO_TIMEOUT, XMIT_RETRANS, CAState, SentSegment
from tcpkit.wire.tcp import FIN, PSH, SYN, TCPSegment

FLAG_DATA = 0x01
FLAG_WIN_UPDATE = 0x02
FLAG_DATA_ACKED = 0x04
FLAG_RETRANS_DATA_ACKED = 0x08
FLAG_SYN_ACKED = 0x10
FLAG_DATA_SACKED = 0x20
FLAG_ECE = 0x40
FLAG_LOST_RETRANS = 0x80
FLAG_SLOWPATH = 0x100
FLAG_ORIG_SACK_ACKED = 0x200
FLAG_SND_UNA_ADVANCED = 0x400
FLAG_DSACKING_ACK = 0x800
FLAG_SET_XMIT_TIMER = 0x1000
FLAG_UPDATE_TS_RECENT = 0x4000
FLAG_NO_CHALLENGE_ACK = 0x8000
FLAG_ACK_MAYBE_DELAYED = 0x10000
FLAG_ACKED = FLAG_DATA_ACKED | FLAG_SYN_ACKED
FLAG_NOT_DUP = FLAG_DATA | FLAG_WIN_UPDATE | FLAG_ACKED
FLAG_CA_ALERT = FLAG_DATA_SACKED | FLAG_ECE | FLAG_DSACKING_ACK
FLAG_FORWARD_PROGRESS = FLAG_ACKED | FLAG_DATA_SACKED

ACK_OK = 1
ACK_OLD = 0
ACK_TOO_OLD = -1
ACK_UNSENT = -2

INFINITE_SSTHRESH = 0x7FFFFFFF
TIMEOUT_MIN = 2  # TCP_TIMEOUT_MIN, jiffies


class Recovery(Rack):
    """ACK processing, the SACK scoreboard, fast recovery, RTO recovery and TLP."""

    __slots__ = ()

    # -- the ACK ----------------------------------------------------------------------

    def _ack(self, seg: TCPSegment, seq: int, flag: int, now: float) -> int:
        """Linux ``tcp_ack`` (RFC 9293 §3.10.7.4 fifth step): returns ACK_OK, ACK_OLD
        (an old duplicate, ignored), ACK_TOO_OLD or ACK_UNSENT. Without FLAG_SLOWPATH
        the caller's header prediction vouches for a pure ACK of new data, not beyond
        SND.NXT, with the window unchanged and no SACK blocks: Linux's fast path, which
        only moves SND.WL1/WL2 and SND.UNA."""
        ack = unwrap(seg.ack, self.snd_una)
        prior_snd_una = self.snd_una
        prior_packets = self.packets_out
        prior_delivered = self.delivered
        prior_lost = self.lost
        slow = flag & FLAG_SLOWPATH
        blocks = self._sack_blocks_in(seg) if slow and self.sack_ok else []
        self.sack_rtt_us = self.sack_ca_rtt_us = -1
        if ack < prior_snd_una:
            # RFC 5961 §5.2: an ACK older than one window behind is a blind attack.
            if ack < prior_snd_una - min(self.max_window, self.bytes_acked):
                if not flag & FLAG_NO_CHALLENGE_ACK:
                    self._send_challenge_ack(now)
                return ACK_TOO_OLD
            if blocks:
                flag |= self._sacktag(blocks, prior_snd_una, ack, now)
                flag, rexmit = self._fastretrans_alert(prior_snd_una, 0, flag, now)
                if rexmit:
                    self._xmit_retransmit_queue(now)
            return ACK_OLD
        if ack > self.snd_nxt:
            return ACK_UNSENT
        if ack > prior_snd_una:
            flag |= FLAG_SND_UNA_ADVANCED
            self.retransmits = 0
        self.prior_in_flight = self._in_flight()
        if flag & FLAG_UPDATE_TS_RECENT:
            self._replace_ts_recent(seq)
        prior_fack = self._highest_sack_end() if self.sack_ok else prior_snd_una
        if slow:
            end = seq + len(seg.payload) + (seg.flags & 1) + ((seg.flags >> 1) & 1)
            if end != seq:
                flag |= FLAG_DATA
            flag |= self._ack_update_window(seg, ack, seq)
            if blocks:
                flag |= self._sacktag(blocks, prior_snd_una, ack, now)
        else:
            # tcp_update_wl and tcp_snd_una_update: what _ack_update_window does when
            # the window is the same.
            self.snd_wl1 = seq
            self.snd_wl2 = ack
            self._snd_una_update(ack)
            flag |= FLAG_WIN_UPDATE
        self.soft_error = 0
        self.probes_out = 0
        self.rcv_tstamp = now
        if not prior_packets:
            if flag & FLAG_DSACKING_ACK:
                flag, _ = self._fastretrans_alert(prior_snd_una, 0, flag, now)
            self._ack_probe(now)
            if self.tlp_high_seq:
                self._process_tlp_ack(ack, flag)
            return ACK_OK
        flag |= self._clean_rtx_queue(now, prior_snd_una, prior_fack)
        if self.tlp_high_seq:
            self._process_tlp_ack(ack, flag)
        rexmit = False
        if not flag & FLAG_NOT_DUP or flag & FLAG_CA_ALERT or self.ca_state != CAState.OPEN:
            num_dupack = 0
            if not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DSACKING_ACK):
                num_dupack = 1
            flag, rexmit = self._fastretrans_alert(prior_snd_una, num_dupack, flag, now)
        if flag & FLAG_SET_XMIT_TIMER:
            self._set_xmit_timer(now)
        self._cong_control(self.delivered - prior_delivered, self.lost - prior_lost, flag, now)
        if rexmit:
            self._xmit_retransmit_queue(now)
        return ACK_OK

    def _send_challenge_ack(self, now: float) -> None:
        """RFC 5961 §3.2/§4.2/§5.2 challenge ACK, rate-limited per connection (one per
        ``tcp_invalid_ratelimit``) and per host (Linux ``tcp_send_challenge_ack``)."""
        if self._oow_rate_limited(now):
            return
        if self.challenge_acks.allow(now):
            self._send_ack(now)

    def _oow_rate_limited(self, now: float) -> bool:
        """Linux ``__tcp_oow_rate_limited``: at most one ACK to out-of-window segments
        per ``net.ipv4.tcp_invalid_ratelimit`` (500 ms)."""
        last = self.last_oow_ack_time
        if last is not None and 0 <= now - last < self.config.invalid_ratelimit:
            return True
        self.last_oow_ack_time = now
        return False

    def _replace_ts_recent(self, seq: int) -> None:
        """RFC 7323 §4.3: TS.Recent takes the TSval of a segment at the left edge of the
        window (Linux ``tcp_replace_ts_recent``)."""
        if self.saw_tstamp and seq <= self.rcv_wup and self._paws_check(0):
            self.ts_recent = self.rcv_tsval
            self.ts_recent_stamp = self.clock

    def _paws_check(self, window: int) -> bool:
        """Linux ``tcp_paws_check``: the TSval is not older than TS.Recent by more than
        ``window``, or TS.Recent is too old to judge (RFC 7323 §5.5)."""
        diff = (self.ts_recent - self.rcv_tsval) & 0xFFFFFFFF
        if diff >= 1 << 31 or diff <= window:
            return True
        if self.clock >= self.ts_recent_stamp + 24 * 24 * 3600:
            return True
        return not self.ts_recent

    def _ack_update_window(self, seg: TCPSegment, ack: int, seq: int) -> int:
        """RFC 9293 §3.10.7.4: update SND.WND if the segment is newer (SND.WL1/WL2);
        Linux ``tcp_ack_update_window``."""
        flag = 0
        nwin = seg.window if seg.flags & 2 else seg.window << self.snd_wscale
        if self._may_update_window(ack, seq, nwin):
            flag |= FLAG_WIN_UPDATE
            self.snd_wl1 = seq
            self.snd_wl2 = ack
            if self.snd_wnd != nwin:
                self.snd_wnd = nwin
                if nwin > self.max_window:
                    self.max_window = nwin
                    self._sync_mss()
        self._snd_una_update(ack)
        return flag

    def _may_update_window(self, ack: int, seq: int, nwin: int) -> bool:
        """Linux ``tcp_may_update_window`` (RFC 9293 §3.10.7.4, SND.WL1/SND.WL2): the
        segment is newer, or as new and opens the window, or closes it to zero."""
        return (ack > self.snd_una or seq > self.snd_wl1
                or (seq == self.snd_wl1 and (nwin > self.snd_wnd or not nwin)))

    def _snd_una_update(self, ack: int) -> None:
        if ack > self.snd_una:
            self.bytes_acked += ack - self.snd_una
            self.snd_una = ack
            self.send_buffer.release(min(ack, self.send_buffer.end))

    def _ack_probe(self, now: float) -> None:
        """Linux ``tcp_ack_probe``: the window opened, or keep probing it."""
        if self.snd_nxt >= self.write_seq:
            return
        end = min(self.snd_nxt + self._current_mss(), self.send_buffer.end) + (
            1 if self.fin_queued and self.snd_nxt + self._current_mss() >= self.send_buffer.end
            else 0)
        if end <= self.snd_una + self.snd_wnd:
            self.rtt.backoff = 0
            self.probes_tstamp = None
            if self.xmit_kind == 3:
                self._clear_xmit_timer()
        else:
            when = min(self._probe0_when(), self._user_timeout_clamp_probe(now))
            self._set_xmit_timer_kind(3, self._deadline_after(now, when))

    def _user_timeout_clamp_probe(self, now: float) -> float:
        """Linux ``tcp_clamp_probe0_to_user_timeout``."""
        timeout = self.config.user_timeout
        if not timeout or self.probes_tstamp is None:
            return self.config.rto_max
        remaining = timeout - (now - self.probes_tstamp)
        return max(remaining, 2 / self.config.hz)

    # -- the retransmission queue ------------------------------------------------------

    def _clean_rtx_queue(self, now: float, prior_snd_una: int, prior_fack: int) -> int:
        """Linux ``tcp_clean_rtx_queue``: drop what is acknowledged, take an RTT sample
        from a segment never retransmitted (Karn, RFC 6298 §3), advance RACK."""
        flag = 0
        rtx = self.rtx
        snd_una = self.snd_una
        prior_sacked = self.sacked_out
        first_ackt = last_ackt = -1.0  # send times of the first and last never-retransmitted
        reord = self.snd_nxt  # the lowest of those, if they were below a SACK: reordering
        sack = self.sack_ok
        prior_delivered = -1
        pkts_acked = 0  # segments; a whole GSO packet counts as its pcount (tcp_skb_pcount)
        done = 0  # records
        while done < len(rtx):
            s = rtx[done]
            if s.end > snd_una:
                if s.pcount > 1 and s.seq + s.gso <= snd_una:
                    # A GSO packet partly acknowledged: its acknowledged segments come
                    # off as a packet of their own (tcp_trim_head, in whole segments).
                    rtx[done : done + 1] = s.split(min((snd_una - s.seq) // s.gso,
                                                       s.pcount - 1))
                    continue
                break
            count = s.pcount
            if s.ever_retransmitted:
                if s.retrans:
                    self.retrans_out -= count
                flag |= FLAG_RETRANS_DATA_ACKED
            elif not s.sacked:
                last_ackt = s.last_sent
                if first_ackt < 0:
                    first_ackt = last_ackt
                reord = min(reord, s.seq)
                if (s.seq + s.gso if count > 1 else s.end) <= self.high_seq:
                    flag |= FLAG_ORIG_SACK_ACKED  # its first segment is below high_seq
            if s.sacked:
                self.sacked_out -= count
            elif sack:
                self.delivered += count
                if not self._spurious_retrans(s):
                    self._rack_advance(s, now)  # for all its segments: the last decides
            if s.lost:
                self.lost_out -= count
            if s.skb_end:
                self.sent_skbs -= 1
            self.packets_out -= count
            pkts_acked += count
            done += 1
            prior_delivered = max(prior_delivered, s.delivered)
            if s.flags & 2:
                flag |= FLAG_SYN_ACKED
                self.retrans_stamp = None
            else:
                flag |= FLAG_DATA_ACKED
        del rtx[:done]  # a list, not a deque: see TCB.rtx
        if prior_snd_una <= self.snd_up <= snd_una:
            self.snd_up = snd_una
            self.urg_mode = False
        seq_rtt_us = ca_rtt_us = -1
        if first_ackt >= 0 and not flag & FLAG_RETRANS_DATA_ACKED:
            seq_rtt_us = int((now - first_ackt) * 1e6)
            ca_rtt_us = int((now - last_ackt) * 1e6)
            if (pkts_acked == 1 and not prior_sacked
                    and snd_una - prior_snd_una < self.mss_cache
                    and prior_delivered + 1 == self.delivered
                    and not flag & (FLAG_CA_ALERT | FLAG_SYN_ACKED)):
                flag |= FLAG_ACK_MAYBE_DELAYED  # a lone runt, likely ACKed late
        if self.sack_rtt_us >= 0:
            ca_rtt_us = self.sack_ca_rtt_us
        rtt_update = self._ack_update_rtt(flag, seq_rtt_us, self.sack_rtt_us, ca_rtt_us, now)
        if flag & FLAG_ACKED:
            flag |= FLAG_SET_XMIT_TIMER
            if not self.sack_ok:
                self._remove_reno_sacks(pkts_acked)
                if flag & FLAG_RETRANS_DATA_ACKED:
                    flag &= ~FLAG_ORIG_SACK_ACKED
            elif reord < prior_fack:
                self._check_sack_reordering(reord)  # a hole filled without a resend
        elif (rtx and rtt_update and self.sack_rtt_us >= 0
              and self.sack_rtt_us > (now - rtx[0].last_sent) * 1e6):
            flag |= FLAG_SET_XMIT_TIMER
        if pkts_acked:
            self._check_space()
            if self.zerocopy is not None:
                self.zerocopy.acked(self.snd_una, dead=self.orphan)
        return flag

    def _spurious_retrans(self, s: SentSegment) -> bool:
        """Linux ``tcp_skb_spurious_retrans``: the ACK echoes a timestamp from before
        the retransmission, so it was the original that arrived."""
        return (s.ever_retransmitted and self.saw_tstamp and bool(self.rcv_tsecr)
                and ((self.rcv_tsecr - self._ts_raw(s.last_sent)) & 0xFFFFFFFF) >= 1 << 31)

    def _ack_update_rtt(self, flag: int, seq_rtt_us: int, sack_rtt_us: int,
                        ca_rtt_us: int, now: float) -> bool:
        """Linux ``tcp_ack_update_rtt``: prefer the ACK's own timing; fall back on the
        echoed timestamp (RFC 7323 §4.1) only for ACKs of new data. The last segment's
        RTT feeds the minimum RTT, unless it is from a likely delayed ACK
        (``tcp_update_rtt_min``)."""
        if seq_rtt_us < 0:
            seq_rtt_us = sack_rtt_us
        if seq_rtt_us < 0 and self.saw_tstamp and self.rcv_tsecr and flag & FLAG_ACKED:
            delta = (self._ts_raw(now) - self.rcv_tsecr) & 0xFFFFFFFF
            if delta < (1 << 31) // 1000:
                seq_rtt_us = ca_rtt_us = max(delta, 1) * 1000
        if seq_rtt_us < 0:
            return False
        rtt = self.rtt
        if not (flag & FLAG_ACK_MAYBE_DELAYED and ca_rtt_us > rtt.min_rtt_us):
            rtt.sample_min(max(ca_rtt_us, 0), now, self.config.min_rtt_wlen)
        rtt.sample(seq_rtt_us, self.snd_una, self.snd_nxt)
        return True

    # -- SACK (RFC 2018, RFC 2883) -------------------------------------------------------

    def _sack_blocks_in(self, seg: TCPSegment) -> list[tuple[int, int]]:
        options = seg.options
        if not options or (len(options) == 3 and options[2].kind == 8):
            return []  # nothing, or just NOP,NOP,TS: no SACK block here
        for opt in options:
            if opt.kind == 5:
                near = self.snd_una
                return [(unwrap(a, near), unwrap(b, near)) for a, b in opt.blocks]  # type: ignore[union-attr]
        return []

    def _sacktag(self, blocks: list[tuple[int, int]], prior_snd_una: int, ack: int,
                 now: float) -> int:
        """Linux ``tcp_sacktag_write_queue``: mark segments the peer holds, advance
        RACK, notice reordering. A first block below the ACK, or inside the second, is
        a D-SACK (RFC 2883 §4)."""
        self._rtx_per_segment()
        flag = 0
        reord = self.snd_nxt  # the lowest never-retransmitted segment SACKed in a hole
        fack = self._highest_sack_end()
        if blocks and (blocks[0][0] < ack or (
                len(blocks) > 1 and blocks[1][0] <= blocks[0][0] and blocks[0][1] <= blocks[1][1])):
            flag |= FLAG_DSACKING_ACK
            blocks = blocks[1:]
        # Lowest first, as tcp_sacktag_write_queue sorts them: receivers list the newest
        # block first, and taking that order would look like reordering.
        for start, end in sorted(blocks):
            if not (prior_snd_una - self.max_window <= start < end <= self.snd_nxt):
                continue  # tcp_is_sackblock_valid
            for s in self.rtx:
                if s.seq >= end:
                    break
                if s.sacked or s.seq < start or s.end > end:
                    continue
                if not s.ever_retransmitted and s.seq < min(reord, fack):
                    reord = s.seq
                fack = max(fack, s.end)
                self._rack_advance(s, now)
                s.sacked = True
                self.sacked_out += 1
                self.delivered += 1
                if s.lost:
                    s.lost = False
                    self.lost_out -= 1
                if s.retrans:
                    s.retrans = False
                    self.retrans_out -= 1
                if not s.ever_retransmitted:
                    rtt_us = int((now - s.last_sent) * 1e6)
                    if self.sack_rtt_us < 0:
                        self.sack_rtt_us = rtt_us
                    self.sack_ca_rtt_us = rtt_us
                flag |= FLAG_DATA_SACKED
        if self.ca_state != CAState.LOSS or self.undo_marker:
            self._check_sack_reordering(reord)
        return flag

    # -- reno "SACKs" for peers without SACK ----------------------------------------------

    def _add_reno_sack(self, num_dupack: int) -> None:
        """Linux ``tcp_add_reno_sack``: each duplicate ACK counts as one SACKed segment."""
        if num_dupack:
            prior = self.sacked_out
            self.sacked_out += num_dupack
            self._check_reno_reordering(0)
            self.delivered += max(self.sacked_out - prior, 0)

    def _remove_reno_sacks(self, acked: int) -> None:
        """Linux ``tcp_remove_reno_sacks``: one acknowledged segment filled the hole,
        the others had been counted by their duplicate ACKs."""
        if acked > 0:
            self.delivered += max(acked - self.sacked_out, 1)
            self.sacked_out = 0 if acked - 1 >= self.sacked_out else self.sacked_out - (acked - 1)
        self._check_reno_reordering(acked)

    def _check_reno_reordering(self, addend: int) -> None:
        """Linux ``tcp_check_reno_reordering``: more duplicate ACKs than segments out
        past the holes means the path reordered (``tcp_limit_reno_sacked``)."""
        holes = min(max(self.lost_out, 1), self.packets_out)
        if self.sacked_out + holes <= self.packets_out:
            return
        self.sacked_out = self.packets_out - holes
        self.reordering = min(self.packets_out + addend, self.config.max_reordering)
        self.reord_seen += 1

    # -- loss marking ---------------------------------------------------------------------

    def _identify_packet_loss(self, flag: int, now: float) -> int:
        """Linux ``tcp_identify_packet_loss``: RFC 6582 NewReno without SACK
        (``tcp_newreno_mark_lost``: the head, after ``reordering`` duplicates or on a
        partial ACK), RACK with it. An armed REO timer must not be replaced by the RTO
        (FLAG_SET_XMIT_TIMER off); a retransmission lost again is FLAG_LOST_RETRANS."""
        if not self.rtx:
            return flag
        if not self.sack_ok:
            state = self.ca_state
            if ((state < CAState.RECOVERY and self.sacked_out >= self.reordering)
                    or (state == CAState.RECOVERY and flag & FLAG_SND_UNA_ADVANCED)):
                head = self.rtx[0]
                if not head.lost:
                    self._mark_lost(head)
        else:
            prior_retrans = self.retrans_out
            if self._rack_mark_lost(now):
                flag &= ~FLAG_SET_XMIT_TIMER
            if prior_retrans > self.retrans_out:
                flag |= FLAG_LOST_RETRANS
        return flag

    def _time_to_recover(self) -> bool:
        """Linux ``tcp_time_to_recover``: only a loss proven (by RACK or NewReno)."""
        return bool(self.lost_out)

    # -- the congestion-avoidance state machine -------------------------------------------

    def _fastretrans_alert(
        self, prior_snd_una: int, num_dupack: int, flag: int, now: float
    ) -> tuple[int, bool]:
        """Linux ``tcp_fastretrans_alert``. Returns the flags and whether to retransmit."""
        del prior_snd_una
        self._rtx_per_segment()
        if not self.packets_out and self.sacked_out:
            self.sacked_out = 0
        state = self.ca_state
        if state == CAState.OPEN:
            self.retrans_stamp = None
        elif self.snd_una >= self.high_seq:
            if state == CAState.CWR:
                if self.snd_una != self.high_seq:
                    self._end_cwnd_reduction()
                    self._set_ca_state(CAState.OPEN)
            elif state == CAState.RECOVERY:
                if not self.sack_ok:
                    self.sacked_out = 0
                if self.snd_una == self.high_seq and not self.sack_ok:
                    # RFC 6582 §3.2 (5): hold until something above "recover" is ACKed.
                    if not self._any_retrans_done():
                        self.retrans_stamp = None
                    return flag, False
                self._set_ca_state(CAState.OPEN)
                self._end_cwnd_reduction()
        state = self.ca_state
        if state == CAState.RECOVERY:
            if not flag & FLAG_SND_UNA_ADVANCED and not self.sack_ok:
                self._add_reno_sack(num_dupack)
            flag = self._identify_packet_loss(flag, now)
        else:
            if state == CAState.LOSS:
                recovered = self.snd_una >= self.high_seq
                if recovered:
                    self._set_ca_state(CAState.OPEN)
                elif not self.sack_ok:
                    if self.snd_nxt > self.high_seq and num_dupack:
                        self._add_reno_sack(num_dupack)
                    elif flag & FLAG_SND_UNA_ADVANCED:
                        self.sacked_out = 0
                flag = self._identify_packet_loss(flag, now)
                if self.ca_state != CAState.OPEN and not flag & FLAG_LOST_RETRANS:
                    return flag, True
                # Recovered, or a retransmission was lost again: on to Recovery.
            if not self.sack_ok:
                if flag & FLAG_SND_UNA_ADVANCED:
                    self.sacked_out = 0
                self._add_reno_sack(num_dupack)
            flag = self._identify_packet_loss(flag, now)
            if not self._time_to_recover():
                self._try_to_open()
                return flag, False
            self._enter_recovery()
        return flag, True

    def _any_retrans_done(self) -> bool:
        return bool(self.retrans_out) or bool(self.rtx and self.rtx[0].ever_retransmitted)

    def _try_to_open(self) -> None:
        if not self._any_retrans_done():
            self.retrans_stamp = None
        if self.ca_state != CAState.CWR:
            state = CAState.OPEN
            if self.sacked_out + self.lost_out or self._any_retrans_done():
                state = CAState.DISORDER
            if self.ca_state != state:
                self._set_ca_state(state)
                self.high_seq = self.snd_nxt

    def _enter_recovery(self) -> None:
        """Linux ``tcp_enter_recovery``: fast retransmit starts (RFC 5681 §3.2 (2))."""
        self.prior_ssthresh = 0
        self.undo_marker = self.snd_una
        if self.ca_state not in (CAState.CWR, CAState.RECOVERY):
            self.prior_ssthresh = self._current_ssthresh()
            self._init_cwnd_reduction()
        self._set_ca_state(CAState.RECOVERY)

    def _enter_cwr(self) -> None:
        """Linux ``tcp_enter_cwr``: a congestion window reduction without a loss (the
        device refused a packet), unless one is under way."""
        self.prior_ssthresh = 0
        if self.ca_state < CAState.CWR:
            self.undo_marker = 0
            self._init_cwnd_reduction()
            self._set_ca_state(CAState.CWR)

    def _init_cwnd_reduction(self) -> None:
        """RFC 6937 §3: start Proportional Rate Reduction."""
        self.high_seq = self.snd_nxt
        self.tlp_high_seq = 0
        self.cwnd_cnt = 0
        self.prior_cwnd = self.cwnd
        self.prr_delivered = 0
        self.prr_out = 0
        self.ssthresh = self.cc.ssthresh_on_loss(self)

    def _cwnd_reduction(self, newly_acked_sacked: int, newly_lost: int, flag: int) -> None:
        """RFC 6937 §3 (Linux ``tcp_cwnd_reduction``): send in proportion to what is
        delivered while in flight exceeds ssthresh, then slow-start back up to it (one
        more on an ACK of new data, unless it also revealed a loss)."""
        if newly_acked_sacked <= 0 or not self.prior_cwnd:
            return
        in_flight = self._in_flight()
        delta = self.ssthresh - in_flight
        self.prr_delivered += newly_acked_sacked
        if delta < 0:
            sndcnt = (self.ssthresh * self.prr_delivered + self.prior_cwnd - 1) // self.prior_cwnd
            sndcnt -= self.prr_out
        else:
            sndcnt = max(self.prr_delivered - self.prr_out, newly_acked_sacked)
            if flag & FLAG_SND_UNA_ADVANCED and not newly_lost:
                sndcnt += 1
            sndcnt = min(delta, sndcnt)
        sndcnt = max(sndcnt, 0 if self.prr_out else 1)
        self.cwnd = in_flight + sndcnt

    def _end_cwnd_reduction(self) -> None:
        """RFC 6937 §3 / RFC 6582 §3.2 (6): leaving recovery, cwnd = ssthresh."""
        if self.ssthresh < INFINITE_SSTHRESH and (self.ca_state == CAState.CWR or self.undo_marker):
            self.cwnd = self.ssthresh

    def _cong_control(self, acked_sacked: int, newly_lost: int, flag: int, now: float) -> None:
        """Linux ``tcp_cong_control``: shrink during a reduction, else let the algorithm
        grow cwnd for newly acknowledged data."""
        if self.ca_state in (CAState.CWR, CAState.RECOVERY):
            self._cwnd_reduction(acked_sacked, newly_lost, flag)
        elif flag & FLAG_DATA_ACKED:
            self.cc.cong_avoid(self, acked_sacked)
            self.snd_cwnd_stamp = now
        if flag & FLAG_SYN_ACKED and self.passive:
            # The ACK completing a passive open: Linux's child socket has no RTT yet
            # when tcp_ack runs (tcp_synack_rtt_meas comes after), so the pacing rate
            # stays unlimited until the next ACK of data.
            self.pacing_rate = -1
        elif flag & (FLAG_ACKED | FLAG_DATA_SACKED) or (
                self.ca_state != CAState.OPEN and not flag & FLAG_DATA):
            # Linux recomputes it on every ACK; a data segment acknowledging nothing
            # takes its fast path, which leaves it alone, and so must tcpkit's slow path
            # for the same segment (even in a reduction, after a timer moved cwnd).
            self._update_pacing_rate()

    def _enter_loss(self) -> None:
        """Linux ``tcp_enter_loss`` (RFC 5681 §3.1 (4)-(5)): after an RTO everything
        outstanding is presumed lost, except, with RACK, what was sent less than
        RACK.rtt ago (RFC 8985 §6.3, Linux ``tcp_timeout_mark_lost``); cwnd restarts
        from what is still in flight."""
        self._rtx_per_segment()
        head = self.rtx[0] if self.rtx else None
        reneg = head is not None and head.sacked
        if reneg or not self.sack_ok:
            self.sacked_out = 0
        young = self.clock - self.rack_rtt_us / 1e6 if self.sack_ok else None
        for s in self.rtx:
            if reneg and s.sacked:
                s.sacked = False
            elif young is not None and s is not head and s.last_sent > young:
                continue  # too recent to call lost yet
            self._mark_lost(s)
        state = self.ca_state
        if state <= CAState.DISORDER or self.high_seq <= self.snd_una or (
                state == CAState.LOSS and not self.retransmits):
            self.prior_ssthresh = self._current_ssthresh()
            self.prior_cwnd = self.cwnd
            self.ssthresh = self.cc.ssthresh_on_loss(self)
            self.undo_marker = self.snd_una
        self.cwnd = self._in_flight() + 1
        self.cwnd_cnt = 0
        self._set_ca_state(CAState.LOSS)
        self.high_seq = self.snd_nxt
        self.tlp_high_seq = 0

    def _simple_retransmit(self, now: float, *, every: bool = False) -> None:
        """Linux ``tcp_simple_retransmit``: unacknowledged segments larger than the new
        MSS are split to fit (``tcp_fragment``) and marked lost, then resent at once;
        cwnd is not reduced (the loss was the path's, not congestion's:
        ``tcp_non_congestion_loss_retransmit``). ``every``: all of them are lost (a
        SYN-ACK that left Fast Open data unacknowledged, ``tcp_rcv_fastopen_synack``)."""
        self._rtx_per_segment()
        mss = self.mss_cache
        pieces: list[SentSegment] = []
        for s in self.rtx:
            payload_end = s.end - (1 if s.flags & FIN else 0)
            first = max(s.seq, self.snd_una)  # a partly acknowledged one is cut first
            if s.flags & SYN or payload_end - first <= mss:
                if every and not s.flags & SYN and not s.lost and not s.sacked:
                    self._mark_lost(s)
                pieces.append(s)
                continue
            # Linux marks the oversized skb lost and tcp_fragment splits it when it is
            # resent; splitting here gives the same segments on the wire.
            if s.retrans:
                self.retrans_out -= 1
            if s.lost:
                self.lost_out -= 1
            for start in range(first, payload_end, mss):
                stop = min(start + mss, payload_end)
                last = stop == payload_end
                piece = SentSegment(start, s.end if last else stop,
                                    s.flags if last else s.flags & ~(FIN | PSH),
                                    s.first_sent, s.last_sent, s.ever_retransmitted,
                                    skb_end=True)  # tcp_fragment: an skb each
                self._mark_lost(piece)
                pieces.append(piece)
        if not self.lost_out:
            return
        self.rtx.clear()
        self.rtx.extend(pieces)
        self.packets_out = len(pieces)
        self.sent_skbs = sum(p.skb_end for p in pieces)
        if self.ca_state != CAState.LOSS:
            self.high_seq = self.snd_nxt
            self.ssthresh = self._current_ssthresh()
            self.prior_ssthresh = 0
            self.undo_marker = 0
            self._set_ca_state(CAState.LOSS)
        self._xmit_retransmit_queue(now)
        self._rearm_rto(now)

    def _xmit_retransmit_queue(self, now: float) -> None:
        """Linux ``tcp_xmit_retransmit_queue``: resend lost segments while cwnd allows."""
        if not self.packets_out:
            return
        self._rtx_per_segment()
        rearm = False
        rtx = self.rtx
        i = -1
        while i + 1 < len(rtx):
            # By index: a short retransmission merges the segments after it into itself
            # (tcp_retrans_try_collapse), and those must not be sent again.
            i += 1
            s = rtx[i]
            if self.cwnd - self._in_flight() <= 0:
                break
            if self.retrans_out >= self.lost_out:
                break
            if not s.lost or s.sacked or s.retrans:
                continue
            if not self._retransmit(s, now):
                break  # the device refused it
            if self.ca_state in (CAState.CWR, CAState.RECOVERY):
                self.prr_out += 1
            if self.rtx and s is self.rtx[0] and self.xmit_kind != XMIT_REO_TIMEOUT:
                rearm = True
        if rearm:
            deadline = self._jiffies_deadline(now, self.rtt.rto_jiffies)
            self._set_xmit_timer_kind(XMIT_RETRANS, deadline)

    def _rack_reo_timeout(self, now: float) -> None:
        """Linux ``tcp_rack_reo_timeout`` (RFC 8985 §6.3): the reordering window is
        over; what is still missing is lost: recover and resend it."""
        prior_in_flight = self._in_flight()
        prior_lost = self.lost
        self._rack_detect_loss(now)
        if prior_in_flight != self._in_flight():
            if self.ca_state != CAState.RECOVERY:
                self._enter_recovery()
                self._cwnd_reduction(1, self.lost - prior_lost, 0)
            self._xmit_retransmit_queue(now)
        if self.xmit_kind != XMIT_RETRANS:
            self._rearm_rto(now)

    # -- tail loss probe (RFC 8985 §7) -----------------------------------------------------

    def _after_new_data(self, now: float) -> None:
        self._schedule_loss_probe(now, advancing_rto=False)

    def _set_xmit_timer(self, now: float) -> None:
        """Linux ``tcp_set_xmit_timer``: a loss probe if one is allowed, else the RTO."""
        if not self._schedule_loss_probe(now, advancing_rto=True):
            self._rearm_rto(now)

    def _schedule_loss_probe(self, now: float, advancing_rto: bool) -> bool:
        """Linux ``tcp_schedule_loss_probe``: probe after 2*SRTT (plus room for a
        delayed ACK when one segment is out), unless the RTO would fire sooner."""
        if (not self.packets_out or not self.sack_ok
                or self.ca_state not in (CAState.OPEN, CAState.CWR)):
            return False
        hz = self.config.hz
        if self.rtt.srtt_us:
            ticks = usecs_to_jiffies(self.rtt.srtt_us >> 2, hz)
            ticks += self.config.jiffies(self.config.rto_min) if self.packets_out == 1 \
                else TIMEOUT_MIN
        else:
            ticks = self.config.jiffies(self.config.rto_initial)
        if advancing_rto:
            rto_delta = self.rtt.rto
        else:
            rto_delta = self.rtx[0].last_sent + self.rtt.rto - now if self.rtx else self.rtt.rto
        if rto_delta > 0:
            ticks = min(ticks, self.config.jiffies(rto_delta))
        self._set_xmit_timer_kind(XMIT_LOSS_PROBE, self._jiffies_deadline(now, ticks))
        return True

    def _send_loss_probe(self, now: float) -> None:
        """Linux ``tcp_send_loss_probe``: new data if the window allows, else the last
        segment again; at most one probe outstanding."""
        if not self.tlp_high_seq:
            self.tlp_retrans = False
            sent = False
            avail = self.send_buffer.end - self.snd_nxt
            if self.snd_nxt < self.write_seq and (
                    self.snd_nxt + min(self._current_mss(), avail)
                    <= self.snd_una + self.snd_wnd):
                # New data the window takes (tcp_snd_wnd_test); otherwise the last
                # segment goes again.
                before = self.packets_out
                self._write_xmit(now, NAGLE_OFF, push_one=2)
                sent = self.packets_out > before
            elif self.rtx:
                self._rtx_per_segment()
                last = self.rtx[-1]
                last.seq = max(last.seq, self.snd_una)  # tcp_trim_head
                length = last.end - last.seq - (1 if last.flags & 1 else 0)
                payload = self.send_buffer.slice(last.seq, length) if length else b""
                sent = self._emit_segment(last.seq, last.flags | 0x10, now, payload)
                last.ever_retransmitted = True
                self.total_retrans += 1
                if sent:
                    last.last_sent = now
                    last.delivered = self.delivered
                    self.tlp_retrans = True
                else:
                    self._emit(Counted("TcpExtTCPRetransFail"))
            if sent:
                self.tlp_high_seq = self.snd_nxt
                self.xmit_kind = 0
        self._rearm_rto(now)

    def _process_tlp_ack(self, ack: int, flag: int) -> None:
        """Linux ``tcp_process_tlp_ack``: an ACK beyond the probe means a real loss was
        repaired by it: reduce cwnd once (a CWR episode)."""
        if ack < self.tlp_high_seq:
            return
        if not self.tlp_retrans or flag & FLAG_DSACKING_ACK:
            self.tlp_high_seq = 0
        elif ack > self.tlp_high_seq:
            self.tlp_high_seq = 0
            self._init_cwnd_reduction()
            self._set_ca_state(CAState.CWR)
            self._end_cwnd_reduction()
            self._try_to_open()
        elif not flag & (FLAG_SND_UNA_ADVANCED | FLAG_NOT_DUP | FLAG_DATA_SACKED):
            self.tlp_high_seq = 0

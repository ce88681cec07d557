"""SEGMENT ARRIVES (RFC 9293 §3.10.7), state by state, step by step.

:meth:`SegmentArrives.on_segment` dispatches on the state: CLOSED (§3.10.7.1), LISTEN
(§3.10.7.2), SYN-SENT (§3.10.7.3), TIME-WAIT, and the rest (§3.10.7.4), which runs the
RFC's steps in order: check the sequence number (with PAWS, RFC 7323 §5), the RST bit
(RFC 5961 §3), the SYN bit (RFC 5961 §4), the ACK field, the URG bit, the segment text
and the FIN bit. The checks are Linux's (``tcp_validate_incoming``,
``tcp_rcv_synsent_state_process``, ``tcp_rcv_state_process``, ``tcp_check_req`` for a
passive open's SYN-RECEIVED, ``tcp_timewait_state_process``), and where Linux differs
from the letter of the RFC the code says so.
"""

from __future__ import annotations

from tcpkit.tcp.config import TCP_DEFAULT_MSS, TCP_MAX_WSCALE, TCP_TIMEWAIT_LEN
from tcpkit.tcp.events import Connected, Counted, FastOpenLearned
from tcpkit.tcp.fastopen import MAX_OPTION_SPACE, FastOpenAttempt, valid_cookie
from tcpkit.tcp.recovery import (
    ACK_OK,
    ACK_UNSENT,
    FLAG_NO_CHALLENGE_ACK,
    FLAG_SLOWPATH,
    FLAG_UPDATE_TS_RECENT,
)
from tcpkit.tcp.reset import reset_for
from tcpkit.tcp.seq import unwrap
from tcpkit.tcp.state import Event, State
from tcpkit.tcp.tcb import CAState, SentSegment
from tcpkit.tcp.timers import Timers
from tcpkit.tcp.window import U16_MAX
from tcpkit.wire.tcp import ACK, FIN, PSH, RST, SYN, TCPSegment
from tcpkit.wire.tcp_options import (
    MSS,
    NOP,
    SackPermitted,
    Timestamps,
    WindowScale,
    find_option,
)


class SegmentArrives(Timers):
    """RFC 9293 §3.10.7."""

    __slots__ = ()

    def on_segment(self, seg: TCPSegment, now: float) -> None:
        """An arriving segment for this connection (RFC 9293 §3.10.7)."""
        self.clock = now
        state = self.state
        if state is State.ESTABLISHED and self.fast_path and self._predicted(seg, now):
            return
        if state is State.CLOSED:
            self._reply_reset(seg)
        elif state is State.LISTEN:
            self._listen_segment(seg, now)
        elif state is State.SYN_SENT:
            self._synsent_segment(seg, now)
        elif state is State.TIME_WAIT:
            self._timewait_segment(seg, now)
        elif state is State.SYN_RECEIVED and self.passive:
            self._synrecv_passive_segment(seg, now)
        else:
            self._synchronized_segment(seg, now)

    def _reply_reset(self, seg: TCPSegment) -> None:
        """RFC 9293 §3.10.7.1: a segment for no connection is answered by a RST."""
        reset = reset_for(seg)
        if reset is not None:
            self.out.append(reset)

    # -- options (RFC 9293 §3.2, RFC 7323, RFC 2018) -------------------------------------

    def _parse_timestamps(self, seg: TCPSegment) -> None:
        """Linux ``tcp_fast_parse_options``: the timestamps of a synchronized segment,
        TSecr taken back to our own clock."""
        self.saw_tstamp = False
        if not self.ts_ok:
            return
        for opt in seg.options:
            if isinstance(opt, Timestamps):
                self._take_timestamps(opt)
                return

    def _take_timestamps(self, stamp: Timestamps) -> None:
        """A segment's timestamps (RFC 7323 §3): TSval as sent, TSecr taken back to our
        own clock (0: nothing echoed)."""
        self.saw_tstamp = True
        self.rcv_tsval = stamp.tsval
        self.rcv_tsecr = (stamp.tsecr - self.ts_offset) & 0xFFFFFFFF if stamp.tsecr else 0

    def _parse_syn_options(self, seg: TCPSegment) -> tuple[int, int | None, bool, bool]:
        """A SYN's options as Linux ``tcp_parse_options`` takes them: the MSS to clamp
        to (536 if absent, RFC 9293 §3.7.1), the window-scale shift (None if absent,
        at most 14, RFC 7323 §2.3), SACK permitted and timestamps seen."""
        cfg = self.config
        mss = TCP_DEFAULT_MSS
        wscale: int | None = None
        sack = saw_ts = False
        self.saw_tstamp = False
        for opt in seg.options:
            if isinstance(opt, MSS):
                if opt.value:
                    mss = opt.value
                    if cfg.user_mss and mss > cfg.user_mss:
                        mss = cfg.user_mss
            elif isinstance(opt, WindowScale) and cfg.window_scaling:
                wscale = min(opt.shift, TCP_MAX_WSCALE)
            elif isinstance(opt, SackPermitted) and cfg.sack:
                sack = True
            elif isinstance(opt, Timestamps) and cfg.timestamps:
                saw_ts = self.saw_tstamp = True
                self.rcv_tsval = opt.tsval
                self.rcv_tsecr = opt.tsecr
        return mss, wscale, sack, saw_ts

    # -- LISTEN (§3.10.7.2) ------------------------------------------------------------

    def _listen_segment(self, seg: TCPSegment, now: float) -> None:
        flags = seg.flags
        if flags & RST:
            return  # first: an incoming RST is ignored
        if flags & ACK:
            self._reply_reset(seg)  # second: any ACK is bad here: <SEQ=SEG.ACK><CTL=RST>
            return
        if not flags & SYN or flags & FIN:
            return  # Linux drops SYN+FIN; anything without SYN is dropped too
        self._accept_syn(seg, now)

    def _accept_syn(self, seg: TCPSegment, now: float) -> None:
        """Third check in LISTEN: a SYN opens SYN-RECEIVED and gets a SYN-ACK (Linux
        ``tcp_conn_request``, ``tcp_openreq_init``, ``tcp_openreq_init_rwin``)."""
        mss, wscale, sack, saw_ts = self._parse_syn_options(seg)
        self.irs = seg.seq
        self.rcv_nxt = self.rcv_wup = self.copied_seq = self.irs + 1
        self.ts_ok = saw_ts
        self.sack_ok = sack
        self.wscale_ok = wscale is not None
        self.snd_wscale = wscale or 0
        self.mss_clamp = mss
        if saw_ts:
            self.ts_recent = self.rcv_tsval
            self.ts_recent_stamp = now
        self.iss = self.secrets.isn(self.local, self.remote, now) if self.chosen_iss is None \
            else self.chosen_iss
        self.ts_offset = self.secrets.ts_offset(self.local[0], self.remote[0]) if saw_ts else 0
        self._start_sequence(self.iss)
        self.snd_wnd = self.max_window = seg.window  # SYN windows are never scaled
        self.snd_wl1 = self.irs
        self.advmss = self._advertised_mss()
        self._sync_mss()
        if self.config.rcvbuf is not None:
            self.window_clamp = self._full_space()
        self._select_initial_window(self._full_space(), self.advmss - (12 if saw_ts else 0),
                                    self.wscale_ok)
        self.rcv_ssthresh = self.rcv_wnd
        self._transition(Event.RCV_SYN, "SYN received")
        self._send_syn_and_track(now, synack=True)

    def _start_sequence(self, iss: int) -> None:
        """SND.UNA = ISS, SND.NXT = ISS (+1 once the SYN goes), data after the SYN."""
        self.snd_una = self.snd_nxt = self.write_seq = self.snd_up = self.snd_sml = iss
        self.pushed_seq = iss + 1  # Linux tcp_connect / tcp_create_openreq_child
        self.send_buffer = type(self.send_buffer)(iss + 1)

    def _send_syn_and_track(self, now: float, *, synack: bool,
                            data: bytes | bytearray | memoryview = b"") -> int:
        """The first SYN (or SYN-ACK), and with Fast Open its data: how many bytes."""
        fo = self.fastopen
        if synack:
            self._send_synack(now)
        elif fo is not None and fo.cookie and data:
            return self._send_syn_data(now, data, fo)
        else:
            self._send_syn(now)
        if fo is not None:
            fo.first_syn_done = True
        self.rtx.append(SentSegment(self.iss, self.iss + 1, SYN, now, now))
        if not synack:
            self.retrans_stamp = now  # Linux tcp_connect: the SYN's retries count from here
        self.packets_out = 1
        self.snd_nxt = self.write_seq = self.iss + 1
        self._rearm_rto(now)
        return 0

    def _send_syn_data(self, now: float, data: bytes | bytearray | memoryview,
                       fo: FastOpenAttempt) -> int:
        """Linux ``tcp_send_syn_data``: as much data as an MSS leaves beside the largest
        option area (the server's cached MSS, else ours, bounded by the route and
        TCP_MAXSEG), in a SYN with the cookie. Two skbs are in flight: the SYN, which
        goes again alone if it times out, and the data, which goes again with ACK|PSH."""
        self.mss_clamp = min(fo.mss or self.advmss, self.config.user_mss or 65535)
        # ts_ok is not yet set: the route's MSS without the timestamp option, as
        # __tcp_mtu_to_mss gives it.
        size = min(self._mtu_to_mss() - MAX_OPTION_SPACE, len(data))
        start = self.iss + 1
        self.send_buffer.append(bytes(data[:size]))
        self._emit_segment(self.iss, SYN, now, self.send_buffer.slice(start, size),
                           options=self._syn_options(now, synack=False))
        fo.first_syn_done = True
        fo.syn_data = True
        self.rtx.append(SentSegment(self.iss, start, SYN, now, now))
        self.rtx.append(SentSegment(start, start + size, ACK | PSH, now, now,
                                    delivered=self.delivered, skb_end=True))
        self.sent_skbs += 1
        self.retrans_stamp = now
        self.packets_out = 2
        self.snd_nxt = self.write_seq = start + size
        self._rearm_rto(now)
        return size

    def _init_rcv_mss(self) -> None:
        """Linux ``tcp_initialize_rcv_mss``: a conservative first guess."""
        hint = min(self.advmss, self.mss_cache, self.rcv_wnd // 2, 536)
        self.rcv_mss = max(hint, 88)

    # -- SYN-SENT (§3.10.7.3) ------------------------------------------------------------

    def _synsent_segment(self, seg: TCPSegment, now: float) -> None:
        """Linux ``tcp_rcv_synsent_state_process``."""
        flags = seg.flags
        mss, wscale, sack, saw_ts = self._parse_syn_options(seg)
        if saw_ts and self.rcv_tsecr:
            self.rcv_tsecr = (self.rcv_tsecr - self.ts_offset) & 0xFFFFFFFF
        if flags & ACK:
            ack = unwrap(seg.ack, self.snd_una)
            # First: an ACK of something we did not send (RFC 9293 §3.10.7.3).
            if ack <= self.snd_una or ack > self.snd_nxt:
                if self.retransmits == 0:
                    # Linux: a stray SYN-ACK hints our SYN was lost: retry soon.
                    self._set_xmit_timer_kind(1, self._jiffies_deadline(now, 2))
                self._reply_reset(seg)
                return
            # RFC 7323 §5.5 PAWS on the SYN-ACK: it must echo a TSval we sent.
            if saw_ts and self.rcv_tsecr and not (
                self._ts_between(self.rcv_tsecr, self.rtx[0].first_sent
                                 if self.retrans_stamp is None else self.retrans_stamp, now)
            ):
                self._reply_reset(seg)
                return
            if flags & RST:
                # Second: an acceptable RST: "connection refused" (RFC 9293 §3.10.7.3).
                self._reset_received("connection refused: the peer answered our SYN with RST")
                return
            if not flags & SYN:
                return
            self._synack_received(seg, mss, wscale, sack, saw_ts, now)
            return
        if flags & RST:
            return  # a RST without ACK is dropped
        if flags & SYN:
            # Simultaneous open (RFC 9293 figure 8): SYN-RECEIVED, answer with SYN,ACK.
            self.irs = seg.seq
            self.rcv_nxt = self.rcv_wup = self.copied_seq = self.irs + 1
            self._negotiate(mss, wscale, sack, saw_ts, now)
            self.snd_wnd = self.max_window = seg.window
            self.snd_wl1 = seg.seq
            self._sync_mss()
            self._init_rcv_mss()
            self._transition(Event.RCV_SYN, "SYN received while ours was out (simultaneous open)")
            self._send_synack(now)

    def _ts_between(self, tsecr: int, since: float, now: float) -> bool:
        """``tsecr`` lies between our timestamp clock at ``since`` and at ``now``."""
        low = self._ts_raw(since)
        high = self._ts_raw(now)
        return (tsecr - low) & 0xFFFFFFFF <= (high - low) & 0xFFFFFFFF

    def _negotiate(self, mss: int, wscale: int | None, sack: bool, saw_ts: bool,
                   now: float) -> None:
        """Options both sides now agree on (RFC 7323 §2.2, §3.2; RFC 2018 §2)."""
        self.mss_clamp = min(mss, self.config.user_mss or mss)
        self.sack_ok = sack and self.config.sack
        if wscale is None or not self.config.window_scaling:
            self.wscale_ok = False
            self.snd_wscale = self.rcv_wscale = 0
            self.window_clamp = min(self.window_clamp, 65535)
        else:
            self.wscale_ok = True
            self.snd_wscale = wscale
        if saw_ts and self.config.timestamps:
            self.ts_ok = True
            self.advmss -= 12
            self.ts_recent = self.rcv_tsval
            self.ts_recent_stamp = now
        else:
            self.ts_ok = False

    def _synack_received(self, seg: TCPSegment, mss: int, wscale: int | None, sack: bool,
                         saw_ts: bool, now: float) -> None:
        """Our SYN was acknowledged with a SYN: ESTABLISHED (RFC 9293 §3.10.7.3 fourth)."""
        self.snd_wl1 = seg.seq
        self._ack(seg, seg.seq, FLAG_SLOWPATH, now)
        self.irs = seg.seq
        self.rcv_nxt = self.rcv_wup = self.irs + 1
        self.snd_wnd = seg.window  # never scaled in a SYN
        self._negotiate(mss, wscale, sack, saw_ts, now)
        self._sync_mss()
        self._init_rcv_mss()
        self.copied_seq = self.rcv_nxt
        self._transition(Event.RCV_SYN_ACK, "SYN,ACK received")
        self._init_transfer(now)
        self._emit(Connected())
        if self.fastopen is not None and self._fastopen_synack(seg, now):
            self._push(now)  # the resent data carries the ACK
            return
        if self.write_pending or self._in_pingpong():
            # Linux: a writer is waiting, so its data will carry the ACK shortly.
            self._schedule_ack()
            self._enter_quickack_mode(self.config.quickack_max)
            self.ack_pending |= 2
            self.delack_deadline = self._jiffies_deadline(now, self.delack_max)
        else:
            self._send_ack(now)
        self._push(now)

    def _fastopen_synack(self, seg: TCPSegment, now: float) -> bool:
        """Linux ``tcp_rcv_fastopen_synack``: tell the host what to keep for the next
        Fast Open to this server; resend at once (no congestion response) the SYN's
        data the SYN-ACK did not acknowledge, and say so (True)."""
        fo = self.fastopen
        assert fo is not None
        cookie, experimental = valid_cookie(seg.options)
        mss = find_option(seg.options, MSS)
        unacked = fo.syn_data and self.snd_una < self.snd_nxt
        syn_loss, try_exp = False, 0
        if not fo.option_sent:
            cookie = None  # an unsolicited cookie is ignored
        elif self.total_retrans:
            # The SYN timed out: the server presumably saw only the plain SYN again.
            syn_loss = cookie is None and unacked
        elif cookie is None and not fo.syn_data:
            try_exp = 2 if fo.experimental else 1  # asked, got none: the other kind next
        self._emit(FastOpenLearned(mss.value if mss is not None else 0, cookie, experimental,
                                   syn_loss, try_exp))
        if unacked:
            self._emit(Counted("TcpExtTCPFastOpenActiveFail"))
            self._simple_retransmit(now, every=True)
            return True
        if fo.syn_data:
            fo.data_acked = True
            self._emit(Counted("TcpExtTCPFastOpenActive"))
            if self.delivered > 1:
                self.delivered -= 1  # the SYN and its data were counted as two
        return False

    def _init_transfer(self, now: float) -> None:
        """Linux ``tcp_init_transfer``, when the connection becomes established."""
        if not self.rtt.srtt_us:
            self.rtt.fallback()  # RFC 6298 §5.7: no sample from the handshake
        self.cwnd = 1 if self.total_retrans > 1 and self.undo_marker else self.config.init_cwnd
        self.snd_cwnd_stamp = now
        self._init_buffer_space(now)
        self.lsndtime = now
        self.retrans_stamp = None
        self.rcv_tstamp = now
        self.lrcvtime = now
        if self.config.keepalive:
            self._arm_keepalive(now, self.config.keepalive_time)

    # -- SYN-RECEIVED of a passive open (Linux tcp_check_req) -----------------------------

    def _synrecv_passive_segment(self, seg: TCPSegment, now: float) -> None:
        flags = seg.flags
        self._parse_timestamps(seg)
        seq = unwrap(seg.seq, self.rcv_nxt)
        end = seq + len(seg.payload) + (flags & SYN and 1) + (flags & FIN and 1)
        paws_reject = self.saw_tstamp and not self._paws_check(1)
        if seq == self.irs and flags & (SYN | ACK | RST | FIN) == SYN and not paws_reject:
            # A retransmitted SYN: the SYN-ACK was lost; send it again.
            if not self._oow_rate_limited(now):
                self._send_synack(now)
            return
        if flags & ACK and unwrap(seg.ack, self.snd_una) != self.iss + 1:
            self._reply_reset(seg)  # RFC 9293 §3.10.7.4: unacceptable ACK in SYN-RECEIVED
            return
        # tcp_check_req: within the SYN-ACK's window (tcp_synack_window).
        window_end = self.rcv_nxt + min(self.rcv_wnd, U16_MAX << self.rcv_wscale)
        in_window = ((seq == end and seq == self.rcv_nxt)
                     or (seq < window_end and end > self.rcv_nxt))
        if paws_reject or not in_window:
            if not flags & RST and not self._oow_rate_limited(now):
                self._send_ack(now)
            return
        if seq == self.irs:
            flags &= ~SYN
        if flags & (RST | SYN):
            if not flags & RST:
                self._reply_reset(seg)
            # RFC 9293 §3.10.7.4: a passive open goes back to LISTEN; the listener goes on.
            self._transition(Event.RCV_RST_PASSIVE,
                             "reset while in SYN-RECEIVED: back to LISTEN")
            self._clear_timers()
            self.rtx.clear()
            self.sent_skbs = 0
            self.packets_out = 0
            return
        if not flags & ACK:
            return
        self._synchronized_segment(seg, now)

    # -- TIME-WAIT (Linux tcp_timewait_state_process) -------------------------------------

    def _timewait_segment(self, seg: TCPSegment, now: float) -> None:
        flags = seg.flags
        self._parse_timestamps(seg)
        paws_reject = self.saw_tstamp and not self._paws_check(1)
        seq = unwrap(seg.seq, self.rcv_nxt)
        end = seq + len(seg.payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        if not paws_reject and seq == self.rcv_nxt and (seq == end or flags & RST):
            if flags & RST:
                if not self.config.rfc1337:
                    # TIME-WAIT assassination (RFC 1337 §2): Linux lets it happen unless
                    # net.ipv4.tcp_rfc1337 is set.
                    self._done(Event.RCV_RST, "RST killed TIME_WAIT (TIME-WAIT assassination)")
                    return
            else:
                self.timewait_deadline = self._deadline_after(now, TCP_TIMEWAIT_LEN)
            if self.saw_tstamp:
                self.ts_recent = self.rcv_tsval
                self.ts_recent_stamp = now
            return
        if (flags & (SYN | RST | ACK)) == SYN and not paws_reject and (
                seq > self.rcv_nxt
                or (self.saw_tstamp
                    and ((self.ts_recent - self.rcv_tsval) & 0xFFFFFFFF) >= 1 << 31)):
            # RFC 1122 §4.2.2.13: a new SYN may reopen the connection, with an ISN
            # above anything this incarnation used.
            isn = (self.snd_nxt + 65535 + 2) & 0xFFFFFFFF
            self.reopen_isn = isn or 1
            return
        if not flags & RST:
            # Anything else, a retransmitted FIN above all, is acknowledged again and
            # restarts the 2MSL wait.
            if paws_reject or flags & ACK:
                self.timewait_deadline = self._deadline_after(now, TCP_TIMEWAIT_LEN)
            if not self._timewait_oow_rate_limited(seg, now):
                self._emit_segment(self.snd_nxt, ACK, now)

    def _timewait_oow_rate_limited(self, seg: TCPSegment, now: float) -> bool:
        if seg.payload or seg.flags & FIN:
            return False  # only pure ACKs and SYNs are rate limited (tcp_oow_rate_limited)
        return self._oow_rate_limited(now)

    # -- the synchronized states (§3.10.7.4) ----------------------------------------------

    def _sequence_ok(self, seq: int, end: int, bare_fin: bool = False) -> bool:
        """RFC 9293 §3.10.7.4 first check, Linux 6.x ``tcp_sequence``: the segment
        overlaps the window; one reaching beyond it is taken only into an empty
        receive queue (Linux: "drop packets beyond window"). A bare FIN at RCV.NXT is
        taken even into a zero window with data waiting: Linux 6.18 accepts it (the
        kernel selftest tcp_rcv_zero_wnd_fin, which it passes here), since some stacks
        resend it forever otherwise."""
        if end < self.rcv_wup:
            return False
        win_end = self.rcv_nxt + self._receive_window()
        if end > win_end and not (bare_fin and seq == self.rcv_nxt) and (
                seq > win_end or len(self.recv_queue)):
            self._emit(Counted("TcpExtBeyondWindow"))  # Linux 6.18 LINUX_MIB_BEYOND_WINDOW
            return False
        return True

    def _send_dupack(self, seg: TCPSegment, seq: int, end: int, now: float) -> None:
        """Linux ``tcp_send_dupack``: acknowledge an unacceptable segment; data below
        RCV.NXT also gets a D-SACK and quick-ACK mode."""
        if end != seq and seq < self.rcv_nxt:
            self._enter_quickack_mode(self.config.quickack_max)
            if self.sack_ok and self.config.dsack:
                self._dsack_set(seq, min(end, self.rcv_nxt))
        self._send_ack(now)

    def _paws_discard(self, seg: TCPSegment, seq: int, end: int) -> bool:
        """RFC 7323 §5.3 (Linux ``tcp_paws_discard``): a segment with an older TSval is
        an old duplicate, unless it is a plain duplicate ACK that changes nothing."""
        if self._paws_check(1):
            return False
        ack = unwrap(seg.ack, self.snd_una)
        nwin = seg.window << self.snd_wscale
        disordered = (
            seg.flags & ACK and seq == end == self.rcv_nxt and ack == self.snd_una
            and not self._may_update_window(ack, seq, nwin)
            and ((self.ts_recent - self.rcv_tsval) & 0xFFFFFFFF)
            <= self.rtt.rto_jiffies * 1024 // self.config.hz
        )
        return not disordered

    def _validate_incoming(self, seg: TCPSegment, seq: int, end: int, now: float) -> bool:
        """Linux ``tcp_validate_incoming``: PAWS, then RFC 9293 §3.10.7.4 first,
        second and fourth checks with RFC 5961's challenge ACKs."""
        flags = seg.flags
        if self.saw_tstamp and self._paws_discard(seg, seq, end):
            if not flags & RST:
                if not self._oow_rate_limited_seg(seg, now):
                    self._send_dupack(seg, seq, end, now)
                return False
        if not self._sequence_ok(seq, end, flags & FIN != 0 and not seg.payload):
            if not flags & RST:
                if flags & SYN:
                    self._send_challenge_ack(now)
                elif not self._oow_rate_limited_seg(seg, now):
                    self._send_dupack(seg, seq, end, now)
            elif self._reset_check(seq):
                self._reset_received("connection reset by peer")
            return False
        if flags & RST:
            # RFC 5961 §3.2: only a RST at exactly RCV.NXT resets; one elsewhere in the
            # window gets a challenge ACK. Linux also takes RCV.NXT-1 after a FIN and
            # the right edge of the highest SACK block.
            if seq == self.rcv_nxt or self._reset_check(seq) or (
                    self.sack_ok and self.sack_blocks
                    and seq == max(b[1] for b in self.sack_blocks)):
                self._reset_received("connection reset by peer")
            else:
                self._send_challenge_ack(now)
            return False
        if flags & SYN:
            # RFC 5961 §4.2: a SYN in a synchronized state gets a challenge ACK.
            if (self.state is State.SYN_RECEIVED and flags & ACK
                    and seq + 1 == end and seq + 1 == self.rcv_nxt
                    and unwrap(seg.ack, self.snd_una) == self.snd_nxt):
                return True  # the crossing SYN-ACK of a simultaneous open
            self._send_challenge_ack(now)
            return False
        return True

    def _oow_rate_limited_seg(self, seg: TCPSegment, now: float) -> bool:
        """Linux ``tcp_oow_rate_limited``: segments with data are always answered."""
        if seg.payload or (seg.flags & FIN and not seg.flags & SYN):
            return False
        return self._oow_rate_limited(now)

    def _reset_check(self, seq: int) -> bool:
        """Linux ``tcp_reset_check``: a RST at RCV.NXT-1 once the peer's FIN is in."""
        return seq == self.rcv_nxt - 1 and self.state in (
            State.CLOSE_WAIT, State.LAST_ACK, State.CLOSING)

    def _predicted(self, seg: TCPSegment, now: float) -> bool:
        """Linux ``tcp_rcv_established``'s header prediction: the next in-order segment,
        only ACK (and PSH) set, the window unchanged, only a timestamp option (not older
        than TS.Recent) or none. Its two halves are the bulk sender's pure ACK of new
        data and the bulk receiver's next data. Each does what the full RFC 9293
        §3.10.7.4 processing would do for such a segment, minus the checks that cannot
        fail; anything else returns False, having changed nothing, for the full path."""
        if (seg.flags | PSH) != ACK | PSH:
            return False
        rcv_nxt = self.rcv_nxt
        if seg.seq != rcv_nxt & 0xFFFFFFFF or (seg.window << self.snd_wscale) != self.snd_wnd:
            return False
        if seg.payload:
            return self._predicted_data(seg, rcv_nxt, now)
        return self._predicted_ack(seg, rcv_nxt, now)

    def _predicted_timestamps(self, seg: TCPSegment, rcv_nxt: int, now: float) -> bool:
        """The option part of the prediction (Linux ``tcp_parse_aligned_timestamp`` and
        its PAWS shortcut): NOP, NOP, Timestamps when they are in use, else nothing.
        Takes the timestamps, TS.Recent included (RFC 7323 §4.3, Linux
        ``tcp_store_ts_recent``), only if the segment is predicted."""
        options = seg.options
        if not self.ts_ok:
            if options:
                return False
            self.saw_tstamp = False
            return True
        if len(options) != 3:
            return False
        stamp = options[2]
        if not isinstance(stamp, Timestamps) or not options[0] is options[1] is NOP:
            return False
        tsval = stamp.tsval
        if (tsval - self.ts_recent) & 0xFFFFFFFF >= 0x80000000:
            return False  # older than TS.Recent: PAWS decides
        self._take_timestamps(stamp)
        if rcv_nxt <= self.rcv_wup:
            self.ts_recent = tsval
            self.ts_recent_stamp = now
        return True

    def _predicted_ack(self, seg: TCPSegment, rcv_nxt: int, now: float) -> bool:
        """The bulk sender's half: a pure ACK of new data, not beyond SND.NXT. Linux
        hands it to ``tcp_ack`` without FLAG_SLOWPATH, then ``tcp_data_snd_check``; a
        duplicate or an old ACK takes the full path (RFC 9293 §3.10.7.4 fifth step).
        The delayed-ACK check the full path ends with runs here too (Linux's fast path
        skips it), so that both paths stay alike when an ACK of ours is pending."""
        snd_una = self.snd_una
        if not 0 < (seg.ack - snd_una) & 0xFFFFFFFF <= self.snd_nxt - snd_una:
            return False
        if not self._predicted_timestamps(seg, rcv_nxt, now):
            return False
        self._ack(seg, rcv_nxt, 0, now)
        if self._closed():
            return True
        if self.saw_tstamp and self.rcv_tsecr:
            # All tcp_rcv_rtt_measure_ts does for a segment without data.
            self.rcv_rtt_last_tsecr = self.rcv_tsecr
        self._push(now)
        self._check_space()
        self._ack_snd_check(now)
        return True

    def _predicted_data(self, seg: TCPSegment, rcv_nxt: int, now: float) -> bool:
        """The bulk receiver's half: the next data, acknowledging nothing new, nothing
        unusual pending."""
        payload = seg.payload
        if self.ofo or self.urg_pending or self.urg_data is not None or self.urg_read \
                or self.urg_mode or self.tlp_high_seq or self.dsack is not None:
            return False
        if seg.ack != self.snd_una & 0xFFFFFFFF:
            return False
        if self.ca_state != CAState.OPEN:
            # tcp_ack_is_dubious: outside Open the full path's tcp_ack runs
            # tcp_fastretrans_alert even for an ACK that acknowledges nothing. Linux's
            # fast path skips tcp_ack for it all the same; tcpkit keeps both paths alike.
            return False
        length = len(payload)
        if rcv_nxt + length > self.rcv_wup + self.rcv_wnd:
            return False  # beyond the window (or a zero window): the full path decides
        if self.rcv_mem.total > self.rcvbuf:
            return False  # the buffer is over its size: the full path prunes or refuses
        if self.snd_nxt < self.write_seq:
            # Data waits unsent (a zero window for tcp_ack_probe, or a GSO buffer
            # tcp_tso_should_defer held for this very moment): the full path, whose
            # tcp_data_snd_check sends it. Linux's fast path would leave it until the
            # next ACK when its header prediction holds; tcpkit keeps both paths alike.
            return False
        if not self._predicted_timestamps(seg, rcv_nxt, now):
            return False
        # tcp_ack for an ACK that acknowledges nothing new but carries data.
        self.prior_in_flight = self._in_flight()
        if rcv_nxt > self.snd_wl1:
            self.snd_wl1 = rcv_nxt
            self.snd_wl2 = self.snd_una
        self.sack_rtt_us = -1
        self.soft_error = 0
        self.probes_out = 0
        self.rcv_tstamp = now
        # The text (RFC 9293 §3.10.7.4, seventh step).
        self._rcv_rtt_measure_ts(seg, rcv_nxt, rcv_nxt + length, now)
        self.dsack = None
        self._queue_in_order(seg, payload, 0, now)
        if self.write_blocked:
            self._check_space()
        self._ack_snd_check(now)
        return True

    def _synchronized_segment(self, seg: TCPSegment, now: float) -> None:
        """Linux ``tcp_rcv_state_process`` (and ``tcp_rcv_established``'s slow path)."""
        flags = seg.flags
        if not flags & (ACK | RST | SYN):
            return  # RFC 9293 §3.10.7.4 fifth check: no ACK, drop
        self._parse_timestamps(seg)
        seq = unwrap(seg.seq, self.rcv_nxt)
        end = seq + len(seg.payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        if not self._validate_incoming(seg, seq, end, now):
            return
        state = self.state
        established = state is State.ESTABLISHED
        ack_flags = FLAG_SLOWPATH | FLAG_UPDATE_TS_RECENT
        if not established:
            ack_flags |= FLAG_NO_CHALLENGE_ACK
        verdict = self._ack(seg, seq, ack_flags, now)
        if verdict != ACK_OK:
            if state is State.SYN_RECEIVED:
                self._reply_reset(seg)
                return
            if verdict < 0:
                if not established or verdict == ACK_UNSENT:
                    # RFC 9293 §3.10.7.4: an ACK of something not yet sent is answered
                    # by an ACK (Linux 6.x too), at the out-of-window rate.
                    self._send_challenge_ack(now)
                return
        if self.state is State.CLOSED:
            return
        if state is State.SYN_RECEIVED:
            self._synrecv_established(seg, now)
        elif state is State.FIN_WAIT_1:
            if self._fin_wait_1_acked(seg, seq, end, now):
                return
        elif state is State.CLOSING:
            if self.snd_una == self.write_seq:
                self._enter_time_wait(now, Event.RCV_ACK_OF_FIN, "our FIN acknowledged")
                return
        elif state is State.LAST_ACK:
            if self.snd_una == self.write_seq:
                self._done(Event.RCV_ACK_OF_FIN, "our FIN acknowledged: connection closed")
                return
        self._rcv_rtt_measure_ts(seg, seq, end, now)
        self._urg(seg, seq, now)
        state = self.state
        if state in (State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK) and seq >= self.rcv_nxt:
            pass  # the peer already sent its FIN: ignore any new text (RFC 9293 §3.10.7.4)
        elif state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2,
                       State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK):
            if (state in (State.FIN_WAIT_1, State.FIN_WAIT_2) and self.rcv_shutdown
                    and end != seq and end - (1 if flags & FIN else 0) > self.rcv_nxt):
                # RFC 1122 §4.2.2.13 (Linux): new data after close() gets a RST.
                self._reply_reset(seg)
                self._reset_received("data arrived after close")
                return
            self._data_queue(seg, seq, now)
        if not self._closed():
            self._push(now)
            self._check_space()
            self._ack_snd_check(now)

    def _synrecv_established(self, seg: TCPSegment, now: float) -> None:
        """SYN-RECEIVED: our SYN is acknowledged: ESTABLISHED (RFC 9293 §3.10.7.4)."""
        self.delivered += 1
        if self.ts_ok:
            self.advmss -= 12
        self.copied_seq = self.rcv_nxt
        self._transition(Event.RCV_ACK_OF_SYN, "our SYN acknowledged")
        self.snd_wnd = seg.window << self.snd_wscale
        self.snd_wl1 = unwrap(seg.seq, self.rcv_nxt)
        self._init_transfer(now)
        self._init_rcv_mss()
        self._emit(Connected())
        if self.snd_shutdown and not self.fin_queued:
            self._queue_fin(now)

    def _fin_wait_1_acked(self, seg: TCPSegment, seq: int, end: int, now: float) -> bool:
        """FIN-WAIT-1: once our FIN is acknowledged, FIN-WAIT-2. An orphan (closed by
        the application) then waits at most ``tcp_fin_timeout`` for the peer's FIN.
        Returns True if the segment needs no further processing."""
        if self.snd_una != self.write_seq:
            return False
        self._transition(Event.RCV_ACK_OF_FIN, "our FIN acknowledged")
        self.snd_shutdown = True
        if not self.orphan:
            return False
        fin = 1 if seg.flags & FIN else 0
        if end != seq and end - fin > self.rcv_nxt:
            # Out-of-order data after close(): Linux gives up on the connection.
            self._reply_reset(seg)
            self._done(Event.ABORT, "data arrived for a closed socket")
            return True
        self._arm_finwait2(now)
        return False

    def _arm_finwait2(self, now: float) -> None:
        """Linux ``tcp_fin_time`` handling for orphans: tcp_fin_timeout, at least 3.5
        RTO; above TIME-WAIT's 60 s, the keepalive timer covers the difference."""
        tmo = self._fin_time()
        if tmo > TCP_TIMEWAIT_LEN:
            self.keepalive_deadline = self._deadline_after(now, tmo - TCP_TIMEWAIT_LEN)
        else:
            self.finwait2_deadline = self._deadline_after(now, tmo)

    def _rcv_rtt_measure_ts(self, seg: TCPSegment, seq: int, end: int, now: float) -> None:
        """Linux ``tcp_rcv_rtt_measure_ts``: the receiver's own RTT estimate (for
        autotuning), from the echo of our timestamp on full segments."""
        if not self.saw_tstamp or not self.rcv_tsecr or self.rcv_tsecr == self.rcv_rtt_last_tsecr:
            return
        self.rcv_rtt_last_tsecr = self.rcv_tsecr
        if end - seq >= self.rcv_mss:
            delta_ms = (self._ts_raw(now) - self.rcv_tsecr) & 0xFFFFFFFF
            if delta_ms < 1 << 30:
                sample = max(delta_ms, 1) * 1000
                if self.rcv_rtt_us:
                    self.rcv_rtt_us += sample - (self.rcv_rtt_us >> 3)
                else:
                    self.rcv_rtt_us = sample << 3


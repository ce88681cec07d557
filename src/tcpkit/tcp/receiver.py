"""The receiving half: queueing data and the FIN, SACK blocks, urgent data, and when
to acknowledge.

RFC 9293 §3.10.7.4 (seventh and eighth steps) says what to do with segment text and the
FIN; RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2 and RFC 5681 §4.2 say when to acknowledge
(delay at most 500 ms, at least every second full segment, at once for out-of-order
data). Linux's choices within that are what this module reproduces
(net/ipv4/tcp_input.c ``tcp_data_queue``, ``tcp_data_queue_ofo``, ``tcp_ofo_queue``,
``tcp_fin``, ``tcp_event_data_recv``, ``__tcp_ack_snd_check``, ``tcp_send_delayed_ack``):

* quick-ACK mode at the start of a connection: the first ``rcv_wnd / (2 * rcv_mss)``
  (at most 16) segments are acknowledged at once, to let the sender's slow start run;
* afterwards an ACK waits for the delayed-ACK timer (``ato``, 40 ms at first, adapted
  to the inter-arrival time) unless more than one full segment is unacknowledged;
* out-of-order data, data beyond the window and duplicates are acknowledged at once,
  with SACK blocks newest first (RFC 2018 §4) and a D-SACK for duplicates (RFC 2883);
* an interactive ("ping-pong") exchange switches quick-ACK off, so a reply can carry
  the ACK: a FIN arriving there is acknowledged by the delayed-ACK timer;
* a buffer holding more than its size (tiny segments cost far more than their bytes)
  is grown, then compacted, then rid of out-of-order data; if that is not enough the
  segment is refused and a zero window offered at once (``tcp_try_rmem_schedule``,
  ``tcp_prune_queue``, ``tcp_collapse``).
"""

from __future__ import annotations

from tcpkit.tcp.buffers import SKB_OVERHEAD
from tcpkit.tcp.config import usecs_to_jiffies
from tcpkit.tcp.events import DATA_RECEIVED, Counted, PeerFinished, UrgentDataReceived
from tcpkit.tcp.output import Output
from tcpkit.tcp.state import Event, State
from tcpkit.tcp.tcb import ACK_NOMEM, ACK_NOW, ACK_PUSHED, ACK_PUSHED2, ACK_SCHED, ACK_TIMER
from tcpkit.wire.tcp import PSH, TCPSegment

TCP_MSS_DEFAULT = 536
TCP_MIN_MSS = 88
SACK_BLOCKS_KEPT = 4  # TCP_NUM_SACKS
COMP_SACK_NR = 44  # net.ipv4.tcp_comp_sack_nr
COMP_SACK_DELAY = 0.001  # net.ipv4.tcp_comp_sack_delay_ns


def _truesize(seg: TCPSegment, length: int) -> int:
    """What the segment costs the receive buffer: the device's figure, or veth's."""
    return seg.truesize or length + SKB_OVERHEAD


def _extend(block: tuple[int, int], start: int, end: int) -> tuple[int, int] | None:
    """Linux ``tcp_sack_extend``: the union if the ranges touch or overlap, else None."""
    if start <= block[1] and block[0] <= end:
        return (min(block[0], start), max(block[1], end))
    return None


class Receiver(Output):
    """Data queueing, FIN, SACK state and ACK scheduling."""

    __slots__ = ()

    # -- ACK scheduling -------------------------------------------------------------

    def _in_pingpong(self) -> bool:
        return self.pingpong >= self.config.pingpong_thresh

    def _incr_quickack(self, max_quickacks: int) -> None:
        """Linux ``tcp_incr_quickack``: enough quick ACKs to open the peer's window."""
        quickacks = self.rcv_wnd // (2 * self.rcv_mss) if self.rcv_mss else 0
        quickacks = min(quickacks or 2, max_quickacks)
        self.ack_quick = max(self.ack_quick, quickacks)

    def _enter_quickack_mode(self, max_quickacks: int) -> None:
        self._incr_quickack(max_quickacks)
        self.pingpong = 0
        self.ato = self._ato_min()

    def _in_quickack_mode(self) -> bool:
        return bool(self.ack_quick) and not self._in_pingpong()

    def _ack_snd_check(self, now: float, ofo_possible: bool = True) -> None:
        """Linux ``__tcp_ack_snd_check``: acknowledge now, later, or not at all."""
        if not self.ack_pending & ACK_SCHED:
            return
        # RFC 5681 §4.2: at least every second full-sized segment, when the application
        # has read it all or the window the ACK carries is no worse; quick-ACK mode; or
        # explicitly now.
        if (
            (self.rcv_nxt - self.rcv_wup > self.rcv_mss
             and (self.rcv_nxt - self.copied_seq < 1
                  or self._select_window_value() >= self.rcv_wnd))
            or self._in_quickack_mode()
            or self.ack_pending & ACK_NOW
        ):
            self._send_ack(now)
            return
        if not ofo_possible or not self.ofo:
            self._send_delayed_ack(now)
            return
        # Out-of-order data (RFC 5681 §4.2: ACK at once). Linux sends the first three
        # duplicate ACKs at once, then compresses further SACK updates into one ACK
        # after min(1 ms, RTT/20) or 44 of them (tcp_comp_sack_*).
        if not self.sack_ok or self.compressed_ack >= COMP_SACK_NR:
            self._send_ack(now)
            return
        if self.compressed_ack_rcv_nxt != self.rcv_nxt:
            self.compressed_ack_rcv_nxt = self.rcv_nxt
            self.dup_ack_counter = 0
        if self.dup_ack_counter < 3:
            self.dup_ack_counter += 1
            self._send_ack(now)
            return
        self.compressed_ack += 1
        if self.comp_sack_deadline is not None:
            return
        rtt_us = self.rcv_rtt_us >> 3
        if self.rtt.srtt_us and (self.rtt.srtt_us >> 3) < rtt_us:
            rtt_us = self.rtt.srtt_us >> 3
        delay = min(COMP_SACK_DELAY, rtt_us / 20e6) if rtt_us else COMP_SACK_DELAY
        self.comp_sack_deadline = now + delay

    def _send_delayed_ack(self, now: float) -> None:
        """Linux ``tcp_send_delayed_ack``: arm the delayed-ACK timer."""
        hz = self.config.hz
        ato = self.ato
        delack_min = self.ato_min
        delack_max = self.delack_max
        if ato > delack_min:
            max_ato = hz // 2
            if self._in_pingpong() or self.ack_pending & ACK_PUSHED:
                max_ato = delack_max
            if self.rtt.srtt_us:
                rtt = max(usecs_to_jiffies(self.rtt.srtt_us >> 3, hz), delack_min)
                max_ato = min(max_ato, rtt)
            ato = min(ato, max_ato)
        ato = min(ato, delack_max)
        pending = self.delack_deadline
        if self.ack_pending & ACK_TIMER and pending is not None:
            # Already armed: if it fires within a quarter of the timeout, ACK now
            # instead; otherwise it stays (an earlier expiry wins).
            if round(pending * hz) <= int(now * hz + 1e-9) + (ato >> 2):
                self._send_ack(now)
                return
            deadline = min(self._jiffies_deadline(now, ato), pending)
        else:
            deadline = self._jiffies_deadline(now, ato)
        self.ack_pending |= ACK_SCHED | ACK_TIMER
        self.delack_deadline = deadline

    # -- arriving data ----------------------------------------------------------------

    def _measure_rcv_mss(self, length: int, seg: TCPSegment) -> None:
        """Linux ``tcp_measure_rcv_mss``: learn the peer's segment size from what it
        sends (it decides how often an ACK is due)."""
        lss = self.last_seg_size
        self.last_seg_size = 0
        flags = seg.flags
        size = seg.gso_size or length  # an offload's super-segment: its segments' size
        if size >= self.rcv_mss:
            if size != self.rcv_mss:
                self._update_scaling_ratio(length, _truesize(seg, length))
            self.rcv_mss = min(size, self.advmss)
            if flags & PSH:
                self.ack_pending |= ACK_PUSHED
        else:
            total = length + seg.header_length
            if total >= TCP_MSS_DEFAULT + 20 or (
                total >= TCP_MIN_MSS + 20 and not flags & PSH
            ):
                size = total - (32 if self.ts_ok else 20)
                self.last_seg_size = size
                if size == lss:
                    self.rcv_mss = size
                    return
            if self.ack_pending & ACK_PUSHED:
                self.ack_pending |= ACK_PUSHED2
            self.ack_pending |= ACK_PUSHED

    def _event_data_recv(self, length: int, seg: TCPSegment, now: float) -> None:
        """Linux ``tcp_event_data_recv``: new data in order: schedule an ACK and adapt
        the delayed-ACK timeout to how fast data arrives."""
        self.ack_pending |= ACK_SCHED
        self._measure_rcv_mss(length, seg)
        hz = self.config.hz
        ato_min = self.ato_min
        if not self.ato:
            # The first data of the connection: start in quick-ACK mode.
            self._incr_quickack(self.config.quickack_max)
            self.ato = ato_min
        else:
            m = int((now - self.lrcvtime) * hz + 1e-9)
            rto = self.rtt.rto_jiffies
            if m <= ato_min // 2:
                self.ato = (self.ato >> 1) + ato_min // 2
            elif m < self.ato:
                self.ato = min((self.ato >> 1) + m, rto)
            elif m > rto:
                self._incr_quickack(self.config.quickack_max)
        self.lrcvtime = now
        if length >= 128:
            # truesize_adjust(): of paged data (no truesize given: veth's), the payload.
            self._grow_window(length, seg.truesize or length)

    def _queue_data(self, data: bytes | memoryview, truesize: int = 0) -> None:
        self.rcv_mem.charge(self.rcv_nxt + len(data), len(data), self.clock,
                            (self.rtt.srtt_us >> 3) / 1e6, truesize)
        self.recv_queue.append(data)
        self.rcv_nxt += len(data)

    def _data_queue(self, seg: TCPSegment, seq: int, now: float) -> None:
        """Linux ``tcp_data_queue`` (RFC 9293 §3.10.7.4, seventh and eighth steps)."""
        payload = seg.payload
        fin = seg.flags & 1
        end = seq + len(payload) + fin
        if end == seq:
            return
        self.dsack = None
        if seq == self.rcv_nxt:
            # A zero window drops data, and says so at once; a bare FIN is taken anyway
            # (Linux 6.x: some stacks resend it forever otherwise).
            if self._receive_window() == 0 and payload:
                self._emit(Counted("TcpExtTCPZeroWindowDrop"))
                self._enter_quickack_mode(self.config.quickack_max)
                self._schedule_ack()
                return
            if self._may_queue(seq, payload):
                self._queue_in_order(seg, payload, fin, now)
            return
        if end <= self.rcv_nxt:
            # Entirely old: a retransmission of what we have (RFC 2883 §4.1: D-SACK it).
            self._dsack_set(seq, end)
            self._enter_quickack_mode(self.config.quickack_max)
            self._schedule_ack()
            return
        if seq >= self.rcv_nxt + self._receive_window():
            self._enter_quickack_mode(self.config.quickack_max)
            self._schedule_ack()
            return
        if seq < self.rcv_nxt:
            # Partly old: keep the new part, D-SACK the old part.
            self._dsack_set(seq, self.rcv_nxt)
            if not self._receive_window():
                self._enter_quickack_mode(self.config.quickack_max)
                self._schedule_ack()
                return
            cut = self.rcv_nxt - seq
            if self._may_queue(seq, payload):
                self._queue_in_order(seg, payload[cut:], fin, now)
            return
        if not self._try_rmem_schedule(seq):
            self._emit(Counted("TcpExtTCPOFODrop"))
            return
        self._data_queue_ofo(seq, payload, fin, _truesize(seg, len(payload)))

    # -- when the receive buffer is full (Linux tcp_try_rmem_schedule) ----------------

    def _may_queue(self, seq: int, payload: bytes | memoryview) -> bool:
        """``tcp_data_queue``'s ``queue_and_out``: with the buffer over its size and
        nothing to prune, acknowledge at once offering a zero window; the data is
        dropped unless the queue is empty (then it is taken anyway), a bare FIN is
        always taken."""
        if self._try_rmem_schedule(seq):
            return True
        self.ack_pending |= ACK_NOMEM | ACK_NOW
        self._schedule_ack()
        if len(self.recv_queue) and payload:
            self._emit(Counted("TcpExtTCPRcvQDrop"))
            return False
        return True

    def _try_rmem_schedule(self, seq: int) -> bool:
        """Linux ``tcp_try_rmem_schedule`` and ``tcp_prune_queue``: a segment is refused
        only while the buffer holds more than its size (``sk_rcvbuf``) after growing
        it (unless SO_RCVBUF fixed it), compacting the queue and dropping out-of-order
        data above ``seq``."""
        mem = self.rcv_mem
        if mem.total <= self.rcvbuf:
            return True
        self._emit(Counted("TcpExtPruneCalled"))
        self._clamp_window()
        if mem.total <= self.rcvbuf:
            return True
        mem.collapse(self.copied_seq,
                     lambda truesize, length: self._win_from_space(truesize) > length)
        if mem.total <= self.rcvbuf:
            return True
        self._prune_ofo(seq)
        if mem.total <= self.rcvbuf:
            return True
        self._emit(Counted("TcpExtRcvPruned"))
        return False

    def _clamp_window(self) -> None:
        """Linux ``tcp_clamp_window``: grow the buffer to what it holds (up to
        tcp_rmem[2]) unless SO_RCVBUF fixed it; if still over, let the window shrink to
        two segments."""
        self.ack_quick = 0
        mem, rmem2 = self.rcv_mem, self.config.rmem[2]
        if self.rcvbuf < rmem2 and self.config.rcvbuf is None:
            self.rcvbuf = min(mem.total, rmem2)
        if mem.total > self.rcvbuf:
            self.rcv_ssthresh = min(self.window_clamp, 2 * self.advmss)

    def _prune_ofo(self, seq: int) -> None:
        """Linux ``tcp_prune_ofo_queue``: drop out-of-order data from the top, an
        eighth of the buffer at a time, while it lies above ``seq``, until the buffer
        fits; SACK blocks are forgotten."""
        ofo, mem = self.ofo, self.rcv_mem
        pruned = False
        goal = self.rcvbuf >> 3
        while ofo and ofo.last_start() >= seq:
            before = mem.ofo
            ofo.drop_last()
            pruned = True
            self._charge_ofo()
            goal -= before - mem.ofo
            if not ofo or goal <= 0:
                if mem.total <= self.rcvbuf:
                    break
                goal = self.rcvbuf >> 3
        if pruned:
            self._emit(Counted("TcpExtOfoPruned"))
            self.sack_blocks = []
            if not ofo:
                self.ofo_fin_seq = None

    def _charge_ofo(self) -> None:
        """What stays out of order is charged anew, after some of it moved or went
        (one skb per range: an estimate)."""
        self.rcv_mem.ofo = sum(end - start + SKB_OVERHEAD for start, end in self.ofo.ranges())

    def _queue_in_order(self, seg: TCPSegment, payload: bytes | memoryview, fin: int,
                        now: float) -> None:
        if payload:
            self._queue_data(payload, seg.truesize)
            self._event_data_recv(len(payload), seg, now)
        if fin:
            self._fin(now)
        if self.ofo:
            self._ofo_queue(now)
            if not self.ofo:
                # The hole is filled: tell the sender at once (tcp_data_queue).
                self._ack_now()
        if self.sack_blocks:
            self._sack_remove()
        if payload or self.fin_seq is not None:
            events = self.events
            if not events or events[-1] is not DATA_RECEIVED:
                events.append(DATA_RECEIVED)

    def _data_queue_ofo(self, seq: int, payload: bytes | memoryview, fin: int,
                        truesize: int) -> None:
        """Linux ``tcp_data_queue_ofo``: keep data beyond a hole, SACK it."""
        self._schedule_ack()
        end = seq + len(payload) + fin
        if fin:
            self.ofo_fin_seq = seq + len(payload)
        if payload:
            duplicate = self.ofo.add(seq, payload)
            if duplicate is not None:
                self._dsack_set(*duplicate)
            self.rcv_mem.ofo += truesize
        if self.sack_ok:
            self._sack_new_ofo(seq, end)
            if payload:
                self._grow_window(len(payload), truesize)

    def _ofo_queue(self, now: float) -> None:
        """Linux ``tcp_ofo_queue``: move what the hole was hiding into the queue."""
        for start, data in self.ofo.pop_ready(self.rcv_nxt):
            if start < self.rcv_nxt:
                self._dsack_extend(start, min(self.rcv_nxt, start + len(data)))
                data = data[self.rcv_nxt - start :]
            self._queue_data(data)
        self._charge_ofo()
        if self.ofo_fin_seq is not None and self.ofo_fin_seq <= self.rcv_nxt:
            self.ofo_fin_seq = None
            self._fin(now)

    def _fin(self, now: float) -> None:
        """Linux ``tcp_fin`` (RFC 9293 §3.10.7.4, eighth step): the peer is done."""
        self._schedule_ack()
        self.fin_seq = self.rcv_nxt
        self.rcv_nxt += 1
        self.rcv_shutdown = True
        state = self.state
        if state is State.ESTABLISHED:
            self._transition(Event.RCV_FIN, "peer sent FIN")
            self.pingpong = self.config.pingpong_thresh  # inet_csk_enter_pingpong_mode
        elif state is State.FIN_WAIT_1:
            # Simultaneous close: both FINs crossed (RFC 9293 figure 13).
            self._send_ack(now)
            self._transition(Event.RCV_FIN, "peer's FIN crossed ours")
        elif state is State.FIN_WAIT_2:
            self._send_ack(now)
            self._enter_time_wait(now, Event.RCV_FIN, "peer sent FIN after acknowledging ours")
        self.ofo.clear()  # Linux tcp_fin: data beyond the FIN can only be bogus
        self.rcv_mem.ofo = 0
        self.ofo_fin_seq = None
        self.sack_blocks = []
        self._emit(PeerFinished())

    def _enter_time_wait(self, now: float, event: Event, cause: str) -> None:
        """Linux ``tcp_time_wait``: linger 60 s (TCP_TIMEWAIT_LEN) to absorb old
        duplicates and re-acknowledge a retransmitted FIN (RFC 9293 §3.6)."""
        self._transition(event, cause)
        self._clear_timers()
        self.rtx.clear()
        self.sent_skbs = 0
        self.packets_out = self.sacked_out = self.lost_out = self.retrans_out = 0
        self.timewait_deadline = self._deadline_after(now, 60.0)

    # -- SACK blocks (RFC 2018 §4) ----------------------------------------------------

    def _sack_new_ofo(self, start: int, end: int) -> None:
        """Linux ``tcp_sack_new_ofo_skb``: the block holding the newest data goes first."""
        blocks = self.sack_blocks
        for i, block in enumerate(blocks):
            merged = _extend(block, start, end)
            if merged is not None:
                del blocks[i]
                blocks.insert(0, merged)
                self._sack_maybe_coalesce()
                return
        blocks.insert(0, (start, end))
        del blocks[SACK_BLOCKS_KEPT:]

    def _sack_maybe_coalesce(self) -> None:
        blocks = self.sack_blocks
        first = blocks[0]
        i = 1
        while i < len(blocks):
            merged = _extend(first, *blocks[i])
            if merged is not None:
                first = merged
                blocks[0] = first
                del blocks[i]
                continue
            i += 1

    def _sack_remove(self) -> None:
        """Linux ``tcp_sack_remove``: drop blocks the cumulative ACK now covers."""
        if not self.ofo:
            self.sack_blocks = []
            return
        self.sack_blocks = [b for b in self.sack_blocks if b[0] > self.rcv_nxt]

    def _dsack_set(self, start: int, end: int) -> None:
        if self.sack_ok and self.config.dsack:
            self.dsack = (start, end)

    def _dsack_extend(self, start: int, end: int) -> None:
        if self.dsack is None:
            self._dsack_set(start, end)
        else:
            merged = _extend(self.dsack, start, end)
            if merged is not None:
                self.dsack = merged

    # -- urgent data (RFC 9293 §3.8.5) ------------------------------------------------

    def _urg(self, seg: TCPSegment, seq: int, now: float) -> None:
        """Linux ``tcp_urg``/``tcp_check_urg``: note the urgent pointer and, once the
        byte arrives, take it out of band (unless SO_OOBINLINE)."""
        del now
        if seg.flags & 0x20:
            ptr = seg.urgent
            if ptr and not self.config.stdurg:
                ptr -= 1  # BSD: the pointer points one past the urgent byte
            ptr += seq
            if not (ptr < self.copied_seq or ptr < self.rcv_nxt or (
                (self.urg_data is not None or self.urg_pending) and ptr <= self.urg_seq
            )):
                self.urg_data = None
                self.urg_read = False
                self.urg_pending = True
                self.urg_seq = ptr
        if self.urg_pending:
            offset = self.urg_seq - seq
            if 0 <= offset < len(seg.payload):
                self.urg_pending = False
                self.urg_data = seg.payload[offset]
                self._emit(UrgentDataReceived())

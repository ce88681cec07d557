"""The receive window: how much we offer, how it grows, how the buffer autotunes.

RFC 9293 §3.8.6.2 leaves the policy to the implementation, asking only that the right
edge never move left (no shrinking) and that small increments not be offered (receiver
SWS avoidance, RFC 1122 §4.2.3.3). Linux's policy is what a capture shows, so this is a
port of it (net/ipv4/tcp_output.c ``tcp_select_initial_window``,
``__tcp_select_window``, ``tcp_select_window``; tcp_input.c ``tcp_init_buffer_space``,
``tcp_grow_window``, ``tcp_rcv_space_adjust``):

* the buffer is charged the *truesize* of what it holds (:class:`ReceiveMemory`), and
  only a fraction of it is offered as window: ``scaling_ratio``/256, half until the
  first full segment shows the real payload-to-truesize ratio (Linux 6.5+);
* ``rcv_ssthresh`` caps the offer and grows as full-sized segments arrive, so the window
  opens gradually, like the sender's cwnd;
* the offer is rounded to the window-scale unit and never made smaller than what was
  already promised (``rcv_wup + rcv_wnd``);
* the receive buffer grows with what the application reads per round trip.

Truesize follows what Linux 6.18 charges for segments received over veth or loopback
(see :mod:`tcpkit.tcp.buffers`); over a NIC the driver's buffers decide it, so windows
far into a transfer are close to such a host's, not identical.
"""

from __future__ import annotations

from tcpkit.tcp.config import SOCK_MIN_RCVBUF, TCP_MAX_WSCALE
from tcpkit.tcp.core import Core
from tcpkit.tcp.tcb import ACK_NOMEM

# L1_CACHE_ALIGN(128 + MAX_HEADER): 192 on this project's kernels (no tunnel headers
# configured), which is why tcp_sndbuf_expand gives them 46080-byte send buffers
# (ss -tm: tb46080); a distribution kernel has 320.
MAX_TCP_HEADER = 192
SHINFO_SIZE = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), MAX_SKB_FRAGS=17
SK_BUFF_SIZE = 256  # SKB_DATA_ALIGN(sizeof(struct sk_buff))
U16_MAX = 0xFFFF


class Window(Core):
    """Receive-window arithmetic (see the module docstring)."""

    __slots__ = ()

    def _win_from_space(self, space: int) -> int:
        """Linux ``tcp_win_from_space``: the window a buffer of ``space`` bytes offers."""
        return (space * self.scaling_ratio) >> 8

    def _space_from_win(self, window: int) -> int:
        """Linux ``tcp_space_from_win``: the buffer a window of ``window`` bytes needs."""
        return (window << 8) // self.scaling_ratio

    def _update_scaling_ratio(self, length: int, truesize: int) -> None:
        """Linux ``tcp_measure_rcv_mss`` (6.5+): a segment of a new size shows the
        payload-to-truesize ratio; the window clamp follows it."""
        old = self.scaling_ratio
        self.scaling_ratio = ((length << 8) // truesize) or 1
        if self.scaling_ratio != old:
            self._set_window_clamp(self._win_from_space(self.rcvbuf))
            self.rcvq_space = min(self.rcvq_space, self.window_clamp)

    def _set_window_clamp(self, value: int) -> None:
        """Linux ``tcp_set_window_clamp``: a smaller clamp pulls ``rcv_ssthresh`` down,
        a larger one lets it reach the window already offered (measured on 6.18: the
        first full segment lifts rcv_ssthresh to the SYN-ACK's window)."""
        new = max(value, SOCK_MIN_RCVBUF // 2)
        old = self.window_clamp
        if new == old:
            return
        self.window_clamp = new
        if new < old:
            self.rcv_ssthresh = min(self.rcv_ssthresh, new)
        else:
            self.rcv_ssthresh = max(min(self.rcv_wnd, new), self.rcv_ssthresh)

    def _full_space(self) -> int:
        return self._win_from_space(self.rcvbuf)

    def _space(self) -> int:
        """Linux ``tcp_space``: window the free part of the receive buffer can offer."""
        mem = self.rcv_mem
        return self._win_from_space(self.rcvbuf - mem.queued - mem.ofo)

    def _receive_window(self) -> int:
        """Linux ``tcp_receive_window``: what is left of the window last advertised."""
        win = self.rcv_wup + self.rcv_wnd - self.rcv_nxt
        return win if win > 0 else 0

    def _select_initial_window(self, space: int, mss: int, wscale_ok: bool) -> None:
        """Linux ``tcp_select_initial_window``: the window of the SYN or SYN-ACK (never
        scaled, RFC 7323 §2.2), the clamp, and our window-scale shift."""
        cfg = self.config
        if self.window_clamp == 0:
            self.window_clamp = U16_MAX << TCP_MAX_WSCALE
        space = min(self.window_clamp, max(space, 0))
        if space > mss:
            space -= space % mss  # a whole number of segments
        # The whole of it, though the SYN's field can say 64 KB at most: without window
        # scaling the first ACKs keep promising it (measured on 6.18, tcp_info rcv_wnd
        # 268640 behind a SYN-ACK of 65535), which decides when they are delayed.
        self.rcv_wnd = space
        wscale = 0
        if wscale_ok:
            space = max(space, cfg.rmem[2], cfg.rmem_max)
            space = min(space, self.window_clamp)
            while space > U16_MAX and wscale < TCP_MAX_WSCALE:
                space >>= 1
                wscale += 1
        self.rcv_wscale = wscale
        self.window_clamp = min(U16_MAX << wscale, self.window_clamp)

    def _select_window_value(self) -> int:
        """Linux ``__tcp_select_window``: the window to offer now, in bytes."""
        mss = self.rcv_mss
        free_space = self._space()
        allowed_space = self._full_space()
        full_space = min(self.window_clamp, allowed_space)
        if mss > full_space:
            mss = full_space
            if mss <= 0:
                return 0
        unit = 1 << self.rcv_wscale
        if free_space < (full_space >> 1):
            self.ack_quick = 0
            self.window_quick_reset = True
            free_space -= free_space % unit
            # Receiver SWS avoidance (RFC 1122 §4.2.3.3): offer nothing rather than a
            # sliver of the buffer.
            if free_space < (allowed_space >> 4) or free_space < mss:
                return 0
        free_space = min(free_space, self.rcv_ssthresh)
        if self.rcv_wscale:
            return -(-free_space // unit) * unit
        window = self.rcv_wnd
        if window <= free_space - mss or window > free_space:
            window = (free_space // mss) * mss
        elif mss == full_space and free_space > window + (full_space >> 1):
            window = free_space
        return window

    def _select_window(self) -> int:
        """Linux ``tcp_select_window``: the 16-bit window field of an outgoing segment.

        RFC 9293 §3.8.6.2.2 (and RFC 7323 §2.4): never shrink, so an offer below what
        is left of the last one is rounded up to it instead.
        """
        if self.ack_pending & ACK_NOMEM:
            # A segment was refused for want of memory: offer nothing (tcp_select_window).
            self.rcv_wnd = 0
            self.rcv_wup = self.rcv_nxt
            self.window_cache = None
            return 0
        mem = self.rcv_mem
        key = (self.rcv_nxt, self.rcv_wnd, self.rcv_wup, mem.queued, mem.ofo, self.rcvbuf,
               self.scaling_ratio, self.window_clamp, self.rcv_ssthresh, self.rcv_mss,
               self.rcv_wscale)
        cached = self.window_cache
        if cached is not None and cached[:-2] == key:
            # Nothing it depends on changed since the last segment (a burst): same answer,
            # same side effect.
            if cached[-1]:
                self.ack_quick = 0
            return cached[-2]
        cur_win = self._receive_window()
        self.window_quick_reset = False
        new_win = self._select_window_value()
        unit = 1 << self.rcv_wscale
        if new_win < cur_win:
            new_win = -(-cur_win // unit) * unit
        self.rcv_wnd = new_win
        self.rcv_wup = self.rcv_nxt
        new_win = min(new_win, U16_MAX << self.rcv_wscale)
        field = new_win >> self.rcv_wscale
        # One flat tuple (the inputs as they are now, then the answer and its side
        # effect): it lives as long as the connection.
        self.window_cache = (self.rcv_nxt, self.rcv_wnd, self.rcv_wup, *key[3:], field,
                             int(self.window_quick_reset))
        return field

    def _init_buffer_space(self, now: float) -> None:
        """Linux ``tcp_init_buffer_space``, when the connection becomes established: fix
        the window clamp from the buffer and keep one segment of it in reserve."""
        advmss = self.advmss
        self._expand_sndbuf()
        self.rcvq_space_time = now
        self.rcvq_space_seq = self.copied_seq
        maxwin = self._full_space()
        if self.window_clamp >= maxwin:
            self.window_clamp = maxwin
            # net.ipv4.tcp_app_win = 31: reserve maxwin >> 31 (nothing) for the app.
            if maxwin > 4 * advmss:
                self.window_clamp = max(maxwin - (maxwin >> 31), 4 * advmss)
        if self.window_clamp > 2 * advmss and self.window_clamp + advmss > maxwin:
            self.window_clamp = max(2 * advmss, maxwin - advmss)
        self.rcv_ssthresh = min(self.rcv_ssthresh, self.window_clamp)
        self.rcvq_space = min(self.rcv_ssthresh, self.rcv_wnd, self.config.init_cwnd * advmss)

    def _expand_sndbuf(self) -> None:
        """Linux ``tcp_sndbuf_expand``: room for two windows of initial-cwnd segments,
        counted at the kernel's per-segment memory cost."""
        if self.config.sndbuf is not None:
            return
        per_mss = max(self.mss_clamp, self.mss_cache) + MAX_TCP_HEADER + SHINFO_SIZE
        per_mss = (1 << (per_mss - 1).bit_length()) + SK_BUFF_SIZE
        nr_segs = max(self.config.init_cwnd, self.cwnd, self.reordering + 1)
        sndmem = 2 * nr_segs * per_mss
        if self.sndbuf < sndmem:
            self.sndbuf = min(sndmem, self.config.wmem[2])

    def _grow_window(self, length: int, size: int) -> None:
        """Linux ``tcp_grow_window``: raise ``rcv_ssthresh`` as segments arrive whose
        cost to the buffer (``size``: their truesize, less the head for in-order paged
        data, ``truesize_adjust``) the window can afford."""
        room = min(self.window_clamp, self._space()) - self.rcv_ssthresh
        if room <= 0:
            return
        if self._win_from_space(size) <= length:
            incr = 2 * self.advmss
        else:
            incr = 0
            half_true = self._win_from_space(size) >> 1
            window = self._win_from_space(self.config.rmem[2]) >> 1
            while self.rcv_ssthresh <= window:
                if half_true <= length:
                    incr = 2 * self.rcv_mss
                    break
                half_true >>= 1
                window >>= 1
        if incr:
            incr = max(incr, 2 * length)
            self.rcv_ssthresh += min(room, incr)
            self.ack_quick |= 1

    def _rcv_space_adjust(self, now: float, rcv_rtt_us: int) -> None:
        """Linux ``tcp_rcv_space_adjust`` (receive-buffer autotuning, "DRS"): once per
        round trip, size the buffer for twice what the application read in it, plus
        room for the sender's growth."""
        elapsed_us = (now - self.rcvq_space_time) * 1e6
        if rcv_rtt_us == 0 or elapsed_us < (rcv_rtt_us >> 3):
            return
        # Bytes read in the last RTT, less what still waits in the queue.
        copied = self.copied_seq - self.rcvq_space_seq - (self.rcv_nxt - self.copied_seq)
        if copied > self.rcvq_space:
            cfg = self.config
            if cfg.moderate_rcvbuf and cfg.rcvbuf is None and self.rcvq_space:
                rcvwin = (copied << 1) + 16 * self.advmss
                grow = rcvwin * (copied - self.rcvq_space) // self.rcvq_space
                rcvwin += grow << 1
                rcvbuf = min(self._space_from_win(rcvwin), cfg.rmem[2])
                if rcvbuf > self.rcvbuf:
                    self.rcvbuf = rcvbuf
                    self.window_clamp = self._win_from_space(rcvbuf)
            self.rcvq_space = copied
        self.rcvq_space_seq = self.copied_seq
        self.rcvq_space_time = now

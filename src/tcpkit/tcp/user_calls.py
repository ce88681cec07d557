"""The user calls (RFC 9293 §3.10.1-§3.10.6): OPEN, SEND, RECEIVE, CLOSE, ABORT, plus
shutdown of one direction, with Linux's socket semantics.

Errors are chosen here and in :mod:`core`, once, and raised as the stdlib's ``OSError``
with the right errno (Python turns it into ``ConnectionResetError``,
``BrokenPipeError``, ... by itself). What Linux does, and so tcpkit:

* ``close()`` with unread data, or with SO_LINGER {on, 0}, sends a RST instead of a FIN
  and the peer's next read fails with ECONNRESET (RFC 2525 §2.17);
* an error is reported once (by a read, a write or SO_ERROR); afterwards reads return
  EOF and writes fail with EPIPE;
* a write after the peer reset a connection that was in CLOSE_WAIT fails with EPIPE;
* a read on a connection that is not connected fails with ENOTCONN; a write with EPIPE.
"""

from __future__ import annotations

import errno
import os

from tcpkit.tcp.fastopen import FastOpenAttempt
from tcpkit.tcp.segment_arrives import SegmentArrives
from tcpkit.tcp.sender import NAGLE_CORK, NAGLE_OFF, NAGLE_PUSH
from tcpkit.tcp.state import Event, State
from tcpkit.tcp.tcb import ACK_PUSHED, ACK_PUSHED2, WQ_EOR, WQ_PSH
from tcpkit.tcp.zerocopy import ZerocopyNotifications


def _os_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class WouldBlock(BlockingIOError):
    """The call cannot complete now (EAGAIN); a blocking socket waits for an event."""

    def __init__(self, what: str) -> None:
        super().__init__(errno.EAGAIN, os.strerror(errno.EAGAIN))
        self.what = what


class UserCalls(SegmentArrives):
    """RFC 9293 §3.10.1-§3.10.6."""

    __slots__ = ()

    # -- OPEN (§3.10.1) -----------------------------------------------------------------

    def connect(self, now: float, *, fastopen: FastOpenAttempt | None = None,
                data: bytes | bytearray | memoryview = b"") -> int:
        """Active OPEN: choose the ISN (RFC 6528), send the SYN, enter SYN-SENT. With
        ``fastopen`` (RFC 7413) the SYN asks for a cookie, or carries the cached one
        and as much of ``data`` as fits: returns how many bytes it took."""
        self.clock = now
        if self.state is not State.CLOSED:
            raise _os_error(errno.EISCONN if self.state in (State.ESTABLISHED, State.CLOSE_WAIT)
                            else errno.EALREADY)
        cfg = self.config
        self.iss = self.secrets.isn(self.local, self.remote, now)
        self.ts_offset = self.secrets.ts_offset(self.local[0], self.remote[0])
        self._start_sequence(self.iss)
        self.ts_ok = cfg.timestamps  # until the SYN-ACK says otherwise: it sizes the MSS
        self.mss_clamp = cfg.user_mss or 65535
        self.max_window = 0
        self._sync_mss()
        self.advmss = self._advertised_mss()
        self._init_rcv_mss()
        if cfg.rcvbuf is not None:
            self.window_clamp = self._full_space()
        self._select_initial_window(self._full_space(), self.advmss, cfg.window_scaling)
        self.rcv_ssthresh = self.rcv_wnd
        self.ts_ok = False
        self._transition(Event.ACTIVE_OPEN, "connect()")
        self.fastopen = fastopen
        return self._send_syn_and_track(now, synack=False, data=data)

    def listen(self, *, iss: int | None = None) -> None:
        """Passive OPEN: wait for a SYN (RFC 9293 §3.10.1). ``iss`` fixes the ISN the
        SYN-ACK will carry instead of RFC 6528's (the host's SYN cookie)."""
        if self.state is not State.CLOSED:
            raise _os_error(errno.EINVAL)
        self.passive = True
        self.chosen_iss = iss
        self._transition(Event.PASSIVE_OPEN, "listen()")

    # -- SEND (§3.10.2) ----------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview, now: float, *, more: bool = False,
             urgent: bool = False, eor: bool = False, zerocopy: bool = False) -> int:
        """Queue ``data`` for sending; returns how many bytes were taken (all of them,
        or as many as the send buffer has room for). Raises :class:`WouldBlock` if none
        fit, or before the handshake completes; OSError for the connection's error.
        ``zerocopy``: MSG_ZEROCOPY with SO_ZEROCOPY set (see :mod:`zerocopy`)."""
        self.clock = now
        state = self.state
        if self.error or self.snd_shutdown:
            raise self._error_or(errno.EPIPE)
        if state is State.LISTEN:
            self._listen_turns_active(now)
            state = self.state
        if state not in (State.ESTABLISHED, State.CLOSE_WAIT):
            if state in (State.SYN_SENT, State.SYN_RECEIVED):
                self.write_pending = True
                raise WouldBlock("connection not yet established")
            raise _os_error(errno.EPIPE)
        if not data:
            return 0
        if not self._tail_room() and not self._stream_memory_free():
            self.write_blocked = True
            raise WouldBlock("send buffer full")
        if not self.packets_out and self.config.slow_start_after_idle:
            self._slow_start_after_idle_check(now)
        tail_end = None
        if zerocopy or self.zerocopy is not None:
            tail_end = self.write_queue[-1][0] if self._tail_room() else None
        self.send_buffer.append(data)
        try:
            copied = self._queue_write(len(data), now, urgent)
        finally:
            self.send_buffer.keep(self.write_seq)
        if copied and (zerocopy or self.zerocopy is not None):
            self._zerocopy_sent(copied, zerocopy, tail_end)
        whole = copied == len(data)
        if eor and whole:  # MSG_EOR: once the whole message is in (tcp_sendmsg_locked)
            self.write_queue[-1][1] |= WQ_EOR
        if urgent:  # tcp_push's tcp_mark_urg, once the write is queued
            self.snd_up = self.write_seq  # BSD: the pointer points after the urgent byte
            self.urg_mode = True
        if not more or self._forced_push():
            self._mark_push()
        self._push(now, NAGLE_CORK if more else None)
        if not whole or not self._stream_writeable():
            self.write_blocked = True  # SOCK_NOSPACE: wake the writer when room is back
        return copied

    def _zerocopy_sent(self, copied: int, zerocopy: bool, tail_end: int | None) -> None:
        """Number a MSG_ZEROCOPY send (``msg_zerocopy_realloc``), or, for a plain one,
        note that its data joined the buffer holding a pending send's last byte
        (``tail_end``: where the last unsent buffer ended, if the data joined it)."""
        zc = self.zerocopy
        if zc is None:
            zc = self.zerocopy = ZerocopyNotifications()
        newest_in_tail = (tail_end is not None and bool(zc.pending)
                          and zc.pending[-1].done_seq == tail_end)
        if zerocopy:
            zc.sent(copied, self.write_seq, newest_in_tail)
        elif newest_in_tail:
            grown = self.write_seq  # the smallest buffer end beyond the old one
            for end, _ in reversed(self.write_queue):
                if tail_end is not None and end <= tail_end:
                    break
                grown = end
            zc.buffer_grew(grown)

    def _forced_push(self) -> bool:
        """Linux ``forced_push``: half the largest window went by without a PSH."""
        return self.write_seq > self.pushed_seq + (self.max_window >> 1)

    def _mark_push(self) -> None:
        """Linux ``tcp_mark_push``: PSH on the last write-queue buffer."""
        if self.write_queue:
            self.write_queue[-1][1] |= WQ_PSH
        self.pushed_seq = self.write_seq

    def _queue_write(self, length: int, now: float, urgent: bool = False) -> int:
        """Linux ``tcp_sendmsg_locked``: copy up to ``length`` bytes into write-queue
        buffers of the size goal, first into the last one if it has room (which loses
        the PSH the last write left on it); a new buffer only while the send buffer's
        charge is under its size (``sk_stream_memory_free``). Between full buffers, with
        more to copy, half a window without PSH forces one and pushes
        (``forced_push``); otherwise a full buffer at the head of the queue goes out
        alone (``tcp_push_one``); an urgent write pushes only at its end, once the
        urgent pointer is set (MSG_OOB). Returns how much was copied."""
        goal = self._size_goal()
        queue = self.write_queue
        pos = self.write_seq
        end = pos + length
        copied = False
        while pos < end:
            start = queue[-2][0] if len(queue) > 1 else self.snd_nxt
            if queue and queue[-1][0] - start < goal and not queue[-1][1] & WQ_EOR:
                tail = queue[-1]
                if not copied:
                    tail[1] &= ~WQ_PSH
            else:
                if not self._stream_memory_free():
                    break
                start = pos
                tail = [pos, 0]
                queue.append(tail)
            take = min(goal - (tail[0] - start), end - pos)
            tail[0] += take
            pos += take
            copied = True
            self.write_seq = pos
            if pos == end or tail[0] - start < goal or urgent:
                continue
            if self._forced_push():
                self._mark_push()
                self._push(now, NAGLE_PUSH)
            elif queue[0] is tail:
                self._push_one(now)
        return pos - (end - length)

    def _listen_turns_active(self, now: float) -> None:
        """RFC 9293 §3.10.2, LISTEN: a SEND with the remote known turns the passive
        open into an active one (Linux sockets never do this; the engine can)."""
        self.passive = False
        self.iss = self.secrets.isn(self.local, self.remote, now)
        self.ts_offset = self.secrets.ts_offset(self.local[0], self.remote[0])
        self._start_sequence(self.iss)
        self.advmss = self._advertised_mss()
        self._sync_mss()
        self._select_initial_window(self._full_space(), self.advmss, self.config.window_scaling)
        self.rcv_ssthresh = self.rcv_wnd
        self._transition(Event.SEND_IN_LISTEN, "SEND on a passive open")
        self._send_syn_and_track(now, synack=False)

    def _slow_start_after_idle_check(self, now: float) -> None:
        """Linux ``tcp_slow_start_after_idle_check`` (RFC 2861, RFC 5681 §4.1): after
        an idle period longer than the RTO, cwnd decays, halving per RTO idle."""
        delta = now - self.lsndtime
        rto = self.rtt.rto
        if delta <= rto:
            return
        restart = min(self.config.init_cwnd, self.cwnd)
        self.ssthresh = self._current_ssthresh()
        cwnd = self.cwnd
        delta -= rto
        while delta > 0 and cwnd > restart:
            cwnd >>= 1
            delta -= rto
        self.cwnd = max(cwnd, restart)
        self.snd_cwnd_stamp = now
        self.snd_cwnd_used = 0

    # -- RECEIVE (§3.10.3) --------------------------------------------------------------

    def receive(self, size: int, now: float, *, peek: bool = False) -> bytes:
        """Up to ``size`` bytes of data, b"" at EOF. Raises :class:`WouldBlock` when
        nothing is there yet, and the connection's error (once) when it failed."""
        return b"".join(self.receive_pieces(size, now, peek=peek))

    def receive_pieces(self, size: int, now: float, *,
                       peek: bool = False) -> list[bytes | memoryview]:
        """:meth:`receive` without the copy: the data as the receive queue holds it
        (:meth:`ReceiveQueue.take`), no pieces at EOF."""
        self.clock = now
        if size < 0:
            raise _os_error(errno.EINVAL)
        if self.state is State.LISTEN:
            raise _os_error(errno.ENOTCONN)
        queue = self.recv_queue
        if len(queue) and size:
            limit = size
            if self.urg_data is not None or self.urg_pending or self.urg_read:
                # Stop at the urgent mark: the byte before it is the last of this read.
                to_mark = self.urg_seq - self.copied_seq
                if to_mark == 0 and not self.config.oob_inline:
                    self._skip_urgent_byte()
                    to_mark = self.urg_seq - self.copied_seq
                if to_mark > 0:
                    limit = min(limit, to_mark)
            taken = min(limit, len(queue))
            pieces = queue.take(taken, peek=peek)
            if not peek and taken:
                self._consumed(taken, now)
                if self.copied_seq > self.urg_seq and not self.urg_pending:
                    # Linux tcp_recvmsg: past the mark, the urgent data is forgotten.
                    self.urg_data = None
                    self.urg_read = False
            if taken:
                return pieces
        if self.fin_seq is not None and self.copied_seq >= self.fin_seq:
            return []
        if self.error:
            raise self._error_or(errno.ECONNRESET)
        if self.rcv_shutdown or (self.state is State.CLOSED and self.error == 0 and self.iss):
            return []
        if self.state is State.CLOSED:
            raise _os_error(errno.ENOTCONN)
        if not size:
            return []
        raise WouldBlock("no data yet")

    def _skip_urgent_byte(self) -> None:
        """The out-of-band byte is not part of the stream (unless SO_OOBINLINE)."""
        if self.copied_seq == self.urg_seq and len(self.recv_queue):
            self.recv_queue.discard(1)
            self.copied_seq += 1

    def _consumed(self, count: int, now: float) -> None:
        """Bytes left the receive queue: free the buffer and maybe update the window
        (Linux ``tcp_recvmsg`` tail: ``tcp_rcv_space_adjust``, ``tcp_cleanup_rbuf``)."""
        self.copied_seq += count
        self.rcv_mem.release(self.copied_seq)
        self._rcv_space_adjust(now, self.rcv_rtt_us)
        self._cleanup_rbuf(count, now)

    def _cleanup_rbuf(self, copied: int, now: float) -> None:
        """Linux ``__tcp_cleanup_rbuf``: after a read, acknowledge if a delayed ACK is
        overdue, or advertise a window that at least doubled (receiver SWS avoidance,
        RFC 9293 §3.8.6.2.2)."""
        if self.state in (State.CLOSED, State.LISTEN, State.SYN_SENT):
            return
        time_to_ack = False
        if self.ack_pending & 1:
            if self.rcv_nxt - self.rcv_wup > self.rcv_mss or (
                copied > 0
                and (self.ack_pending & ACK_PUSHED2
                     or (self.ack_pending & ACK_PUSHED and not self._in_pingpong()))
                and not self.rmem_alloc
            ):
                time_to_ack = True
        if copied > 0 and not time_to_ack and not self.rcv_shutdown:
            rcv_window_now = self._receive_window()
            if 2 * rcv_window_now <= self.window_clamp:
                new_window = self._select_window_value()
                if new_window and new_window >= 2 * rcv_window_now:
                    time_to_ack = True
        if time_to_ack:
            self._send_ack(now)

    def receive_urgent(self, now: float, *, peek: bool = False) -> bytes:
        """The out-of-band byte (Linux ``tcp_recv_urg``)."""
        self.clock = now
        if self.config.oob_inline or (self.urg_data is None and not self.urg_pending):
            raise _os_error(errno.EINVAL)
        if self.state is State.CLOSED and self.fin_seq is None and not self.error:
            raise _os_error(errno.ENOTCONN)
        if self.urg_data is not None:
            byte = bytes([self.urg_data])
            if not peek:
                self.urg_data = None
                self.urg_read = True  # Linux TCP_URG_READ
            return byte
        if self.state is State.CLOSED or self.rcv_shutdown:
            return b""
        raise WouldBlock("urgent byte not yet arrived")

    # -- Nagle and corking (RFC 1122 §4.2.3.4) ---------------------------------------------

    def set_nodelay(self, enabled: bool, now: float) -> None:
        """TCP_NODELAY (Linux ``tcp_sock_set_nodelay``): turning Nagle off pushes what
        it was holding back."""
        self.clock = now
        self.own_config().nodelay = enabled
        if enabled and self.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            self._push(now, NAGLE_OFF | NAGLE_PUSH)

    def set_cork(self, enabled: bool, now: float) -> None:
        """TCP_CORK (Linux ``__tcp_sock_set_cork``): while corked only full segments
        leave; uncorking pushes the partial one (under Nagle unless TCP_NODELAY)."""
        self.clock = now
        self.own_config().cork = enabled
        if not enabled and self.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            self._mark_push()
            nonagle = self._nonagle()
            self._push(now, nonagle | NAGLE_PUSH if nonagle & NAGLE_OFF else nonagle)

    # -- keepalive (RFC 1122 §4.2.3.6) ------------------------------------------------

    def set_keepalive(self, now: float, *, enabled: bool | None = None,
                      idle: float | None = None, interval: float | None = None,
                      count: int | None = None) -> None:
        """SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT on a live
        connection (Linux ``tcp_set_keepalive``, ``tcp_sock_set_keepidle_locked``):
        enabling arms the timer for a full idle time; a new idle time counts from the
        last segment received."""
        self.clock = now
        cfg = self.own_config()
        if (idle is not None and not 1 <= idle <= 32767) or (
                interval is not None and not 1 <= interval <= 32767) or (
                count is not None and not 1 <= count <= 127):
            raise _os_error(errno.EINVAL)
        if interval is not None:
            cfg.keepalive_intvl = interval
        if count is not None:
            cfg.keepalive_probes = count
        live = self.state not in (State.CLOSED, State.LISTEN, State.SYN_SENT)
        turning_on = bool(enabled) and not cfg.keepalive
        if idle is not None:
            cfg.keepalive_time = idle
            if cfg.keepalive and live and not turning_on:
                # TCP_KEEPIDLE on an armed keepalive counts from the last segment heard.
                elapsed = self._keepalive_time_elapsed(now)
                self._arm_keepalive(now, max(idle - elapsed, 0.0))
        if enabled is not None and enabled != cfg.keepalive:
            # Several options in one call apply as a program would set them: the
            # TCP_KEEP* values first, then SO_KEEPALIVE, which arms a full idle period.
            cfg.keepalive = enabled
            if not enabled:
                self.keepalive_deadline = None
            elif live:
                self._arm_keepalive(now, cfg.keepalive_time)

    # -- CLOSE (§3.10.4), shutdown and ABORT (§3.10.5) ------------------------------------

    def shutdown(self, now: float, *, read: bool = False, write: bool = True) -> None:
        """shutdown(SHUT_RD / SHUT_WR / SHUT_RDWR). SHUT_WR sends our FIN after the
        queued data (Linux ``tcp_shutdown``); SHUT_RD only makes reads return EOF."""
        self.clock = now
        if self.state in (State.CLOSED, State.LISTEN) and not self.iss:
            raise _os_error(errno.ENOTCONN)
        if read:
            self.rcv_shutdown = True
        if not write or self.snd_shutdown:
            return
        self.snd_shutdown = True
        state = self.state
        if state is State.SYN_SENT:
            # Linux: shutting down the sending side of a connect in progress closes it.
            self._done(Event.CLOSE, "shutdown(SHUT_WR) while connecting")
        elif state in (State.ESTABLISHED, State.SYN_RECEIVED, State.CLOSE_WAIT):
            self._transition(Event.CLOSE_SEND_FIN, "shutdown(SHUT_WR)")
            self._queue_fin(now)

    def close(self, now: float) -> None:
        """close(): Linux ``tcp_close``. Unread data (RFC 2525 §2.17) or SO_LINGER
        {on, 0} abort with a RST; otherwise our FIN follows the queued data and the
        connection lives on as an orphan until the close completes."""
        self.clock = now
        self.orphan = True
        self.rcv_shutdown = True
        state = self.state
        if state is State.LISTEN:
            self._done(Event.CLOSE, "close() of a listening socket")
            return
        unread = len(self.recv_queue)
        self.recv_queue.clear()
        self.rcv_mem.clear()
        if state is State.CLOSED:
            return
        if state is State.TIME_WAIT:
            return  # the 2MSL wait runs its course
        if unread:
            self._abort_with_reset(now, f"close() with {unread} unread bytes: RST, not FIN")
        elif self.config.linger == 0:
            self._abort_with_reset(now, "close() with SO_LINGER {on, 0}: RST")
        elif state is State.SYN_SENT:
            self._done(Event.CLOSE, "close() while connecting")
        elif state in (State.ESTABLISHED, State.SYN_RECEIVED, State.CLOSE_WAIT):
            self.snd_shutdown = True
            self._transition(Event.CLOSE_SEND_FIN, "close()")
            self._queue_fin(now)
        if self.state is State.FIN_WAIT_2:
            self._arm_finwait2(now)

    def _abort_with_reset(self, now: float, cause: str) -> None:
        if self.state in (State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_1,
                          State.FIN_WAIT_2, State.SYN_RECEIVED) or (
                self.snd_nxt != self.write_seq and self.state in (State.CLOSING, State.LAST_ACK)):
            self._send_active_reset(now)
        self._done(Event.ABORT, cause)

    def discard(self, now: float, cause: str) -> None:
        """End without a segment: what Linux does to a request still in a listener's
        SYN queue when the listener closes (``inet_csk_listen_stop`` frees it; its
        SYN-ACK timer finds no listener and sends nothing)."""
        self.clock = now
        if self.state is not State.CLOSED:
            self.orphan = True
            self._done(Event.ABORT, cause)

    def abort(self, now: float) -> None:
        """ABORT (RFC 9293 §3.10.5): a RST to the peer if synchronized, then CLOSED."""
        self.clock = now
        if self.state is State.CLOSED:
            return
        self.orphan = True
        self.recv_queue.clear()
        self._abort_with_reset(now, "ABORT")

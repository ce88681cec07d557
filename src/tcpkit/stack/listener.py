"""A listening socket's two queues, as Linux keeps them (``tcp_conn_request``,
``tcp_check_req``, ``inet_csk_accept``).

* The SYN queue holds connections whose SYN-ACK is out (SYN-RECEIVED); each is a whole
  :class:`~tcpkit.tcp.connection.Connection` that retransmits its own SYN-ACK
  (``tcp_synack_retries``) and disappears on a RST or when it gives up.
* The accept queue holds connections the handshake completed, until accept() takes them.

``listen(backlog)`` caps both at ``min(backlog, net.core.somaxconn)``, and Linux counts
"full" as *more than* the backlog, so listen(0) still takes one connection:

* a SYN while the accept queue is full is dropped (``ListenOverflows``, ``ListenDrops``);
* a SYN while the SYN queue is full gets a SYN cookie instead of a queue entry when
  ``tcp_syncookies`` is on (``SyncookiesSent``), else it is dropped;
* the ACK completing a handshake while the accept queue is full is dropped
  (``ListenOverflows``) and the SYN-ACK is retransmitted later, unless
  ``tcp_abort_on_overflow`` asks for a RST.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from tcpkit.stack import syncookies
from tcpkit.wire.tcp import ACK, FIN, RST, SYN, TCPSegment
from tcpkit.wire.tcp_options import MSS, SackPermitted, Timestamps, WindowScale

if TYPE_CHECKING:
    from tcpkit.stack.ports import Binding
    from tcpkit.stack.sock import TcpSock
    from tcpkit.stack.tcp_layer import Attached, TcpLayer


class Listener:
    """The passive side of one listening socket."""

    def __init__(self, tcp: TcpLayer, sock: TcpSock, binding: Binding, backlog: int) -> None:
        self.tcp = tcp
        self.sock = sock
        self.binding = binding
        self.backlog = backlog
        self.syn_queue: set[Attached] = set()
        self.accept_queue: deque[Attached] = deque()

    @property
    def address(self) -> str:
        return self.binding.address

    @property
    def port(self) -> int:
        return self.binding.port

    def accept_queue_full(self) -> bool:
        return len(self.accept_queue) > self.backlog  # sk_acceptq_is_full

    def syn_queue_full(self) -> bool:
        return len(self.syn_queue) > self.backlog  # inet_csk_reqsk_queue_is_full

    # -- segments for the listening socket itself ----------------------------------------

    def on_segment(self, seg: TCPSegment, local: tuple[str, int], remote: tuple[str, int],
                   now: float) -> None:
        """Linux ``tcp_v4_rcv`` for a segment that matched only this listener."""
        flags = seg.flags
        counters = self.tcp.host.counters
        if flags & RST:
            return
        if flags & ACK and not flags & SYN:
            if not self._cookie_ack(seg, local, remote, now):
                self.tcp.send_reset(seg, local[0], remote[0])
            return
        if flags & ACK:
            self.tcp.send_reset(seg, local[0], remote[0])
            return
        if not flags & SYN or flags & FIN:
            return
        sysctl = self.tcp.host.sysctl
        cookies = sysctl["net.ipv4.tcp_syncookies"]
        want_cookie = False
        if cookies == 2 or self.syn_queue_full():
            if cookies:
                want_cookie = True
                counters.inc("TcpExtTCPReqQFullDoCookies")
            else:
                counters.inc("TcpExtTCPReqQFullDrop")
                counters.inc("TcpExtListenDrops")
                return
        if self.accept_queue_full():
            counters.inc("TcpExtListenOverflows")
            counters.inc("TcpExtListenDrops")
            return
        if not want_cookie and not cookies:
            limit = sysctl["net.ipv4.tcp_max_syn_backlog"]
            if limit - len(self.syn_queue) < limit >> 2:
                counters.inc("TcpExtListenDrops")
                return
        if not self.tcp.host.is_local(remote[0]):
            try:
                self.tcp.host.routes.lookup(remote[0])
            except OSError:
                # Linux route_req: no way to send the SYN-ACK, so no request is kept
                # (a flood from unroutable forged sources fills nothing).
                counters.inc("TcpExtListenDrops")
                return
        if want_cookie:
            self._send_cookie(seg, local, remote, now)
            return
        child = self.tcp.new_connection(local, remote, self.sock.config)
        attached = self.tcp.attach(child, listener=self, binding=self.binding)
        self.syn_queue.add(attached)
        child.listen()
        child.on_segment(seg, now)
        self.tcp.service(attached)

    # -- SYN cookies -------------------------------------------------------------------

    def _cookie_key(self) -> bytes:
        return self.tcp.host.secrets.key

    def _send_cookie(self, seg: TCPSegment, local: tuple[str, int],
                     remote: tuple[str, int], now: float) -> None:
        """A SYN-ACK whose ISN is the cookie, and nothing remembered."""
        peer_mss = next((o.value for o in seg.options if isinstance(o, MSS)), 536)
        iss, _ = syncookies.make_cookie(self._cookie_key(), local, remote, seg.seq, peer_mss,
                                        now)
        probe = self.tcp.new_connection(local, remote, self.sock.config)
        probe.listen(iss=iss)
        probe.on_segment(seg, now)
        wscale = next((o.shift for o in seg.options if isinstance(o, WindowScale)), None)
        sack = any(isinstance(o, SackPermitted) for o in seg.options)
        for out in probe.segments_to_send():
            options = tuple(
                Timestamps(syncookies.encode_timestamp(o.tsval - probe.ts_offset, wscale,
                                                       sack) + probe.ts_offset & 0xFFFFFFFF,
                           o.tsecr)
                if isinstance(o, Timestamps) else o for o in out.options)
            out.options = options
            self.tcp.output_segment(out, local[0], remote[0])
        self.tcp.host.counters.inc("TcpExtSyncookiesSent")

    def _cookie_ack(self, seg: TCPSegment, local: tuple[str, int], remote: tuple[str, int],
                    now: float) -> bool:
        """Linux ``cookie_v4_check``: an ACK that carries a valid cookie becomes an
        established connection, rebuilt from what the cookie and timestamp encode."""
        if not self.tcp.host.sysctl["net.ipv4.tcp_syncookies"]:
            return False
        client_isn = (seg.seq - 1) & 0xFFFFFFFF
        cookie = (seg.ack - 1) & 0xFFFFFFFF
        mss = syncookies.check_cookie(self._cookie_key(), local, remote, client_isn, cookie,
                                      now)
        counters = self.tcp.host.counters
        if mss is None:
            counters.inc("TcpExtSyncookiesFailed")
            return False
        if self.accept_queue_full():
            counters.inc("TcpExtListenOverflows")
            counters.inc("TcpExtListenDrops")
            return True
        child = self.tcp.new_connection(local, remote, self.sock.config)
        tsecr = next((o.tsecr for o in seg.options if isinstance(o, Timestamps)), None)
        tsval = next((o.tsval for o in seg.options if isinstance(o, Timestamps)), 0)
        raw_tsecr = None
        if tsecr is not None:
            raw_tsecr = (tsecr - child.secrets.ts_offset(local[0], remote[0])) & 0xFFFFFFFF
        found = syncookies.decode_timestamp(raw_tsecr, mss)
        options: list[object] = [MSS(found.mss)]
        if found.sack:
            options.append(SackPermitted())
        if found.timestamps:
            options.append(Timestamps(tsval, 0))
        if found.wscale is not None:
            options.append(WindowScale(found.wscale))
        syn = TCPSegment(seg.src_port, seg.dst_port, client_isn, 0, SYN, seg.window,
                         options=tuple(options))  # type: ignore[arg-type]
        child.listen(iss=cookie)
        child.on_segment(syn, now)
        child.segments_to_send()  # the SYN-ACK went out long ago, as the cookie
        attached = self.tcp.attach(child, listener=self, binding=self.binding)
        self.syn_queue.add(attached)
        counters.inc("TcpExtSyncookiesRecv")
        child.on_segment(seg, now)
        self.tcp.service(attached)
        return True

    # -- children ----------------------------------------------------------------------

    def child_established(self, attached: Attached) -> None:
        self.syn_queue.discard(attached)
        self.accept_queue.append(attached)

    def child_gone(self, attached: Attached) -> None:
        """A child died before accept() took it (RST in SYN-RECEIVED, SYN-ACK retries
        exhausted); one already in the accept queue stays there, as in Linux, and
        accept() returns it with its error."""
        self.syn_queue.discard(attached)

    def pop(self) -> Attached | None:
        return self.accept_queue.popleft() if self.accept_queue else None

"""A TCP connection: one TCB and everything RFC 9293 says it does, sans-IO.

How it works (the h11 / aioquic way). A driver — the simulated network, a TUN link, a
test — owns the clock and the wire. It calls:

* user calls: :meth:`connect`, :meth:`listen`, :meth:`send`, :meth:`receive`,
  :meth:`receive_urgent`, :meth:`shutdown`, :meth:`close`, :meth:`abort`;
* :meth:`on_segment` for every arriving segment of this connection;
* :meth:`on_timer` when :meth:`next_deadline` is reached;
* :meth:`on_icmp_error` / :meth:`on_mtu_reduced` for ICMP errors about its segments;

each with the current time ``now`` (seconds, any epoch). After every call it collects
what the connection wants to send with :meth:`segments_to_send` and what happened with
:meth:`next_event`, and re-arms its one timer at :meth:`next_deadline`. The connection
never reads a clock, never does I/O and never starts a thread, so the same code runs
under a virtual clock (a two-hour keepalive story takes milliseconds) and in real time.

Misuse of the API raises at once (an ``OSError`` with the errno Linux gives, or
:class:`WouldBlock`); a misbehaving peer never raises: it becomes a RST, an ACK, a
dropped segment or a :class:`~tcpkit.tcp.events.ConnectionFailed` event.
"""

from __future__ import annotations

from tcpkit.tcp.events import ConnectionEvent
from tcpkit.tcp.icmp_errors import IcmpErrors
from tcpkit.tcp.state import State
from tcpkit.tcp.user_calls import WouldBlock
from tcpkit.wire.tcp import TCPSegment


class Connection(IcmpErrors):
    """One TCP connection (see the module docstring)."""

    __slots__ = ()

    def segments_to_send(self) -> list[TCPSegment]:
        """Everything the connection wants on the wire since the last call, in order."""
        out = self.out
        self.out = []
        return out

    def next_event(self) -> ConnectionEvent | None:
        """The oldest event not yet collected, or None."""
        return self.events.pop(0) if self.events else None

    def take_error(self, *, soft: bool = False) -> int:
        """The pending error, cleared once read. With ``soft`` (SO_ERROR), a soft error
        (an ICMP report kept in case the connection times out) is taken when there is
        no hard one, as Linux ``sock_getsockopt`` falls back to ``sk_err_soft``."""
        err = self.error
        self.error = 0
        if not err and soft:
            err, self.soft_error = self.soft_error, 0
        return err

    @property
    def readable(self) -> int:
        """Bytes waiting to be read."""
        return len(self.recv_queue)

    @property
    def at_eof(self) -> bool:
        """The peer's FIN was read up to (reads return b"")."""
        return self.fin_seq is not None and self.copied_seq >= self.fin_seq

    @property
    def send_space(self) -> int:
        """Bytes :meth:`send` would take now."""
        return self._send_space()

    @property
    def writeable(self) -> bool:
        """Linux ``__sk_stream_is_writeable``: poll()'s POLLOUT, and when a blocked
        writer is woken: the free part of the send buffer at least half its charge."""
        return self._stream_writeable()

    @property
    def unacked(self) -> int:
        """Bytes (and SYN/FIN) sent or queued but not yet acknowledged."""
        return self.write_seq - self.snd_una

    def __repr__(self) -> str:
        return (f"<Connection {self.local[0]}:{self.local[1]} -> {self.remote[0]}:"
                f"{self.remote[1]} {self.state.name}>")


__all__ = ["Connection", "State", "WouldBlock"]

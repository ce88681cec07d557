"""A TCP socket as the host sees it: the BSD calls without blocking (Linux
``inet_stream_connect``, ``inet_bind``, ``inet_listen``, ``inet_accept``,
``tcp_sendmsg``, ``tcp_recvmsg``, ``inet_shutdown``, ``tcp_close``).

Every call either completes, raises ``OSError`` with Linux's errno, or raises
:class:`~tcpkit.tcp.user_calls.WouldBlock` (a ``BlockingIOError``) when it would have to
wait; connect() raises ``BlockingIOError(EINPROGRESS)`` once the SYN is out. Waiting is
the socket layer's business (``tcpkit.socket``): it knows the clock, timeouts and
threads; this class only knows TCP. :meth:`TcpSock.readable` and
:meth:`TcpSock.writable` say when a waiting call can go on (what poll() reports).
"""

from __future__ import annotations

import errno
import ipaddress
import os
from enum import Enum
from typing import TYPE_CHECKING

from tcpkit.stack import options
from tcpkit.stack.fastopen_cache import TFO_CLIENT_ENABLE
from tcpkit.stack.listener import Listener
from tcpkit.stack.ports import WILDCARD, Binding
from tcpkit.tcp.state import State
from tcpkit.tcp.user_calls import WouldBlock

if TYPE_CHECKING:
    from tcpkit.stack.host import Host
    from tcpkit.stack.tcp_layer import Attached
    from tcpkit.tcp.config import ConnectionConfig
    from tcpkit.tcp.connection import Connection
    from tcpkit.tcp.fastopen import FastOpenAttempt

Address = tuple[str, int]


class SockState(Enum):
    """``struct socket``'s state, which connect() consults (not TCP's)."""

    UNCONNECTED = "unconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


# ioctl requests on a TCP socket (include/uapi/asm-generic/ioctls.h, sockios.h).
SIOCINQ = 0x541B  # FIONREAD
SIOCOUTQ = 0x5411  # TIOCOUTQ
SIOCOUTQNSD = 0x894B
SIOCATMARK = 0x8905


def _err(code: int, what: str = "") -> OSError:
    message = os.strerror(code)
    return OSError(code, f"{message} ({what})" if what else message)


def _check_address(address: object) -> Address:
    if not (isinstance(address, tuple) and len(address) == 2):
        raise TypeError("AF_INET address must be a tuple (host, port)")
    host, port = address
    if not isinstance(host, str) or not isinstance(port, int):
        raise TypeError("AF_INET address must be a tuple (str, int)")
    if not 0 <= port <= 65535:
        raise OverflowError("connect(): port must be 0-65535.")
    if host == "":
        host = WILDCARD
    elif host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise OSError(errno.EINVAL, f"tcpkit resolves no names: {host!r} is not an IPv4 "
                      "address") from None
    return host, port


# Where Linux's socket is TCP_CLOSE or has no peer yet (TIME_WAIT lives in a separate
# timewait sock; the socket itself is closed).
_NO_PEER = (State.CLOSED, State.SYN_SENT, State.TIME_WAIT)


class TcpSock:
    """One TCP socket of a host (see the module docstring)."""

    def __init__(self, host: Host, attached: Attached | None = None) -> None:
        self.host = host
        self._config = host.sysctl.connection_config()
        self.reuseaddr = False
        self.reuseport = False
        self.binding: Binding | None = None
        self.attached: Attached | None = attached
        self.listener: Listener | None = None
        self.state = SockState.UNCONNECTED
        # TCP_FASTOPEN_CONNECT with a cookie: connect() returned, the SYN waits for the
        # first write (Linux DEFER_CONNECT).
        self.deferred = False
        self.closed = False
        self._error = 0  # an error not tied to a connection (ICMP before connecting)
        if attached is not None:
            self.binding = attached.binding
            self.state = SockState.CONNECTED
            attached.sock = self

    @property
    def config(self) -> ConnectionConfig:
        """The socket's settings: its connection's once it has one (one fact, one
        place), read-only: :meth:`own_config` before changing one."""
        attached = self.attached
        return attached.conn.config if attached is not None else self._config

    def own_config(self) -> ConnectionConfig:
        """The settings, copied first if shared with other sockets (copy-on-write)."""
        attached = self.attached
        if attached is not None:
            return attached.conn.own_config()
        cfg = self._config = self._config.own()
        return cfg

    @property
    def conn(self) -> Connection | None:
        return self.attached.conn if self.attached is not None else None

    def __repr__(self) -> str:
        return f"<TcpSock {self.host.name} {self.getsockname()} {self.tcp_state.name}>"

    @property
    def tcp_state(self) -> State:
        if self.listener is not None:
            return State.LISTEN
        conn = self.conn
        return conn.state if conn is not None else State.CLOSED

    def _usable(self) -> None:
        if self.closed:
            raise _err(errno.EBADF, "socket closed")

    # -- bind, listen, accept ----------------------------------------------------------

    def bind(self, address: object) -> None:
        self._usable()
        host, port = _check_address(address)
        if self.binding is not None or self.conn is not None:
            raise _err(errno.EINVAL, "already bound")
        if host != WILDCARD and not self.host.is_local(host):
            raise _err(errno.EADDRNOTAVAIL, f"{host} is not an address of {self.host.name}")
        binding = Binding(host, port, self.reuseaddr, self.reuseport)
        if port == 0:
            self.host.ports.bind_ephemeral(binding, self._port_range())
        else:
            self.host.ports.bind(binding)
        self.binding = binding

    def _port_range(self) -> tuple[int, int]:
        low, high = self.host.sysctl["net.ipv4.ip_local_port_range"]
        return int(low), int(high)

    def listen(self, backlog: int = 128) -> None:
        self._usable()
        if self.state is not SockState.UNCONNECTED or self.conn is not None:
            raise _err(errno.EINVAL, "listen() on a connected socket")
        backlog = max(min(backlog, self.host.sysctl["net.core.somaxconn"]), 0)
        if self.listener is not None:
            self.listener.backlog = backlog  # Linux: listen() again changes the backlog
            return
        if self.binding is None:
            self.bind((WILDCARD, 0))
        binding = self.binding
        assert binding is not None
        binding.reuseaddr, binding.reuseport = self.reuseaddr, self.reuseport
        binding.listening = True
        if self.host.ports.conflict(binding) and not self.reuseport:
            # Linux re-checks at listen(): two SO_REUSEADDR sockets may share a port
            # only until one of them listens.
            binding.listening = False
            raise _err(errno.EADDRINUSE, f"port {binding.port}")
        listener = Listener(self.host.tcp, self, binding, backlog)
        self.host.tcp.listeners.setdefault((binding.address, binding.port), []).append(listener)
        self.listener = listener

    def accept(self) -> tuple[TcpSock, Address]:
        self._usable()
        listener = self.listener
        if listener is None:
            raise _err(errno.EINVAL, "accept() on a socket that is not listening")
        attached = listener.pop()
        if attached is None:
            raise WouldBlock("no connection to accept")
        child = TcpSock(self.host, attached)
        child.reuseaddr, child.reuseport = self.reuseaddr, self.reuseport
        if attached.binding is listener.binding:
            # The child holds the port too (Linux __inet_inherit_port), bound to the
            # address the SYN came to, with the listener's SO_REUSEADDR.
            conn = attached.conn
            binding = Binding(conn.local[0], conn.local[1], self.reuseaddr, self.reuseport)
            self.host.ports.inherit(binding)
            attached.binding = child.binding = binding
            if conn.state is State.TIME_WAIT:
                binding.time_wait = True
            if conn.state is State.CLOSED:
                self.host.ports.release(binding)
                child.binding = attached.binding = None
        return child, attached.conn.remote

    # -- connect -----------------------------------------------------------------------

    def connect(self, address: object) -> None:
        """Start connecting; BlockingIOError(EINPROGRESS) once the SYN is out. With
        TCP_FASTOPEN_CONNECT and a cookie for the server, no SYN yet: connect() returns
        and the first write sends the SYN with data (Linux
        ``tcp_fastopen_defer_connect``); without a cookie the SYN asks for one."""
        self._usable()
        host, port = _check_address(address)
        if self.listener is not None:
            raise _err(errno.EISCONN, "the socket is listening")
        if self.state is SockState.CONNECTED or self.deferred:
            raise _err(errno.EISCONN)
        if self.state is SockState.CONNECTING:
            return self.finish_connect()
        attached = self._open(host, port)
        fastopen = None
        if attached.conn.config.fastopen_connect:
            fastopen = self.host.fastopen_cache.attempt(attached.key[2])
            if fastopen.cookie:
                self.deferred = True
                self.state = SockState.CONNECTING
                return
        self._start(attached, fastopen, b"")
        raise BlockingIOError(errno.EINPROGRESS, os.strerror(errno.EINPROGRESS))

    def send_fastopen(self, data: bytes | bytearray | memoryview, address: object) -> int:
        """A write that opens the connection with Fast Open (Linux
        ``tcp_sendmsg_fastopen``): sendto() with MSG_FASTOPEN, or the first write after
        a deferred connect(). Returns what the SYN carried; BlockingIOError(EINPROGRESS)
        if it carried nothing (no cookie yet: it asks for one)."""
        self._usable()
        if not self.host.sysctl["net.ipv4.tcp_fastopen"] & TFO_CLIENT_ENABLE:
            raise _err(errno.EOPNOTSUPP, "net.ipv4.tcp_fastopen does not enable clients")
        if self.deferred:
            attached = self.attached
            assert attached is not None
            self.deferred = False
        else:
            if self.listener is not None or self.state is SockState.CONNECTED:
                raise _err(errno.EISCONN)
            if self.state is SockState.CONNECTING:
                if self.connecting():
                    raise _err(errno.EALREADY)
                # Linux __inet_stream_connect: a non-blocking connect that has since
                # completed makes the socket connected, and the write goes as any does.
                self.finish_connect()
                return self.send(data)
            if address is None:
                raise _err(errno.EINVAL, "Fast Open needs the server's address")
            attached = self._open(*_check_address(address))
        fastopen = self.host.fastopen_cache.attempt(attached.key[2])
        taken = self._start(attached, fastopen, data)
        if not taken:
            raise BlockingIOError(errno.EINPROGRESS, os.strerror(errno.EINPROGRESS))
        return taken

    def _start(self, attached: Attached, fastopen: FastOpenAttempt | None,
               data: bytes | bytearray | memoryview) -> int:
        """Send the SYN (with Fast Open, maybe data): what the SYN carried."""
        self.state = SockState.CONNECTING
        taken = attached.conn.connect(self.host.now, fastopen=fastopen, data=data)
        self.host.tcp.service(attached)
        # Linux checks the state right after sending the SYN, before the socket lock
        # is released and the loopback answer processed: EINPROGRESS even when the
        # handshake completes within the call (inet_stream_connect).
        self.host.settle()
        return taken

    def _open(self, host: str, port: int) -> Attached:
        """The connection to (host, port), bound and in the host's table, not started."""
        if host == WILDCARD:
            host = "127.0.0.1"  # Linux: connecting to INADDR_ANY means this host
        if port == 0:
            raise _err(errno.ECONNREFUSED)
        source = self.host.source_for(host)  # ENETUNREACH without a route
        tcp = self.host.tcp
        binding = self.binding
        if binding is not None and binding.address != WILDCARD:
            source = binding.address
        if binding is None:
            binding = Binding(source, 0, self.reuseaddr, self.reuseport)
            self.host.ports.connect_ephemeral(
                binding, self._port_range(),
                lambda p: tcp.tuple_free((source, p, host, port)),
                tcp.busy_toward.get((source, host, port), ()))
            self.binding = binding
        elif not tcp.tuple_free((source, binding.port, host, port)):
            raise _err(errno.EADDRNOTAVAIL, "this 4-tuple is in use")
        conn = tcp.new_connection((source, binding.port), (host, port), self._config)
        attached = tcp.attach(conn, sock=self, binding=binding)
        self.attached = attached
        return attached

    def connecting(self) -> bool:
        conn = self.conn
        return self.state is SockState.CONNECTING and conn is not None and \
            conn.state in (State.SYN_SENT, State.SYN_RECEIVED)

    def finish_connect(self) -> None:
        """What connect() returns once the handshake is over: nothing, or the error
        (then the socket may connect again, as in Linux)."""
        conn = self.conn
        if self.connecting():
            raise _err(errno.EALREADY)
        if conn is not None and conn.state is not State.CLOSED:
            self.state = SockState.CONNECTED
            return
        self.state = SockState.UNCONNECTED
        err = self.take_error()
        if conn is not None:
            self._config = conn.config  # options set while it was connecting
        self.attached = None
        if self.binding is not None and self.binding.by_connect:
            self.host.ports.release(self.binding)
            self.binding = None
        raise _err(err or errno.ECONNABORTED)

    # -- data --------------------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview, *, more: bool = False,
             oob: bool = False, eor: bool = False, zerocopy: bool = False) -> int:
        """``zerocopy``: MSG_ZEROCOPY, which counts only with SO_ZEROCOPY set."""
        self._usable()
        conn = self.conn
        if conn is None:
            raise _err(errno.EPIPE if self.listener is None else errno.ENOTCONN)
        try:
            return conn.send(data, self.host.now, more=more, urgent=oob, eor=eor,
                             zerocopy=zerocopy and conn.config.so_zerocopy)
        finally:
            self._after(conn)

    def recv_error(self) -> tuple[int, int, int]:
        """The oldest MSG_ZEROCOPY notification (first, last, code) of the error queue
        (``recvmsg(MSG_ERRQUEUE)``, Linux ``ip_recv_error``); EAGAIN when it is empty,
        even on a blocking socket."""
        self._usable()
        conn = self.conn
        notice = conn.zerocopy.take() if conn is not None and conn.zerocopy else None
        if notice is None:
            raise _err(errno.EAGAIN)
        return notice

    def error_queued(self) -> bool:
        """Something waits on the error queue: poll() says POLLERR."""
        conn = self.conn
        return conn is not None and conn.zerocopy is not None and bool(conn.zerocopy.queue)

    def recv(self, size: int, *, peek: bool = False, oob: bool = False) -> bytes:
        if not oob:
            return b"".join(self.recv_pieces(size, peek=peek))
        conn = self._receiving()
        try:
            return conn.receive_urgent(self.host.now, peek=peek)
        finally:
            self._after(conn)

    def recv_pieces(self, size: int, *, peek: bool = False) -> list[bytes | memoryview]:
        """:meth:`recv` without the copy (``Connection.receive_pieces``): what
        ``recv_into`` copies straight into the caller's buffer."""
        conn = self._receiving()
        try:
            return conn.receive_pieces(size, self.host.now, peek=peek)
        finally:
            self._after(conn)

    def _receiving(self) -> Connection:
        self._usable()
        conn = self.conn
        if conn is None:
            raise _err(errno.ENOTCONN)
        return conn

    def _after(self, conn: Connection) -> None:
        attached = self.attached
        if attached is not None and attached.conn is conn:
            self.host.tcp.service(attached)
        self.host.settle()

    def ioctl(self, request: int) -> int:
        """Linux ``tcp_ioctl``: SIOCINQ (bytes waiting to be read, up to an urgent byte
        not inline, less a FIN), SIOCOUTQ (sent and not acknowledged, plus unsent),
        SIOCOUTQNSD (not sent yet), SIOCATMARK (the next byte read is the urgent one).
        A listener has no queues: EINVAL; another request: ENOTTY."""
        state = self.tcp_state
        if request in (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD) and state is State.LISTEN:
            raise _err(errno.EINVAL)
        conn = self.conn
        if request not in (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, SIOCATMARK):
            raise _err(errno.ENOTTY)
        if conn is None or state in (State.SYN_SENT, State.SYN_RECEIVED):
            return 0
        # Linux's tp->urg_data stands from the urgent pointer's arrival until the mark
        # is read past: tcpkit keeps that as pending / waiting / read.
        urgent = conn.urg_pending or conn.urg_data is not None or conn.urg_read
        if request == SIOCATMARK:
            return int(urgent and conn.urg_seq == conn.copied_seq)
        if request == SIOCOUTQ:  # Linux counts a queued FIN too (write_seq - snd_una)
            return conn.write_seq - conn.snd_una
        if request == SIOCOUTQNSD:
            return conn.write_seq - conn.snd_nxt
        if (urgent and not conn.config.oob_inline
                and conn.copied_seq <= conn.urg_seq < conn.rcv_nxt):
            return conn.urg_seq - conn.copied_seq
        unread = conn.rcv_nxt - conn.copied_seq
        if unread and conn.fin_seq is not None:
            unread -= 1
        return unread

    def shutdown(self, how: int) -> None:
        self._usable()
        if how not in (0, 1, 2):
            raise _err(errno.EINVAL)
        conn = self.conn
        if self.listener is not None and how in (0, 2):
            self._close_listener()
            return
        if conn is None or self.state is SockState.UNCONNECTED:
            raise _err(errno.ENOTCONN)
        if self.state is SockState.CONNECTING and not self.connecting() and \
                conn.state is not State.CLOSED:
            self.state = SockState.CONNECTED  # Linux inet_shutdown
        if conn.state in (State.CLOSED, State.TIME_WAIT):
            raise _err(errno.ENOTCONN)
        try:
            conn.shutdown(self.host.now, read=how in (0, 2), write=how in (1, 2))
        finally:
            self._after(conn)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.listener is not None:
            self._close_listener()
        conn = self.conn
        if self.deferred and self.attached is not None:
            self.deferred = False
            self.host.tcp.forget(self.attached)  # never started: nothing to send
            self._release_binding()
        elif conn is not None:
            conn.close(self.host.now)
            self._after(conn)
            attached = self.attached
            if attached is not None and attached.key not in self.host.tcp.conns:
                self._release_binding()
        else:
            self._release_binding()

    def _release_binding(self) -> None:
        if self.binding is not None:
            self.host.ports.release(self.binding)
            self.binding = None

    def _close_listener(self) -> None:
        """Closing a listener resets every connection not yet accepted (Linux
        ``inet_csk_listen_stop``)."""
        listener = self.listener
        if listener is None:
            return
        self.listener = None
        group = self.host.tcp.listeners.get((listener.address, listener.port), [])
        if listener in group:
            group.remove(listener)
            if not group:
                del self.host.tcp.listeners[(listener.address, listener.port)]
        listener.binding.listening = False
        now = self.host.now
        # Requests still half open vanish; connections the handshake completed (the
        # accept queue) are reset, as Linux inet_csk_listen_stop does.
        for attached in sorted(listener.syn_queue, key=lambda a: a.key):  # a set: order it
            attached.listener = None
            attached.conn.discard(now, "the listener closed before the handshake ended")
            self.host.tcp.service(attached)
        for attached in listener.accept_queue:
            attached.listener = None
            attached.conn.abort(now)
            self.host.tcp.service(attached)
        listener.syn_queue.clear()
        listener.accept_queue.clear()
        self.host.settle()

    def abort(self) -> None:
        """close() with SO_LINGER {1, 0}."""
        self.own_config().linger = 0.0
        self.close()

    # -- status ------------------------------------------------------------------------

    def take_error(self, *, soft: bool = False) -> int:
        """The pending error, cleared by reading it; ``soft`` for SO_ERROR, which also
        reports (and clears) an ICMP error kept as soft."""
        conn = self.conn
        err = conn.take_error(soft=soft) if conn is not None else 0
        if not err:
            err, self._error = self._error, 0
        return err

    def getsockname(self) -> Address:
        conn = self.conn
        if conn is not None:
            return conn.local
        if self.binding is not None:
            return self.binding.address, self.binding.port
        return WILDCARD, 0

    def getpeername(self) -> Address:
        """Linux ``inet_getname``: the peer is known from the moment the handshake is
        over (whether or not connect() was called again) until the connection is
        closed; a socket whose connection reached TIME_WAIT is closed itself."""
        conn = self.conn
        if conn is None or conn.state in _NO_PEER:
            raise _err(errno.ENOTCONN)
        return conn.remote

    def readable(self) -> bool:
        """poll() says POLLIN (or an error / hang-up a reader must see)."""
        if self.listener is not None:
            return bool(self.listener.accept_queue)
        conn = self.conn
        if conn is None:
            return self.closed
        if self.deferred or (self.state is SockState.CONNECTING and self.connecting()):
            return False
        return bool(conn.readable or conn.at_eof or conn.error or conn.rcv_shutdown
                    or conn.state is State.CLOSED or conn.urg_data is not None)

    def writable(self) -> bool:
        """poll() says POLLOUT (or an error a writer must see): Linux
        ``sk_stream_is_writeable``, the free space at least a third of what is queued."""
        conn = self.conn
        if conn is None or self.listener is not None:
            return self.listener is None and self.state is SockState.UNCONNECTED
        if conn.error or conn.snd_shutdown or conn.state is State.CLOSED:
            return True
        if conn.state not in (State.ESTABLISHED, State.CLOSE_WAIT):
            return False
        return conn.writeable

    def setsockopt(self, level: int, name: int, value: int | bytes) -> None:
        self._usable()
        options.setsockopt(self, level, name, value)
        conn = self.conn
        if conn is not None:
            self._after(conn)

    def getsockopt(self, level: int, name: int, buflen: int = 0) -> int | bytes:
        self._usable()
        return options.getsockopt(self, level, name, buflen)

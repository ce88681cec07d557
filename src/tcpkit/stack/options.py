"""Socket options of a TCP socket (``setsockopt``/``getsockopt``), as Linux reads and
checks them (``sk_setsockopt``, ``do_tcp_setsockopt``, ``do_tcp_getsockopt``).

Every option is a row of one table: level, name, how to store it in the socket's
:class:`~tcpkit.tcp.config.ConnectionConfig` (or on the socket), and how to read it
back. Values arrive as Python's socket module passes them: an int, or bytes for
structures (SO_LINGER's ``struct linger``). An option tcpkit does not know is
ENOPROTOOPT, a value out of Linux's range EINVAL, as the kernel answers.
"""

from __future__ import annotations

import errno
import os
import socket as _socket
import struct
from typing import TYPE_CHECKING

from tcpkit.stack.fastopen_cache import TFO_CLIENT_ENABLE
from tcpkit.stack.tcp_info import tcp_info
from tcpkit.tcp.config import TCP_DEFAULT_MSS, TCP_MIN_MSS
from tcpkit.tcp.state import State

if TYPE_CHECKING:
    from tcpkit.stack.sock import TcpSock

LINGER = struct.Struct("ii")
MAX_TCP_WINDOW = 32767  # Linux MAX_TCP_WINDOW: the largest TCP_MAXSEG accepted
MAX_TCP_KEEPIDLE = 32767
MAX_TCP_KEEPCNT = 127
MAX_TCP_SYNCNT = 127
TCP_USER_TIMEOUT = getattr(_socket, "TCP_USER_TIMEOUT", 18)
TCP_NOTSENT_LOWAT = getattr(_socket, "TCP_NOTSENT_LOWAT", 25)
TCP_INFO = getattr(_socket, "TCP_INFO", 11)
TCP_CONGESTION = getattr(_socket, "TCP_CONGESTION", 13)
TCP_LINGER2 = getattr(_socket, "TCP_LINGER2", 8)
TCP_SYNCNT = getattr(_socket, "TCP_SYNCNT", 7)
SO_REUSEPORT = getattr(_socket, "SO_REUSEPORT", 15)
SO_ZEROCOPY = getattr(_socket, "SO_ZEROCOPY", 60)
TCP_FASTOPEN_CONNECT = getattr(_socket, "TCP_FASTOPEN_CONNECT", 30)

SOL = _socket.SOL_SOCKET
TCP = _socket.IPPROTO_TCP


class NotModelled(OSError):
    """ENOPROTOOPT for an option Linux has and tcpkit does not: the kernel's answer to
    an unknown option, told apart so that tools can say "unsupported" instead."""


def _err(code: int, what: str = "") -> OSError:
    message = os.strerror(code)
    return OSError(code, f"{message} ({what})" if what else message)


def _not_modelled(what: str) -> NotModelled:
    return NotModelled(errno.ENOPROTOOPT, f"{os.strerror(errno.ENOPROTOOPT)} ({what} not "
                                          "modelled)")


def _int(value: int | bytes) -> int:
    if isinstance(value, bytes | bytearray):
        if len(value) < 4:
            raise _err(errno.EINVAL, "option value shorter than an int")
        return int(struct.unpack_from("i", value)[0])
    return int(value)


def _range(value: int, low: int, high: int, name: str) -> int:
    if not low <= value <= high:
        raise _err(errno.EINVAL, f"{name} must be within {low}..{high}")
    return value


def setsockopt(sock: TcpSock, level: int, name: int, value: int | bytes) -> None:
    """Set one option (see the module docstring)."""
    cfg = sock.own_config()
    conn = sock.conn
    now = sock.host.now
    if level == SOL:
        if name == _socket.SO_LINGER:
            if not isinstance(value, bytes | bytearray) or len(value) < LINGER.size:
                raise _err(errno.EINVAL, "SO_LINGER takes struct linger (8 bytes)")
            onoff, seconds = LINGER.unpack_from(value)
            cfg.linger = float(max(seconds, 0)) if onoff else None
            return
        number = _int(value)
        if name == _socket.SO_REUSEADDR:
            sock.reuseaddr = bool(number)
        elif name == SO_REUSEPORT:
            sock.reuseport = bool(number)
        elif name == _socket.SO_KEEPALIVE:
            if conn is not None:
                conn.set_keepalive(now, enabled=bool(number))
            else:
                cfg.keepalive = bool(number)
        elif name == _socket.SO_RCVBUF:
            cfg.rcvbuf = max(number, 0)
            if conn is not None:
                conn.rcvbuf = cfg.socket_rcvbuf
        elif name == _socket.SO_SNDBUF:
            cfg.sndbuf = max(number, 0)
            if conn is not None:
                conn.sndbuf = cfg.socket_sndbuf
        elif name == _socket.SO_OOBINLINE:
            cfg.oob_inline = bool(number)
        elif name == SO_ZEROCOPY:
            cfg.so_zerocopy = bool(_range(number, 0, 1, "SO_ZEROCOPY"))
        elif name in (_socket.SO_ERROR, _socket.SO_TYPE, _socket.SO_ACCEPTCONN):
            raise _err(errno.ENOPROTOOPT, "read-only option")
        else:
            raise _not_modelled(f"SOL_SOCKET option {name}")
        return
    if level != TCP:
        raise _not_modelled(f"level {level}")
    if name == TCP_CONGESTION:
        algorithm = value.rstrip(b"\0").decode() if isinstance(value, bytes) else str(value)
        if algorithm not in ("reno", "newreno"):
            raise _err(errno.ENOENT, f"congestion control {algorithm!r} not available")
        cfg.congestion_control = algorithm
        return
    number = _int(value)
    if name == _socket.TCP_NODELAY:
        if conn is not None:
            conn.set_nodelay(bool(number), now)
        else:
            cfg.nodelay = bool(number)
    elif name == _socket.TCP_CORK:
        if conn is not None:
            conn.set_cork(bool(number), now)
        else:
            cfg.cork = bool(number)
    elif name == _socket.TCP_KEEPIDLE:
        _range(number, 1, MAX_TCP_KEEPIDLE, "TCP_KEEPIDLE")
        _keepalive(sock, idle=float(number))
    elif name == _socket.TCP_KEEPINTVL:
        _range(number, 1, MAX_TCP_KEEPIDLE, "TCP_KEEPINTVL")
        _keepalive(sock, interval=float(number))
    elif name == _socket.TCP_KEEPCNT:
        _range(number, 1, MAX_TCP_KEEPCNT, "TCP_KEEPCNT")
        _keepalive(sock, count=number)
    elif name == TCP_USER_TIMEOUT:
        if number < 0:
            raise _err(errno.EINVAL, "TCP_USER_TIMEOUT must not be negative")
        cfg.user_timeout = number / 1000
    elif name == TCP_NOTSENT_LOWAT:
        cfg.user_notsent_lowat = number & 0xFFFFFFFF
    elif name == _socket.TCP_MAXSEG:
        if number and not TCP_MIN_MSS <= number <= MAX_TCP_WINDOW:
            raise _err(errno.EINVAL, f"TCP_MAXSEG must be 0 or {TCP_MIN_MSS}..{MAX_TCP_WINDOW}")
        cfg.user_mss = number
    elif name == TCP_SYNCNT:
        cfg.syn_retries = _range(number, 1, MAX_TCP_SYNCNT, "TCP_SYNCNT")
    elif name == TCP_FASTOPEN_CONNECT:
        _range(number, 0, 1, "TCP_FASTOPEN_CONNECT")
        if not sock.host.sysctl["net.ipv4.tcp_fastopen"] & TFO_CLIENT_ENABLE:
            raise _err(errno.EOPNOTSUPP, "net.ipv4.tcp_fastopen does not enable clients")
        if conn is not None or sock.listener is not None:
            raise _err(errno.EINVAL, "TCP_FASTOPEN_CONNECT only before connect()")
        cfg.fastopen_connect = bool(number)
    elif name == TCP_LINGER2:
        cfg.fin_timeout = float(number) if number > 0 else sock.host.sysctl.connection.fin_timeout
    else:
        raise _not_modelled(f"IPPROTO_TCP option {name}")


def _keepalive(sock: TcpSock, **values: float) -> None:
    conn = sock.conn
    if conn is not None:
        conn.set_keepalive(sock.host.now, **values)  # type: ignore[arg-type]
        return
    cfg = sock.own_config()
    if "idle" in values:
        cfg.keepalive_time = values["idle"]
    if "interval" in values:
        cfg.keepalive_intvl = values["interval"]
    if "count" in values:
        cfg.keepalive_probes = int(values["count"])


def getsockopt(sock: TcpSock, level: int, name: int, buflen: int = 0) -> int | bytes:
    """Read one option back, as Linux reports it (SO_RCVBUF doubled, TCP_MAXSEG the
    current MSS once connected, SO_ERROR cleared by reading)."""
    cfg = sock.config
    conn = sock.conn
    if level == SOL:
        if name == _socket.SO_LINGER:
            data = LINGER.pack(cfg.linger is not None, int(cfg.linger or 0))
            return data[:buflen] if buflen else data
        values = {
            _socket.SO_REUSEADDR: int(sock.reuseaddr),
            SO_REUSEPORT: int(sock.reuseport),
            _socket.SO_KEEPALIVE: int(cfg.keepalive),
            _socket.SO_RCVBUF: conn.rcvbuf if conn is not None else cfg.socket_rcvbuf,
            _socket.SO_SNDBUF: conn.sndbuf if conn is not None else cfg.socket_sndbuf,
            _socket.SO_OOBINLINE: int(cfg.oob_inline),
            SO_ZEROCOPY: int(cfg.so_zerocopy),
            _socket.SO_TYPE: _socket.SOCK_STREAM,
            _socket.SO_ACCEPTCONN: int(sock.listener is not None),
        }
        if name == _socket.SO_ERROR:
            return sock.take_error(soft=True)
        if name not in values:
            raise _not_modelled(f"SOL_SOCKET option {name}")
        return _sized(values[name], buflen)
    if level != TCP:
        raise _not_modelled(f"level {level}")
    if name == TCP_INFO:
        data = tcp_info(sock)
        return data[:buflen] if buflen else data
    if name == TCP_CONGESTION:
        data = cfg.congestion_control.encode().ljust(16, b"\0")
        return data[:buflen] if buflen else data
    if name == _socket.TCP_MAXSEG:
        if conn is not None and conn.state not in (State.CLOSED, State.LISTEN):
            value = conn.mss_cache
        else:
            value = cfg.user_mss or TCP_DEFAULT_MSS
        return _sized(value, buflen)
    values = {
        _socket.TCP_NODELAY: int(cfg.nodelay),
        _socket.TCP_CORK: int(cfg.cork),
        _socket.TCP_KEEPIDLE: int(cfg.keepalive_time),
        _socket.TCP_KEEPINTVL: int(cfg.keepalive_intvl),
        _socket.TCP_KEEPCNT: cfg.keepalive_probes,
        TCP_USER_TIMEOUT: round(cfg.user_timeout * 1000),
        TCP_NOTSENT_LOWAT: cfg.user_notsent_lowat,
        TCP_SYNCNT: cfg.syn_retries,
        TCP_LINGER2: int(cfg.fin_timeout),
        TCP_FASTOPEN_CONNECT: int(cfg.fastopen_connect),
    }
    if name not in values:
        raise _not_modelled(f"IPPROTO_TCP option {name}")
    return _sized(values[name], buflen)


def _sized(value: int, buflen: int) -> int | bytes:
    return struct.pack("i", value)[:buflen] if buflen else value

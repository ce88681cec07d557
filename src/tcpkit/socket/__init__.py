"""A drop-in for the stdlib ``socket`` module, for TCP over IPv4, on tcpkit hosts.

``import tcpkit.socket as socket`` and a program written for the stdlib runs unchanged:
the constants, exception classes and helper functions are the stdlib's own; ``socket``,
``create_connection`` and ``create_server`` make TCP sockets on the current tcpkit host
(the built-in real-time loopback host, or the host of the simulated actor running the
code). Names are resolved only for ``localhost`` and IPv4 literals: tcpkit has no DNS.
"""

from __future__ import annotations

import socket as _stdlib
from typing import Any

from tcpkit.socket.tcp_socket import socket

# Everything public of the stdlib module that is data or an exception: constants,
# AddressFamily, SocketKind, error, herror, gaierror, timeout, has_ipv6 ...
for _name in dir(_stdlib):
    if _name.isupper() or _name in ("AddressFamily", "SocketKind", "MsgFlag", "AddressInfo",
                                    "herror", "has_ipv6"):
        globals()[_name] = getattr(_stdlib, _name)
del _name

# Stdlib functions that do not create sockets work as they are.
getdefaulttimeout = _stdlib.getdefaulttimeout
setdefaulttimeout = _stdlib.setdefaulttimeout
inet_aton = _stdlib.inet_aton
inet_ntoa = _stdlib.inet_ntoa
inet_pton = _stdlib.inet_pton
inet_ntop = _stdlib.inet_ntop
htons = _stdlib.htons
ntohs = _stdlib.ntohs
htonl = _stdlib.htonl
ntohl = _stdlib.ntohl
error = _stdlib.error
timeout = _stdlib.timeout
gaierror = _stdlib.gaierror
SocketType = socket


def gethostname() -> str:
    from tcpkit.socket import runtime  # noqa: PLC0415
    return runtime.current()[1].name


def _resolve(host: str | None) -> str:
    if host in (None, "", "localhost"):
        return "127.0.0.1" if host in (None, "localhost") else "0.0.0.0"
    assert host is not None
    try:
        _stdlib.inet_aton(host)
    except OSError:
        raise _stdlib.gaierror(_stdlib.EAI_NONAME,
                               "Name or service not known (tcpkit has no DNS)") from None
    return host


def getaddrinfo(host: str | None, port: int | str | None, family: int = 0, type: int = 0,
                proto: int = 0, flags: int = 0) -> list[tuple[Any, ...]]:
    """IPv4 literals and ``localhost`` only, as TCP (what create_connection needs)."""
    if family not in (0, _stdlib.AF_INET):
        raise _stdlib.gaierror(_stdlib.EAI_FAMILY, "tcpkit supports AF_INET only")
    address = _resolve(host)
    number = int(port) if port not in (None, "") else 0
    return [(_stdlib.AddressFamily.AF_INET, _stdlib.SocketKind.SOCK_STREAM,
             _stdlib.IPPROTO_TCP, "", (address, number))]


def create_connection(address: tuple[str, int], timeout: Any = _stdlib._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                      source_address: tuple[str, int] | None = None, *,
                      all_errors: bool = False) -> socket:
    """Connect to ``address`` and return the socket (stdlib semantics)."""
    del all_errors
    host, port = address
    sock = socket()
    try:
        if timeout is not _stdlib._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
            sock.settimeout(timeout)
        if source_address:
            sock.bind(source_address)
        sock.connect((_resolve(host), port))
    except BaseException:
        sock.close()
        raise
    return sock


def create_server(address: tuple[str, int], *, family: int = _stdlib.AF_INET,
                  backlog: int | None = None, reuse_port: bool = False,
                  dualstack_ipv6: bool = False) -> socket:
    """A listening socket bound to ``address`` (SO_REUSEADDR set, as the stdlib does
    on POSIX)."""
    if family != _stdlib.AF_INET or dualstack_ipv6:
        raise ValueError("tcpkit.socket.create_server supports AF_INET only")
    sock = socket()
    try:
        sock.setsockopt(_stdlib.SOL_SOCKET, _stdlib.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(_stdlib.SOL_SOCKET, _stdlib.SO_REUSEPORT, 1)
        host, port = address
        sock.bind((_resolve(host) if host else "0.0.0.0", port))
        if backlog is None:
            sock.listen()
        else:
            sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def has_dualstack_ipv6() -> bool:
    return False


__all__ = ["create_connection", "create_server", "getaddrinfo", "socket"]

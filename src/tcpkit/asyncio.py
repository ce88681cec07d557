"""asyncio streams over tcpkit: ``open_connection`` and ``start_server`` with the
signatures of :mod:`asyncio`'s, returning its own ``StreamReader``/``StreamWriter`` and
``Server``.

The sockets are ``tcpkit.socket`` sockets of the current host (the built-in real-time
loopback host unless the caller chose another); the event loop watches them through the
real descriptor their ``fileno()`` returns and calls their ``send``/``recv``/``accept``
methods, so asyncio's transports, flow control and SSL layer work unchanged. Only the
real-time runtime updates those descriptors: a simulated network has its own clock and
runs blocking actors instead.
"""

from __future__ import annotations

import asyncio as _asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from tcpkit import socket as _socket

_LIMIT = 2 ** 16  # asyncio.streams._DEFAULT_LIMIT

ClientConnected = Callable[[_asyncio.StreamReader, _asyncio.StreamWriter],
                           Awaitable[None] | None]


def _address(host: str | None, port: int | str | None) -> tuple[str, int]:
    return _socket.getaddrinfo(host, port)[0][4]  # type: ignore[no-any-return]


async def open_connection(host: str | None = None, port: int | str | None = None, *,
                          limit: int = _LIMIT, local_addr: tuple[str, int] | None = None,
                          **kwds: Any) -> tuple[_asyncio.StreamReader,
                                                _asyncio.StreamWriter]:
    """Connect to ``host:port`` over tcpkit (asyncio.open_connection's contract; the
    remaining keywords, such as ``ssl``, go to it)."""
    loop = _asyncio.get_running_loop()
    sock = _socket.socket()
    try:
        sock.setblocking(False)
        if local_addr is not None:
            sock.bind(local_addr)
        await loop.sock_connect(sock, _address(host, port))  # type: ignore[arg-type]
    except BaseException:
        sock.close()
        raise
    return await _asyncio.open_connection(sock=sock, limit=limit,
                                          **kwds)


async def start_server(client_connected_cb: ClientConnected, host: str | None = None,
                       port: int | str | None = None, *, limit: int = _LIMIT,
                       backlog: int = 100, reuse_address: bool = True,
                       reuse_port: bool = False, **kwds: Any) -> _asyncio.Server:
    """Listen on ``host:port`` over tcpkit (asyncio.start_server's contract: SO_REUSEADDR
    by default, backlog 100; ``host`` None or "" means every address)."""
    sock = _socket.socket()
    try:
        sock.setblocking(False)
        if reuse_address:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)  # type: ignore[attr-defined]
        if reuse_port:
            sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEPORT, 1)  # type: ignore[attr-defined]
        sock.bind(_address(host or "", port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return await _asyncio.start_server(client_connected_cb, sock=sock,
                                       limit=limit, backlog=backlog, **kwds)


__all__ = ["open_connection", "start_server"]

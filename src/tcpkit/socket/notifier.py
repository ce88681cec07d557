"""A real file descriptor that mirrors a tcpkit socket's readiness, so that ``select``,
``selectors`` and asyncio's ``add_reader``/``add_writer`` can watch tcpkit sockets.

It is one end of a kernel socketpair: a byte waiting from the other end makes it
readable exactly while the tcpkit socket is; filling its own small send buffer makes it
unwritable exactly while the tcpkit socket is. The runtime calls :meth:`Notifier.update`
after every change; the bytes themselves mean nothing.
"""

from __future__ import annotations

import contextlib
import socket as _stdlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tcpkit.socket.runtime import Runtime
    from tcpkit.stack.sock import TcpSock

_FILL = b"\0" * 65536


class Notifier:
    """The descriptor behind ``tcpkit.socket.socket.fileno()``."""

    def __init__(self, runtime: Runtime, sock: TcpSock) -> None:
        self._runtime = runtime
        self._sock = sock
        self._ours, self._theirs = _stdlib.socketpair()
        for end in (self._ours, self._theirs):
            end.setblocking(False)
        self._ours.setsockopt(_stdlib.SOL_SOCKET, _stdlib.SO_SNDBUF, 1)
        self._readable = False
        self._writable = True
        listeners = getattr(runtime, "listeners", None)
        if listeners is not None:
            listeners.append(self.update)
        with runtime.lock:
            self.update()

    def fileno(self) -> int:
        return self._ours.fileno()

    def update(self) -> None:
        # select() counts POLLERR as readable (Linux POLLIN_SET): the error queue too.
        readable = self._sock.readable() or self._sock.error_queued()
        writable = self._sock.writable()
        if readable and not self._readable:
            self._theirs.send(b"!")
        elif not readable and self._readable:
            with contextlib.suppress(BlockingIOError):
                while self._ours.recv(4096):
                    pass
        self._readable = readable
        if writable and not self._writable:
            with contextlib.suppress(BlockingIOError):
                while self._theirs.recv(65536):
                    pass
        elif not writable and self._writable:
            with contextlib.suppress(BlockingIOError):
                while True:
                    self._ours.send(_FILL)
        self._writable = writable

    def close(self) -> None:
        listeners = getattr(self._runtime, "listeners", None)
        if listeners is not None and self.update in listeners:
            listeners.remove(self.update)
        self._ours.close()
        self._theirs.close()

"""``tcpkit.socket.socket``: the stdlib socket class's TCP surface on a tcpkit host.

Blocking, timeouts and non-blocking mode work as in CPython's ``socket`` module
(``settimeout(None)`` blocks, ``settimeout(0)`` is non-blocking and raises
``BlockingIOError``, a positive timeout raises ``TimeoutError("timed out")``), with
time measured by the runtime's clock: virtual in a simulation, real otherwise. The
errno of every failure is the host's (:mod:`tcpkit.stack.sock`), raised as the stdlib's
own exception classes.
"""

from __future__ import annotations

import errno
import io
import os
import socket as _stdlib
import struct
from collections.abc import Callable
from typing import Any, TypeVar

from tcpkit.socket import runtime as _runtime
from tcpkit.stack.sock import TcpSock
from tcpkit.tcp.zerocopy import SO_EE_ORIGIN_ZEROCOPY

_T = TypeVar("_T")
_UNSET: Any = object()

MSG_ZEROCOPY = getattr(_stdlib, "MSG_ZEROCOPY", 0x4000000)
MSG_FASTOPEN = getattr(_stdlib, "MSG_FASTOPEN", 0x20000000)
# struct sock_extended_err: ee_errno, ee_origin, ee_type, ee_code, ee_pad, ee_info, ee_data.
EXTENDED_ERR = struct.Struct("IBBBBII")
_SOCKADDR_IN_SIZE = 16
_CMSG_HEADER = 16  # CMSG_LEN(0) on 64-bit Linux
IP_RECVERR = getattr(_stdlib, "IP_RECVERR", 11)


class socket:  # noqa: N801 (the stdlib's name)
    """A TCP socket on a tcpkit host; see the module docstring."""

    def __init__(self, family: int = _stdlib.AF_INET, type: int = _stdlib.SOCK_STREAM,
                 proto: int = 0, fileno: int | None = None, *,
                 _sock: TcpSock | None = None) -> None:
        if fileno is not None:
            raise OSError(errno.EINVAL, "tcpkit sockets cannot wrap a kernel descriptor")
        if family != _stdlib.AF_INET:
            raise OSError(errno.EAFNOSUPPORT, "tcpkit.socket supports AF_INET only")
        base_type = type & ~(getattr(_stdlib, "SOCK_NONBLOCK", 0) | getattr(
            _stdlib, "SOCK_CLOEXEC", 0))
        if base_type != _stdlib.SOCK_STREAM or proto not in (0, _stdlib.IPPROTO_TCP):
            raise OSError(errno.EPROTONOSUPPORT, "tcpkit.socket supports TCP only")
        self._runtime, self._host = _runtime.current()
        with self._runtime.lock:
            self._sock = _sock if _sock is not None else self._host.socket()
        self.family = _stdlib.AddressFamily.AF_INET
        self.type = _stdlib.SocketKind.SOCK_STREAM
        self.proto = _stdlib.IPPROTO_TCP
        self._timeout: float | None = _stdlib.getdefaulttimeout()
        if type & getattr(_stdlib, "SOCK_NONBLOCK", 0):
            self._timeout = 0.0
        self._closed = False  # close() was called
        self._released = False  # ... and no makefile() object holds it any more
        self._io_refs = 0
        self._notifier: Any = None

    # -- plumbing ----------------------------------------------------------------------

    def __repr__(self) -> str:
        state = "closed" if self._released else self._sock.tcp_state.name
        return (f"<tcpkit.socket.socket {state}, family=AF_INET, type=SOCK_STREAM, "
                f"laddr={self._sock.getsockname()}>")

    def __enter__(self) -> socket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, attempt: Callable[[], _T], ready: Callable[[], bool],
              timeout: Any = _UNSET) -> _T:
        """Try ``attempt``; while it would block, wait for ``ready`` (blocking mode),
        up to the timeout, or raise at once (non-blocking)."""
        if self._released:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        timeout = self._timeout if timeout is _UNSET else timeout
        runtime = self._runtime
        with runtime.lock:
            end = None if timeout is None else runtime.time() + timeout
            try:
                while True:
                    try:
                        return attempt()
                    except BlockingIOError as exc:
                        code = exc.errno or errno.EAGAIN
                        if code == errno.EINPROGRESS or timeout == 0:
                            raise BlockingIOError(code, os.strerror(code)) from None
                        remaining = None if end is None else end - runtime.time()
                        if (remaining is not None and remaining <= 0) or \
                                not runtime.wait(ready, remaining):
                            raise TimeoutError("timed out") from None
            finally:
                runtime.changed()

    # -- timeouts ----------------------------------------------------------------------

    def settimeout(self, value: float | None) -> None:
        if value is not None:
            value = float(value)
            if value < 0:
                raise ValueError("Timeout value out of range")
        self._timeout = value

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    def getblocking(self) -> bool:
        return self._timeout != 0.0

    # -- addresses and connections -----------------------------------------------------

    def bind(self, address: tuple[str, int]) -> None:
        self._call(lambda: self._sock.bind(address), lambda: True, 0)

    def listen(self, backlog: int = min(_stdlib.SOMAXCONN, 128)) -> None:
        self._call(lambda: self._sock.listen(backlog), lambda: True, 0)

    def accept(self) -> tuple[socket, tuple[str, int]]:
        child, address = self._call(self._sock.accept, self._sock.readable)
        sock = socket(_sock=child)
        sock._runtime, sock._host = self._runtime, self._host
        if _stdlib.getdefaulttimeout() is None and self._timeout is not None:
            sock._timeout = None  # like CPython: accepted sockets block
        return sock, address

    def connect(self, address: tuple[str, int]) -> None:
        sock = self._sock
        try:
            self._call(lambda: sock.connect(address), lambda: True, 0)
            return
        except BlockingIOError:
            if self._timeout == 0:
                raise
        self._call(self._wait_connected, lambda: not sock.connecting())

    def _wait_connected(self) -> None:
        if self._sock.connecting():
            raise BlockingIOError(errno.EAGAIN, "connecting")
        self._sock.finish_connect()

    def connect_ex(self, address: tuple[str, int]) -> int:
        try:
            self.connect(address)
        except OSError as exc:
            if exc.errno is None:
                raise
            return exc.errno
        return 0

    def getsockname(self) -> tuple[str, int]:
        self._check_open()
        return self._sock.getsockname()

    def getpeername(self) -> tuple[str, int]:
        self._check_open()
        return self._sock.getpeername()

    def _check_open(self) -> None:
        if self._released:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    # -- data --------------------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview, flags: int = 0) -> int:
        data = _bytes_like(data)
        if flags & MSG_FASTOPEN or self._sock.deferred:
            return self._send_fastopen(data, flags, None)
        more = bool(flags & getattr(_stdlib, "MSG_MORE", 0x8000))
        oob = bool(flags & _stdlib.MSG_OOB)
        eor = bool(flags & _stdlib.MSG_EOR)
        zerocopy = bool(flags & MSG_ZEROCOPY)
        timeout = self._dontwait(flags)
        return self._call(lambda: self._sock.send(data, more=more, oob=oob, eor=eor,
                                                  zerocopy=zerocopy),
                          self._sock.writable, timeout)

    def sendto(self, data: bytes | bytearray | memoryview, flags_or_address: Any,
               address: Any = _UNSET) -> int:
        """As the stdlib's. TCP ignores the address unless the call opens the connection
        with Fast Open (MSG_FASTOPEN, ``tcp_sendmsg_fastopen``)."""
        flags = 0 if address is _UNSET else int(flags_or_address)
        address = flags_or_address if address is _UNSET else address
        data = _bytes_like(data)
        if flags & MSG_FASTOPEN or self._sock.deferred:
            return self._send_fastopen(data, flags, address)
        return self.send(data, flags)

    def _send_fastopen(self, data: bytes | bytearray | memoryview, flags: int,
                       address: Any) -> int:
        """Open the connection with this write (see ``TcpSock.send_fastopen``). Without
        blocking: what the SYN carried, or EINPROGRESS if nothing. Blocking: the
        handshake is waited for and the rest written as any write is."""
        view = memoryview(data).cast("B")
        waits = self._timeout != 0 and not flags & _stdlib.MSG_DONTWAIT
        try:
            taken = self._call(lambda: self._sock.send_fastopen(view, address), lambda: True, 0)
        except BlockingIOError:
            if not waits:
                raise
            taken = 0
        if not waits:
            return taken
        self._call(self._wait_connected, lambda: not self._sock.connecting())
        if taken < len(view):
            taken += self.send(view[taken:], flags & ~MSG_FASTOPEN)
        return taken

    def _dontwait(self, flags: int) -> Any:
        """MSG_DONTWAIT matters only to a blocking socket: with a timeout CPython
        polls for readiness before the call, whatever the flags say."""
        return 0 if flags & _stdlib.MSG_DONTWAIT and self._timeout is None else _UNSET

    def sendall(self, data: bytes | bytearray | memoryview, flags: int = 0) -> None:
        view = memoryview(_bytes_like(data)).cast("B")
        sent = 0
        while sent < len(view):
            sent += self.send(view[sent:], flags)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        peek = bool(flags & _stdlib.MSG_PEEK)
        oob = bool(flags & _stdlib.MSG_OOB)
        timeout = self._dontwait(flags)
        if flags & _stdlib.MSG_WAITALL and not peek and not oob:
            return self._recv_all(bufsize)
        if oob:
            return self._call(lambda: self._sock.recv(bufsize, peek=peek, oob=True),
                              self._sock.readable, timeout)
        # Joined outside the runtime's lock: the reader thread need not wait for the copy.
        return b"".join(self._call(lambda: self._sock.recv_pieces(bufsize, peek=peek),
                                   self._sock.readable, timeout))

    def _recv_all(self, bufsize: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < bufsize:
            data = self.recv(bufsize - len(chunks))
            if not data:
                break
            chunks += data
        return bytes(chunks)

    def recv_into(self, buffer: bytearray | memoryview, nbytes: int = 0,
                  flags: int = 0) -> int:
        view = memoryview(_bytes_like(buffer)).cast("B")
        if view.readonly:
            raise TypeError("recv_into() argument 'buffer' must be read-write bytes-like "
                            f"object, not {type(buffer).__name__}")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        if nbytes > len(view):
            raise ValueError("buffer too small for requested bytes")
        size = nbytes or len(view)
        if flags & (_stdlib.MSG_WAITALL | _stdlib.MSG_OOB):
            data = self.recv(size, flags)
            view[:len(data)] = data
            return len(data)
        peek = bool(flags & _stdlib.MSG_PEEK)
        pieces = self._call(lambda: self._sock.recv_pieces(size, peek=peek),
                            self._sock.readable, self._dontwait(flags))
        # One copy, from the queued segments into the caller's buffer, outside the lock.
        end = 0
        for piece in pieces:
            start, end = end, end + len(piece)
            view[start:end] = piece
        return end

    def recvmsg(self, bufsize: int, ancbufsize: int = 0,
                flags: int = 0) -> tuple[bytes, list[tuple[int, int, bytes]], int, None]:
        """As the stdlib's: (data, ancillary data, flags, address; None for TCP). With
        MSG_ERRQUEUE, the oldest MSG_ZEROCOPY notification: no data, one IP_RECVERR
        message holding ``struct sock_extended_err`` and an empty offender address, cut
        to ``ancbufsize`` (MSG_CTRUNC) as Linux's ``put_cmsg`` cuts it; EAGAIN when
        none waits, even on a blocking socket."""
        if bufsize < 0 or ancbufsize < 0:
            raise ValueError("negative buffer size in recvmsg()")
        if not flags & _stdlib.MSG_ERRQUEUE:
            return self.recv(bufsize, flags), [], 0, None
        first, last, code = self._call(self._sock.recv_error, lambda: True, 0)
        payload = EXTENDED_ERR.pack(0, SO_EE_ORIGIN_ZEROCOPY, 0, code, 0, first, last)
        message = payload + bytes(_SOCKADDR_IN_SIZE)
        room = ancbufsize - _CMSG_HEADER
        if room < 0:
            return b"", [], int(_stdlib.MSG_ERRQUEUE | _stdlib.MSG_CTRUNC), None
        truncated = _stdlib.MSG_CTRUNC if room < len(message) else 0
        ancillary = [(_stdlib.IPPROTO_IP, IP_RECVERR, message[:room])]
        return b"", ancillary, int(_stdlib.MSG_ERRQUEUE | truncated), None

    # -- ending ------------------------------------------------------------------------

    def shutdown(self, how: int) -> None:
        self._call(lambda: self._sock.shutdown(how), lambda: True, 0)

    def close(self) -> None:
        """Close; with makefile() objects still open, only once they are closed too
        (as CPython's socket does)."""
        self._closed = True
        if self._io_refs <= 0:
            self._release()

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        with self._runtime.lock:
            self._sock.close()
            self._runtime.changed()
        if self._notifier is not None:
            self._notifier.close()

    def detach(self) -> int:
        raise OSError(errno.EOPNOTSUPP, "a tcpkit socket has no kernel descriptor to detach")

    # -- options -----------------------------------------------------------------------

    def setsockopt(self, level: int, optname: int, value: int | bytes | None,
                   optlen: int | None = None) -> None:
        if value is None:
            raise OSError(errno.EINVAL, "tcpkit needs an option value")
        self._call(lambda: self._sock.setsockopt(level, optname, value), lambda: True, 0)

    def getsockopt(self, level: int, optname: int, buflen: int = 0) -> int | bytes:
        return self._call(lambda: self._sock.getsockopt(level, optname, buflen),
                          lambda: True, 0)

    def ioctl(self, request: int) -> int:
        """Linux's ioctl(2) on a TCP socket, which the stdlib socket lacks (on Linux it
        is ``fcntl.ioctl(sock, FIONREAD)``): SIOCINQ/FIONREAD, SIOCOUTQ, SIOCOUTQNSD,
        SIOCATMARK; another request raises OSError(ENOTTY)."""
        return self._call(lambda: self._sock.ioctl(request), lambda: True, 0)

    # -- descriptors and files ----------------------------------------------------------

    def fileno(self) -> int:
        """A real descriptor that is readable and writable when this socket is, for
        ``select``, ``selectors`` and asyncio's ``add_reader``."""
        if self._released:
            return -1
        if self._notifier is None:
            from tcpkit.socket.notifier import Notifier  # noqa: PLC0415
            self._notifier = Notifier(self._runtime, self._sock)
        return int(self._notifier.fileno())

    def makefile(self, mode: str = "r", buffering: int | None = None, *,
                 encoding: str | None = None, errors: str | None = None,
                 newline: str | None = None) -> Any:
        """A file object over this socket, as ``socket.socket.makefile`` builds it."""
        if not set(mode) <= {"r", "w", "b"}:
            raise ValueError(f"invalid mode {mode!r} (only r, w, b allowed)")
        writing = "w" in mode
        reading = "r" in mode or not writing
        raw = _stdlib.SocketIO(self, ("r" if reading else "") + ("w" if writing else ""))  # type: ignore[arg-type]
        self._io_refs += 1
        if buffering is None:
            buffering = -1
        if buffering < 0:
            buffering = io.DEFAULT_BUFFER_SIZE
        if buffering == 0:
            if "b" not in mode:
                raise ValueError("unbuffered streams must be binary")
            return raw
        buffer: io.BufferedIOBase
        if reading and writing:
            buffer = io.BufferedRWPair(raw, raw, buffering)
        elif reading:
            buffer = io.BufferedReader(raw, buffering)
        else:
            buffer = io.BufferedWriter(raw, buffering)
        if "b" in mode:
            return buffer
        text = io.TextIOWrapper(buffer, encoding, errors, newline)  # type: ignore[type-var]
        text.mode = mode  # type: ignore[misc]
        return text

    def _decref_socketios(self) -> None:
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._release()

    @property
    def timeout(self) -> float | None:
        return self._timeout


def _bytes_like(data: object) -> bytes | bytearray | memoryview:
    """What CPython's socket calls take: any bytes-like object, as bytes. Anything else
    (None, a str) is a TypeError before the connection is touched, as in CPython, whose
    argument parsing comes before the system call."""
    if isinstance(data, bytes | bytearray):
        return data
    try:
        view = memoryview(data)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(data).__name__}'") \
            from None
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")

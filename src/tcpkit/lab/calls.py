"""The call log: every socket call an actor makes, with its result or errno and when.

A scenario's actors get a socket module wrapped by :class:`LoggedSockets`; it hands out
:class:`LoggedSocket` objects that pass each call to the real socket (tcpkit's or the
kernel's: the log does not care) and write one :class:`Call`. Results are written so that
two runs of the same story compare equal: errno names instead of messages, peer addresses
without their ephemeral ports, long byte strings as their length and first bytes.
"""

from __future__ import annotations

import errno
import socket as _stdlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EPHEMERAL_MIN = 32768  # ports at or above are shown as "*" (they differ run to run)
SHOWN_BYTES = 24


@dataclass(frozen=True, slots=True)
class Call:
    """One socket call: who made it, when it started and returned (seconds since the
    story began), what was called and what came back."""

    actor: str
    start: float
    end: float
    call: str
    result: str

    def line(self) -> str:
        blocked = f"  (blocked {self.end - self.start:.3f} s)" if self.end - self.start >= 0.001 \
            else ""
        return f"{self.end:10.3f}  {self.actor:8} {self.call} -> {self.result}{blocked}"


def show_bytes(data: bytes | bytearray | memoryview) -> str:
    data = bytes(data)
    if len(data) <= SHOWN_BYTES:
        return repr(data)
    return f"{data[:SHOWN_BYTES]!r}... ({len(data)} bytes)"


def show_address(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        port = address[1] if address[1] < EPHEMERAL_MIN else "*"
        return f"{address[0]}:{port}"
    return repr(address)


def show_value(value: Any) -> str:
    if value is None:
        return "ok"
    if isinstance(value, bytes | bytearray | memoryview):
        return show_bytes(value)
    if isinstance(value, LoggedSocket):
        return value.label
    if isinstance(value, tuple):
        if len(value) == 2 and isinstance(value[0], LoggedSocket):
            return f"{value[0].label} from {show_address(value[1])}"
        if len(value) == 2 and isinstance(value[0], str):
            return show_address(value)
    return repr(value)


def show_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) and not exc.errno:
        return "timeout"
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


class CallLog:
    """The calls of every actor of one run, in the order they returned."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.origin = clock()
        self.calls: list[Call] = []
        # Numbered per actor: the kernel world's actors are threads that start together,
        # so one counter for all would name sockets in whichever order they ran.
        self._sockets: dict[str, int] = {}

    def now(self) -> float:
        return self._clock() - self.origin

    def label(self, actor: str) -> str:
        """The next socket name of ``actor`` (sock1, sock2, ...)."""
        self._sockets[actor] = self._sockets.get(actor, 0) + 1
        return f"sock{self._sockets[actor]}"

    def record(self, actor: str, text: str, call: Callable[[], Any],
               show: Callable[[Any], str] | None = None) -> Any:
        """Make ``call``, log it as ``text``, and return its result (or raise its error,
        as the program would have seen it); ``show`` writes the result (default
        :func:`show_value`)."""
        start = self.now()
        try:
            result = call()
        except OSError as exc:
            self.calls.append(Call(actor, start, self.now(), text, show_error(exc)))
            raise
        self.calls.append(Call(actor, start, self.now(), text, (show or show_value)(result)))
        return result


def _constant_names(prefixes: tuple[str, ...]) -> dict[int, str]:
    """The stdlib's names for option numbers (Linux values: both worlds share them)."""
    names: dict[int, str] = {}
    for name in dir(_stdlib):
        if name.startswith(prefixes) and isinstance(getattr(_stdlib, name), int):
            names.setdefault(getattr(_stdlib, name), name)
    return names


_LEVELS = {_stdlib.SOL_SOCKET: "SOL_SOCKET", _stdlib.IPPROTO_TCP: "IPPROTO_TCP"}
_OPTIONS = {_stdlib.SOL_SOCKET: _constant_names(("SO_",)),
            _stdlib.IPPROTO_TCP: _constant_names(("TCP_",))}
_SHUT = {_stdlib.SHUT_RD: "SHUT_RD", _stdlib.SHUT_WR: "SHUT_WR", _stdlib.SHUT_RDWR: "SHUT_RDWR"}


def _named(name: str, args: tuple[Any, ...]) -> list[str] | None:
    """setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1) rather than setsockopt(1, 9, 1)."""
    if name in ("setsockopt", "getsockopt") and len(args) >= 2 and args[0] in _LEVELS:
        option = _OPTIONS[args[0]].get(args[1], repr(args[1]))
        if option == "SO_LINGER" and len(args) == 3 and isinstance(args[2], bytes) \
                and len(args[2]) == 8:
            on, seconds = int.from_bytes(args[2][:4], "little"), int.from_bytes(
                args[2][4:], "little")
            return [_LEVELS[args[0]], option, f"linger(onoff={on}, seconds={seconds})"]
        rest = _arguments(args[2:])
        return [_LEVELS[args[0]], option, *([rest] if rest else [])]
    if name == "shutdown" and len(args) == 1 and args[0] in _SHUT:
        return [_SHUT[args[0]]]
    return None


def show_errno(value: Any) -> str:
    """connect_ex() and SO_ERROR give an errno as a number: 0, or its name."""
    if isinstance(value, int) and value:
        return errno.errorcode.get(value, str(value))
    return show_value(value)


def _shows_errno(name: str, args: tuple[Any, ...]) -> bool:
    return name == "connect_ex" or (name == "getsockopt" and args[:2] == (
        _stdlib.SOL_SOCKET, _stdlib.SO_ERROR))


def _arguments(args: tuple[Any, ...]) -> str:
    shown = []
    for arg in args:
        if isinstance(arg, bytes | bytearray | memoryview):
            shown.append(show_bytes(arg))
        elif isinstance(arg, tuple):
            shown.append(show_address(arg))
        else:
            shown.append(repr(arg))
    return ", ".join(shown)


class LoggedSocket:
    """A socket whose calls are written to a :class:`CallLog`."""

    def __init__(self, sock: Any, log: CallLog, actor: str, label: str,
                 opened: list[LoggedSocket]) -> None:
        self._sock = sock
        self._log = log
        self._opened = opened
        self.label = label
        self.actor = actor

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._sock, name)
        if not callable(attr) or name in ("fileno", "gettimeout", "getblocking"):
            return attr

        def call(*args: Any) -> Any:
            result = attr(*args)
            if name == "accept":  # the new socket is logged too
                conn, peer = result
                logged = LoggedSocket(conn, self._log, self.actor, self._log.label(self.actor),
                                      self._opened)
                self._opened.append(logged)
                return logged, peer
            return result

        def logged(*args: Any) -> Any:
            named = _named(name, args)
            shown = ", ".join(named) if named is not None else _arguments(args)
            return self._log.record(self.actor, f"{self.label}.{name}({shown})",
                                    lambda: call(*args),
                                    show_errno if _shows_errno(name, args) else None)
        return logged

    def __enter__(self) -> LoggedSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def raw(self) -> Any:
        """The socket itself (for calls the log should not show)."""
        return self._sock


class LoggedSockets:
    """A socket module for one actor: the constructors log, the constants pass."""

    def __init__(self, module: Any, log: CallLog, actor: str) -> None:
        self._module = module
        self._log = log
        self._actor = actor
        self.opened: list[LoggedSocket] = []  # closed when the actor's program ends

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def _wrap(self, text: str, make: Callable[[], Any]) -> LoggedSocket:
        label = self._log.label(self._actor)

        def call() -> LoggedSocket:
            logged = LoggedSocket(make(), self._log, self._actor, label, self.opened)
            self.opened.append(logged)
            return logged
        result: LoggedSocket = self._log.record(self._actor, f"{label} = {text}", call)
        return result

    def socket(self) -> LoggedSocket:
        return self._wrap("socket()", self._module.socket)

    def create_connection(self, address: tuple[str, int], *args: Any) -> LoggedSocket:
        return self._wrap(f"create_connection({show_address(address)})",
                          lambda: self._module.create_connection(address, *args))

    def create_server(self, address: tuple[str, int], **kwargs: Any) -> LoggedSocket:
        return self._wrap(f"create_server({show_address(address)})",
                          lambda: self._module.create_server(address, **kwargs))

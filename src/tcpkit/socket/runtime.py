"""Who waits, and on which clock: the runtimes a blocking socket call runs under.

A :class:`Runtime` owns one or more hosts, a lock around them and a way to wait until a
condition holds. Two exist:

* :class:`RealTimeRuntime`: hosts on ``time.monotonic``; a background thread runs their
  timers; any thread may call sockets; waiting is a ``threading.Condition``. The default
  runtime of ``tcpkit.socket`` is one of these with a single host that has only loopback.
* the simulator's (``tcpkit.links.sim``): a virtual clock; waiting parks the calling
  actor and lets the simulation run.

Which runtime and host a ``tcpkit.socket.socket()`` belongs to is the *current* one: a
context variable the simulator sets for each actor, else the default.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from tcpkit.stack.host import Host


class Runtime(Protocol):
    """What the socket layer needs from a driver."""

    @property
    def lock(self) -> contextlib.AbstractContextManager[Any]:
        """Held around every call into the hosts."""

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """With the lock held: return once ``ready()`` is true (True) or ``timeout``
        seconds passed (False)."""

    def changed(self) -> None:
        """Something a sleeper may wait for changed (a call was made on a host)."""

    def time(self) -> float:
        """The runtime's clock, in seconds."""


_current: contextvars.ContextVar[tuple[Runtime, Host] | None] = contextvars.ContextVar(
    "tcpkit_runtime", default=None)
_default: list[tuple[Runtime, Host]] = []  # at most one, made on first use
_default_lock = threading.Lock()


def current() -> tuple[Runtime, Host]:
    """The runtime and host new sockets belong to."""
    found = _current.get()
    if found is not None:
        return found
    return default()


def default() -> tuple[Runtime, Host]:
    """The built-in real-time host with loopback only, created on first use."""
    with _default_lock:
        if not _default:
            runtime = RealTimeRuntime()
            _default.append((runtime, runtime.add_host(Host("localhost"))))
        return _default[0]


def use(runtime: Runtime, host: Host) -> contextvars.Token[tuple[Runtime, Host] | None]:
    """Make ``host`` under ``runtime`` the current one (in this thread / context)."""
    return _current.set((runtime, host))


@contextlib.contextmanager
def using(runtime: Runtime, host: Host) -> Iterator[None]:
    """:func:`use` for the block only."""
    token = use(runtime, host)
    try:
        yield
    finally:
        _current.reset(token)


class _Lock:
    """The runtime's lock: a reentrant lock that, once let go, has the links write what
    they queued while it was held (:meth:`RealTimeRuntime.flush`). A write to a device
    runs the kernel's receive path inline; outside the lock, it no longer holds up the
    other thread, which can meanwhile process what arrived."""

    __slots__ = ("_flush", "_rlock")

    def __init__(self, rlock: threading.RLock, flush: Callable[[], None]) -> None:
        self._rlock = rlock
        self._flush = flush

    def __enter__(self) -> _Lock:
        self._rlock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._rlock.release()
        self._flush()


class RealTimeRuntime:
    """Hosts driven by the real clock (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)  # sleepers in socket calls
        # The timer thread sleeps apart, until _timer_until: a change wakes it only if
        # it brought a deadline before that, not on every segment (each wake-up costs
        # the lock and the GIL that the threads moving data need).
        self._timer_cond = threading.Condition(self._lock)
        self._timer_until: float | None = None  # None: not asleep
        self.hosts: list[Host] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.listeners: list[Callable[[], None]] = []  # run after every change
        # Links that queue their writes until the lock is let go (see _Lock).
        self.flushers: list[Callable[[], None]] = []
        self._outer = _Lock(self._lock, self.flush)

    @property
    def lock(self) -> _Lock:
        return self._outer

    def flush(self) -> None:
        """Have the links write what they queued."""
        for flush in self.flushers:
            flush()

    def time(self) -> float:
        return time.monotonic()

    def add_host(self, host: Host) -> Host:
        host.clock = time.monotonic
        with self.lock:
            self.hosts.append(host)
        self._start()
        return host

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tcpkit-timers",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                fired = False
                nearest: float | None = None
                for host in self.hosts:
                    deadline = host.next_deadline()
                    if deadline is None:
                        continue
                    if deadline <= now:
                        host.on_timer(now)
                        fired = True
                    elif nearest is None or deadline < nearest:
                        nearest = deadline
                if fired:
                    self.changed()
                    continue
                self._timer_until = math.inf if nearest is None else nearest
                self.flush()  # what the timers sent: the lock is only let go in wait()
                self._timer_cond.wait(None if nearest is None else nearest - now)
                self._timer_until = None  # awake: it looks at every deadline anyway

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._timer_cond.notify_all()

    def changed(self) -> None:
        self._cond.notify_all()
        until = self._timer_until
        if until is not None:
            for host in self.hosts:
                deadline = host.next_deadline()
                if deadline is not None and deadline < until:
                    self._timer_until = None  # woken once is enough
                    self._timer_cond.notify()
                    break
        for listener in self.listeners:
            listener()

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        if ready():
            return True
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                return ready()
            self.flush()  # what the call sent before it had to wait
            self._cond.wait(remaining)
            if ready():
                return True

"""A third world for the lab's stories: tcpkit on one side and the Linux kernel on the
other, joined by a real TUN device, in real time.

One side (``a``, the client, or ``b``, the server) is a tcpkit host on a
:class:`~tcpkit.socket.runtime.RealTimeRuntime` behind :class:`~tcpkit.links.tun.TunLink`
(plain packets, no offload: one packet per segment, as on the other worlds' cables); the
other is the kernel in the device's namespace. Each actor thread is told which side it
is on: a tcpkit actor's sockets are ``tcpkit.socket``'s on the tcpkit host, a kernel
actor's are the stdlib's inside the namespace; :attr:`TunWorld.sk` hands each the right
one. So the same story, unchanged, runs with tcpkit facing a real kernel.

Faults: unplugging takes tcpkit's interface down (nothing passes either way: a cut
cable); crash and reboot are tcpkit's :meth:`Host.crash`/``reboot`` on its side and the
kernel world's firewall on the kernel's; sysctls, ``ss`` and counters go to whichever
side is named. What needs a third host or a hand on the wire (a router, losing chosen
datagrams, a firewall answering with ICMP, injecting forged packets, extra routes) is
not in this world: such a story raises :class:`NotInThisWorld`.
"""

from __future__ import annotations

import contextlib
import socket as stdlib
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import tcpkit.socket
from tcpkit.lab.netns import Namespace
from tcpkit.lab.netstat import snapshot
from tcpkit.lab.worlds import (
    SS_FILTER_NAMES,
    A,
    B,
    kernel_counter,
    kernel_crash,
    kernel_reboot,
    kernel_sysctl,
    run_actors,
    ss_count,
)
from tcpkit.links.netns import TunNamespace, entered
from tcpkit.links.tun import TunHost
from tcpkit.socket import runtime as socket_runtime


class NotInThisWorld(Exception):
    """The story needs something the TUN world does not have."""


class TunWorld:
    """tcpkit on ``tcpkit_side`` ("a" or "b"), the kernel on the other (see the module
    docstring). ``name``: the namespace to create (deleted by :meth:`close`)."""

    server = B

    def __init__(self, name: str, tcpkit_side: str = "a") -> None:
        if tcpkit_side not in ("a", "b"):
            raise ValueError(f"tcpkit_side must be 'a' or 'b', not {tcpkit_side!r}")
        self.tcpkit_side = tcpkit_side
        ours, theirs = (A, B) if tcpkit_side == "a" else (B, A)
        self.tun = TunHost(TunNamespace(name, kernel_address=f"{theirs}/24"),
                           address=f"{ours}/24", offload=False)
        self.ns = Namespace(name)
        self.runtime, self.host, self.link = self.tun.runtime, self.tun.host, self.tun.link
        self._where = threading.local()
        self.sk = self._dispatching_module()
        self._actors: list[tuple[str, Callable[[], None]]] = []
        self._kept: list[tuple[str, Any]] = []

    def _dispatching_module(self) -> types.ModuleType:
        """A socket module that is tcpkit's in tcpkit's actors and the stdlib's in the
        kernel's (PEP 562: a module's ``__getattr__``)."""
        module = types.ModuleType("tcpkit.lab.tun_world.sockets")

        def lookup(name: str) -> Any:
            side = getattr(self._where, "side", None)
            return getattr(tcpkit.socket if side == self.tcpkit_side else stdlib, name)

        module.__getattr__ = lookup  # type: ignore[method-assign]
        return module

    def _is_tcpkit(self, side: str) -> bool:
        return side == self.tcpkit_side

    def spawn(self, side: str, actor: Callable[[], None]) -> None:
        self._actors.append((side, actor))

    def run(self, timeout: float) -> None:
        run_actors(self._actors, self._enter, timeout, fatal=NotInThisWorld)

    @contextlib.contextmanager
    def _enter(self, side: str) -> Iterator[None]:
        """The actor's thread on its side: tcpkit's host current, or in the namespace."""
        self._where.side = side
        if self._is_tcpkit(side):
            with socket_runtime.using(self.runtime, self.host):
                yield
        else:
            with entered(self.ns.name):
                yield

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def unplug(self) -> None:
        with self.runtime.lock:
            self.link.interface.up = False

    def replug(self) -> None:
        with self.runtime.lock:
            self.link.interface.up = True

    def sysctl(self, side: str, name: str, value: object) -> None:
        if self._is_tcpkit(side):
            with self.runtime.lock:
                self.host.sysctl[name] = value
        else:
            kernel_sysctl(self.ns, name, value)

    def keep(self, sock: Any, side: str = "a") -> None:
        self._kept.append((side, sock))

    def _kernel_kept(self, side: str) -> list[Any]:
        return [sock for owner, sock in self._kept if owner == side]

    def crash(self, side: str) -> None:
        if self._is_tcpkit(side):
            with self.runtime.lock:
                self.host.crash()
        else:
            kernel_crash(self.ns, self._kernel_kept(side))

    def reboot(self, side: str) -> None:
        if self._is_tcpkit(side):
            with self.runtime.lock:
                self.host.reboot()
        else:
            kernel_reboot(self.ns, self._kernel_kept(side))

    def count_sockets(self, side: str, state: str) -> int:
        if not self._is_tcpkit(side):
            return ss_count(self.ns, state)
        with self.runtime.lock:
            rows = snapshot([self.host], self.host.now)
        wanted = SS_FILTER_NAMES.get(state.lower(), state.lower())
        return sum(1 for row in rows if row.state.lower() == wanted)

    def counter(self, side: str, name: str) -> int:
        if self._is_tcpkit(side):
            return self.host.counters[name]
        return kernel_counter(self.ns, name)

    def reject(self, kind: str | None) -> None:
        raise NotInThisWorld("a firewall answering with ICMP")

    def inject(self, side: str, packets: list[bytes]) -> None:
        raise NotInThisWorld("forged packets put on the cable")

    def route(self, side: str, network: str, via: str) -> None:
        raise NotInThisWorld("a route through a third host")

    def lose(self, length: int, times: int) -> None:
        raise NotInThisWorld("losing chosen datagrams")

    def set_router_mtu(self, mtu: int) -> None:
        raise NotInThisWorld("a router")

    def close(self) -> None:
        for side, sock in self._kept:
            if not self._is_tcpkit(side) and sock.fileno() >= 0:
                sock.close()
        self.tun.close()

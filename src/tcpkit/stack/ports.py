"""Local ports: bind() conflicts and the choice of an ephemeral port (Linux
``inet_csk_get_port``, ``inet_bind_conflict``, ``__inet_hash_connect``).

Every socket holding a local port has a :class:`Binding`: its address (``0.0.0.0`` for
any), its SO_REUSEADDR / SO_REUSEPORT, whether it listens, and whether it is a
TIME_WAIT remnant. Two bindings of one port conflict when their addresses overlap (equal,
or either is the wildcard) unless Linux lets them share:

* both set SO_REUSEADDR and the one already there is not listening (a TIME_WAIT
  remnant keeps the SO_REUSEADDR of the socket it was);
* both set SO_REUSEPORT (same user: tcpkit has one).

Ports chosen by connect() are shared by any number of connections as long as each
4-tuple is unique (the host checks the tuple); bind() to port 0 takes a port nobody
holds. Linux searches the range from a keyed-hash offset, connect() on even ports first
and bind() on odd ones (so the two rarely compete); tcpkit does the same with the
host's seeded random generator.
"""

from __future__ import annotations

import errno
import itertools
import os
import random
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass

WILDCARD = "0.0.0.0"


@dataclass(slots=True, eq=False)
class Binding:
    """One holder of a local port."""

    address: str
    port: int
    reuseaddr: bool = False
    reuseport: bool = False
    listening: bool = False
    time_wait: bool = False
    by_connect: bool = False  # taken implicitly by connect(): shareable per 4-tuple


def _overlap(a: str, b: str) -> bool:
    return a == b or WILDCARD in (a, b)


def _shareable(new: Binding, old: Binding) -> bool:
    if new.reuseaddr and old.reuseaddr and not old.listening:
        return True
    return new.reuseport and old.reuseport


def _in_use(port: int) -> OSError:
    return OSError(errno.EADDRINUSE, f"{os.strerror(errno.EADDRINUSE)} (port {port})")


class PortTable:
    """Who holds which local port on one host."""

    __slots__ = ("_ports", "rng")

    def __init__(self, rng: random.Random) -> None:
        self._ports: dict[int, list[Binding]] = {}
        self.rng = rng

    def holders(self, port: int) -> list[Binding]:
        return self._ports.get(port, [])

    def conflict(self, binding: Binding) -> bool:
        return any(old is not binding and _overlap(binding.address, old.address)
                   and not _shareable(binding, old)
                   for old in self._ports.get(binding.port, ()))

    def bind(self, binding: Binding) -> None:
        """Hold ``binding.port``; OSError(EADDRINUSE) on a conflict."""
        if self.conflict(binding):
            raise _in_use(binding.port)
        self._ports.setdefault(binding.port, []).append(binding)

    def inherit(self, binding: Binding) -> None:
        """Hold a port without the conflict check: an accepted connection shares its
        listener's port (Linux ``__inet_inherit_port``)."""
        self._ports.setdefault(binding.port, []).append(binding)

    def release(self, binding: Binding) -> None:
        holders = self._ports.get(binding.port)
        if holders is None:
            return
        for i, held in enumerate(holders):
            if held is binding:
                del holders[i]
                break
        if not holders:
            del self._ports[binding.port]

    def _search(self, low: int, high: int, parity: int) -> Iterator[int]:
        """The ports of the range in Linux's order: from a random offset, the ports
        of ``parity`` first, then the others (ranges chained lazily, iterated in C)."""
        start = low + self.rng.randrange(high - low + 1)
        runs = []
        for want in (parity, 1 - parity):
            first = start + (start - want) % 2  # the first port >= start of that parity
            runs.append(range(first, high + 1, 2))
            runs.append(range(low + (low - want) % 2, first if first <= high else
                              high + 1, 2))
        return itertools.chain.from_iterable(runs)

    def bind_ephemeral(self, binding: Binding, port_range: tuple[int, int]) -> None:
        """bind() to port 0: any port of the range nobody holds (odd ones first)."""
        for port in self._search(*port_range, parity=1):
            binding.port = port
            if not self.conflict(binding):
                self._ports.setdefault(port, []).append(binding)
                return
        raise OSError(errno.EADDRINUSE, f"{os.strerror(errno.EADDRINUSE)} "
                      f"(no free port in {port_range[0]}-{port_range[1]})")

    def connect_ephemeral(self, binding: Binding, port_range: tuple[int, int],
                          tuple_free: Callable[[int], bool], busy: Container[int] = ()) -> None:
        """connect() without bind(): a port whose holders were all taken by connect()
        and for which this 4-tuple is free (``tuple_free(port)``), even ports first.
        ``busy`` holds ports known to be taken toward this destination: they are skipped
        without a look (the search stays fast when most of the range is in use).
        OSError(EADDRNOTAVAIL) when none is left, as Linux reports it."""
        binding.by_connect = True
        for port in itertools.filterfalse(busy.__contains__,
                                          self._search(*port_range, parity=0)):
            holders = self._ports.get(port)
            if holders and not all(h.by_connect or h.time_wait for h in holders):
                continue
            if tuple_free(port):
                binding.port = port
                self._ports.setdefault(port, []).append(binding)
                return
        raise OSError(errno.EADDRNOTAVAIL, f"{os.strerror(errno.EADDRNOTAVAIL)} (every port "
                      f"of {port_range[0]}-{port_range[1]} is in use for this destination)")

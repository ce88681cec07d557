"""A discrete-event network with a virtual clock: hosts, cables, a switch, seeded
faults, capture points, and actors that run plain blocking socket code.

Time jumps from event to event, so a two-hour keepalive story takes milliseconds.
Every random choice (faults, ports, ISN secrets) comes from generators seeded from the
network's seed, and actors run one at a time in a fixed order, so the same story with
the same seed gives the same packets, byte for byte.

Actors (the runtime model of DESIGN.md): each actor is a thread, but only the one
holding the baton runs. A blocking socket call that cannot complete parks its actor and
hands the baton back; when every actor is parked the scheduler pops the next event (a
packet delivery or a timer), advances the clock, and resumes the first actor whose call
can now go on. ``sleep()`` parks for a span of virtual time.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from tcpkit.socket import runtime as socket_runtime
from tcpkit.stack.host import Host
from tcpkit.stack.routes import Interface
from tcpkit.wire.capture import LINKTYPE_RAW
from tcpkit.wire.pcap import PcapWriter


class SimulationError(RuntimeError):
    """The story cannot go on: every actor waits for something that never comes."""


class ActorCancelled(BaseException):
    """Raised inside an actor still parked when its network is closed."""


@dataclass(slots=True)
class Faults:
    """What a cable does to each packet, per direction (probabilities in 0..1)."""

    loss: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0  # one random bit flipped
    reorder: float = 0.0  # held back by ``reorder_delay`` so later ones pass it
    reorder_delay: float = 0.010
    jitter: float = 0.0  # extra delay, uniform in 0..jitter
    drop: Callable[[bytes], bool] | None = None  # a filter: True drops the packet


@dataclass(slots=True, eq=False)
class _Port:
    """One end of a cable: the interface plugged in, and the direction's state."""

    interface: Interface
    host: Host
    busy_until: float = 0.0


@dataclass(slots=True, eq=False)
class Link:
    """A cable between two interfaces, or a switch joining several."""

    network: Network
    name: str
    delay: float
    bandwidth: float | None  # bytes per second; None: infinite
    queue_limit: int | None  # bytes waiting to be serialized before tail drop
    faults: Faults
    rng: random.Random
    ports: list[_Port] = field(default_factory=list)
    plugged: bool = True
    unplugged_end: _Port | None = None  # pulled out at one end only
    captures: list[PcapWriter] = field(default_factory=list)
    sent: int = 0
    dropped: int = 0

    def unplug(self, end: Host | Interface | None = None) -> None:
        """Pull the cable out, or only at ``end``'s side: then what that end sends never
        reaches the cable (nor a capture), and what others send is lost on arrival."""
        if end is None:
            self.plugged = False
            return
        ends = [p for p in self.ports if end is p.host or end is p.interface]
        if not ends:
            raise ValueError(f"{end!r} is not plugged into {self.name}")
        self.unplugged_end = ends[0]

    def replug(self) -> None:
        self.plugged = True
        self.unplugged_end = None

    def capture(self, stream: str | BinaryIO) -> PcapWriter:
        """Write every packet put on this link to ``stream`` as pcap (raw IPv4)."""
        writer = PcapWriter(stream, linktype=LINKTYPE_RAW, nanosecond=True)
        self.captures.append(writer)
        return writer

    def _owner(self, address: str, sender: _Port) -> _Port | None:
        for port in self.ports:
            if port is not sender and port.interface.address == address and \
                    port.interface.up and not port.host.down:
                return port
        return None

    def transmit_from(self, sender: _Port, packet: bytes, next_hop: str) -> None:
        net = self.network
        now = net.now
        if sender is self.unplugged_end:
            self.dropped += 1
            return
        for writer in self.captures:
            writer.write_ns(packet, round(now * 1e9))
        self.sent += 1
        target = self._owner(next_hop, sender)
        if target is self.unplugged_end:
            target = None
        faults = self.faults
        rng = self.rng
        if not self.plugged or target is None or (faults.drop and faults.drop(packet)) or \
                (faults.loss and rng.random() < faults.loss):
            self.dropped += 1
            return
        start = max(now, sender.busy_until)
        if self.bandwidth:
            if self.queue_limit is not None and \
                    (start - now) * self.bandwidth > self.queue_limit:
                self.dropped += 1
                return
            sender.busy_until = start + len(packet) / self.bandwidth
            start = sender.busy_until
        copies = 2 if faults.duplicate and rng.random() < faults.duplicate else 1
        for _ in range(copies):
            data = packet
            if faults.corrupt and rng.random() < faults.corrupt:
                bit = rng.randrange(len(packet) * 8)
                flipped = bytearray(packet)
                flipped[bit // 8] ^= 1 << (bit % 8)
                data = bytes(flipped)
            arrive = start + self.delay
            if faults.jitter:
                arrive += rng.uniform(0, faults.jitter)
            if faults.reorder and rng.random() < faults.reorder:
                arrive += faults.reorder_delay
            net.at(arrive, self._delivery(target, data))

    def _delivery(self, port: _Port, packet: bytes) -> Callable[[float], None]:
        return lambda _now: self._deliver(port, packet)

    def _deliver(self, port: _Port, packet: bytes) -> None:
        if self.plugged and port is not self.unplugged_end and port.interface.up \
                and not port.host.down:
            port.host.receive(packet, port.interface)

    def solicit_from(self, sender: _Port, address: str) -> None:
        """An ARP request: answered one round trip later if someone owns ``address``."""
        def request(_now: float) -> None:
            owner = self._owner(address, sender) if self.plugged else None
            if owner is not None:
                owner.host.neighbour_found(owner.interface, sender.interface.address)
                self.network.after(self.delay, answer)

        def answer(_now: float) -> None:
            if self.plugged and self._owner(address, sender) is not None:
                sender.host.neighbour_found(sender.interface, address)

        self.network.after(self.delay, request)


class _Transmit:
    """What an interface calls to send: bound to one port of one link."""

    __slots__ = ("link", "port")

    def __init__(self, link: Link, port: _Port) -> None:
        self.link = link
        self.port = port

    def __call__(self, packet: bytes, next_hop: str) -> None:
        self.link.transmit_from(self.port, packet, next_hop)

    def solicit(self, address: str) -> None:
        self.link.solicit_from(self.port, address)


class _NoLock(contextlib.AbstractContextManager[None]):
    """The socket layer's lock, for a runtime where one thread runs at a time (a real
    lock would stay held by a parked actor)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _Actor:
    __slots__ = ("cancelled", "deadline", "done", "error", "host", "index", "name", "ready",
                 "result", "resume", "thread", "timed_out")

    def __init__(self, index: int, name: str, host: Host) -> None:
        self.index = index
        self.name = name
        self.host = host
        self.resume = threading.Semaphore(0)
        self.thread: threading.Thread | None = None
        self.ready: Callable[[], bool] | None = None  # parked until this is true
        self.deadline: float | None = None  # ... or until this time
        self.done = False
        self.cancelled = False
        self.timed_out = False
        self.result: Any = None
        self.error: BaseException | None = None


class Network:
    """The simulated network (see the module docstring)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.now = 0.0
        self.rng = random.Random(seed)
        self.hosts: dict[str, Host] = {}
        self.links: list[Link] = []
        self._nolock = _NoLock()  # only the actor holding the baton runs: nothing to lock
        self._events: list[tuple[float, int, Callable[[float], None]]] = []
        self._order = itertools.count()
        self._actors: list[_Actor] = []
        self._baton = threading.Semaphore(0)
        self._local = threading.local()

    # -- building ----------------------------------------------------------------------

    def add_host(self, name: str, *addresses: str, mtu: int = 1500) -> Host:
        """A host with one interface per address (``eth0``, ``eth1``, ...)."""
        if name in self.hosts:
            raise ValueError(f"there is already a host named {name!r}")
        host = Host(name, seed=self.rng.randrange(1 << 62), clock=lambda: self.now)
        for i, address in enumerate(addresses):
            host.add_interface(f"eth{i}", address, mtu=mtu)
        self.hosts[name] = host
        return host

    def link(self, *interfaces: Interface | Host, delay: float = 0.001,
             bandwidth: float | None = None, queue_limit: int | None = None,
             faults: Faults | None = None, name: str | None = None) -> Link:
        """A cable between two interfaces (or a switch joining more). A host stands
        for its first non-loopback interface not yet plugged in."""
        link = Link(self, name or f"link{len(self.links)}", delay, bandwidth, queue_limit,
                    faults or Faults(), random.Random(self.rng.randrange(1 << 62)))
        for item in interfaces:
            host, interface = self._interface(item)
            port = _Port(interface, host)
            link.ports.append(port)
            interface.transmit = _Transmit(link, port)
        self.links.append(link)
        return link

    def _interface(self, item: Interface | Host) -> tuple[Host, Interface]:
        if isinstance(item, Host):
            for interface in item.interfaces.values():
                if not interface.loopback and not isinstance(interface.transmit, _Transmit):
                    return item, interface
            raise ValueError(f"{item.name} has no free interface to plug in")
        for host in self.hosts.values():
            if item in host.interfaces.values():
                return host, item
        raise ValueError("that interface belongs to no host of this network")

    # -- events ------------------------------------------------------------------------

    def at(self, when: float, callback: Callable[[float], None]) -> None:
        heapq.heappush(self._events, (max(when, self.now), next(self._order), callback))

    def after(self, delay: float, callback: Callable[[float], None]) -> None:
        self.at(self.now + delay, callback)

    def _next_time(self) -> float | None:
        times = [self._events[0][0]] if self._events else []
        times += [d for h in self.hosts.values() if not h.down
                  and (d := h.next_deadline()) is not None]
        times += [a.deadline for a in self._actors if not a.done and a.deadline is not None]
        return min(times) if times else None

    def _advance(self, when: float) -> None:
        self.now = max(self.now, when)
        events = self._events
        while events and events[0][0] <= self.now:
            _, _, callback = heapq.heappop(events)
            callback(self.now)
        for host in self.hosts.values():
            deadline = host.next_deadline()
            if deadline is not None and deadline <= self.now and not host.down:
                host.on_timer(self.now)

    # -- actors ------------------------------------------------------------------------

    def spawn(self, host: Host, function: Callable[..., Any], *args: Any,
              name: str | None = None) -> _Actor:
        """Run ``function(*args)`` as an actor on ``host``: its ``tcpkit.socket`` calls
        use that host and block in virtual time."""
        actor = _Actor(len(self._actors), name or str(getattr(function, "__name__", "actor")),
                       host)

        def body() -> None:
            actor.resume.acquire()
            self._local.actor = actor
            socket_runtime.use(self, host)
            try:
                if not actor.cancelled:
                    actor.result = function(*args)
            except ActorCancelled:
                pass
            except BaseException as exc:  # reported by run()
                actor.error = exc
            finally:
                actor.done = True
                self._baton.release()

        actor.thread = threading.Thread(target=body, name=f"actor-{actor.name}", daemon=True)
        actor.thread.start()
        self._actors.append(actor)
        return actor

    def _runnable(self) -> _Actor | None:
        for actor in self._actors:
            if actor.done:
                continue
            if actor.ready is None and actor.deadline is None:
                return actor  # not started, or resumed by a sleep that is over
            if actor.ready is not None and actor.ready():
                return actor
            if actor.deadline is not None and actor.deadline <= self.now:
                actor.timed_out = True
                return actor
        return None

    def _switch_to(self, actor: _Actor) -> None:
        actor.ready = None
        actor.deadline = None
        actor.resume.release()
        self._baton.acquire()

    # The socket layer's Runtime interface ----------------------------------------------

    def wait(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        actor: _Actor | None = getattr(self._local, "actor", None)
        if actor is None:
            raise RuntimeError("a simulated socket may only block inside an actor "
                               "(Network.spawn)")
        if ready():
            return True
        actor.ready = ready
        actor.deadline = None if timeout is None else self.now + timeout
        actor.timed_out = False
        self._baton.release()
        actor.resume.acquire()
        if actor.cancelled:
            raise ActorCancelled
        return not actor.timed_out or ready()

    @property
    def lock(self) -> _NoLock:
        return self._nolock

    def time(self) -> float:
        return self.now

    def changed(self) -> None:
        """Nothing to do: the scheduler re-checks every parked actor anyway."""

    def sleep(self, seconds: float) -> None:
        """Park the calling actor for ``seconds`` of virtual time."""
        self.wait(lambda: False, max(seconds, 0.0))

    # -- running -----------------------------------------------------------------------

    def run(self, until: float | None = None, *, max_events: int = 10_000_000,
            actors_only: bool = False) -> None:
        """Run until every actor has finished and nothing is pending (with
        ``actors_only``: as soon as every actor has finished, though timers are still
        armed), or until virtual time ``until``. An actor's exception is raised here."""
        for _ in range(max_events):
            actor = self._runnable()
            if actor is not None:
                self._switch_to(actor)
                if actor.error is not None:
                    error, actor.error = actor.error, None
                    raise error
                continue
            if actors_only and not self.unfinished():
                return
            when = self._next_time()
            if when is None or (until is not None and when > until):
                if until is not None:
                    self.now = max(self.now, until)
                    return
                waiting = self.unfinished()
                if waiting:
                    raise SimulationError(
                        f"at t={self.now:.6f} every actor waits forever: {', '.join(waiting)}")
                return
            self._advance(when)
        raise SimulationError(f"still busy after {max_events} steps at t={self.now:.6f}")

    def unfinished(self) -> list[str]:
        """The names of the actors that have not returned yet."""
        return [a.name for a in self._actors if not a.done]

    def close(self) -> None:
        """Cancel actors still parked (their threads end) and flush captures."""
        for actor in self._actors:
            if not actor.done:
                actor.cancelled = True
                self._switch_to(actor)
        for link in self.links:
            for writer in link.captures:
                writer.close()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def crash(self, host: Host) -> None:
        host.crash()

    def reboot(self, host: Host) -> None:
        host.reboot()


def sleep(seconds: float) -> None:
    """``time.sleep`` for actors: parks the current actor in virtual time (or sleeps
    for real outside a simulation)."""
    runtime, _ = socket_runtime.current()
    if isinstance(runtime, Network):
        runtime.sleep(seconds)
    else:
        import time  # noqa: PLC0415
        time.sleep(seconds)

"""Two TCP engines joined by an in-memory wire, under a virtual clock.

The smallest driver there is: no hosts, no IP, no sockets; segments go from one
:class:`~tcpkit.tcp.connection.Connection` to the other after a one-way delay, timers
fire in time order, and the clock jumps from event to event. A ``fault`` hook sees every
segment and decides its fate (deliver, drop, delay, duplicate), which is how tests inject
loss, reordering and corruption. Deterministic: the same calls and the same hook give
the same run.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.events import ConnectionEvent
from tcpkit.tcp.isn import HostSecrets
from tcpkit.tcp.state import State
from tcpkit.wire.capture import LINKTYPE_RAW, CapturedPacket
from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.ipv4 import PROTO_TCP, IPv4Header
from tcpkit.wire.tcp import TCPSegment
from tcpkit.wire.tcpdump import Formatter, TimeFormat

CLIENT = ("192.0.2.1", 40000)
SERVER = ("192.0.2.2", 80)

# A fault hook gets (time, sender name, segment) and returns the delays after which
# copies are delivered: [] drops it, [d] delivers one copy after d, [d1, d2] duplicates.
Fault = Callable[[float, str, TCPSegment], list[float]]


# A pending delivery: (time, order, receiver name, segment); tuples compare in C.
_Delivery = tuple[float, int, str, TCPSegment]


@dataclass(slots=True)
class Record:
    """One segment as it left its sender (the wire log)."""

    time: float
    sender: str
    segment: TCPSegment


class EnginePair:
    """A client and a server engine, ``a`` and ``b``, joined by a wire."""

    def __init__(
        self,
        client: ConnectionConfig | None = None,
        server: ConnectionConfig | None = None,
        *,
        delay: float = 0.005,
        fault: Fault | None = None,
    ) -> None:
        self.a = Connection(CLIENT, SERVER, client or ConnectionConfig(),
                            HostSecrets(b"client-secret".ljust(32, b".")))
        self.b = Connection(SERVER, CLIENT, server or ConnectionConfig(),
                            HostSecrets(b"server-secret".ljust(32, b".")))
        self.delay = delay
        self.fault = fault
        self.now = 0.0
        self.log: list[Record] = []
        self.events: dict[str, list[ConnectionEvent]] = {"a": [], "b": []}
        self._queue: list[_Delivery] = []
        self._order = itertools.count()

    def captured(self) -> list[CapturedPacket]:
        """The wire log as IPv4 packets (as a capture point on the wire would see them)."""
        packets = []
        for record in self.log:
            src, dst = (CLIENT, SERVER) if record.sender == "a" else (SERVER, CLIENT)
            ip = IPv4Header(src=src[0], dst=dst[0], protocol=PROTO_TCP)
            data = ip.packet(record.segment.build(
                pseudo_header(ip.src_packed, ip.dst_packed, PROTO_TCP)))
            packets.append(CapturedPacket(round(record.time * 1e9), data, len(data),
                                          LINKTYPE_RAW))
        return packets

    def trace(self, **options: object) -> list[str]:
        """The wire log as tcpdump prints it (``Formatter`` options pass through)."""
        formatter = Formatter(time_format=TimeFormat.EPOCH, **options)  # type: ignore[arg-type]
        return [formatter.line(p) for p in self.captured()]

    def conn(self, name: str) -> Connection:
        return self.a if name == "a" else self.b

    def collect(self) -> None:
        """Move what both engines produced onto the wire and into the event lists."""
        for name, peer in (("a", "b"), ("b", "a")):
            conn = self.conn(name)
            for seg in conn.segments_to_send():
                self.log.append(Record(self.now, name, seg))
                delays = self.fault(self.now, name, seg) if self.fault else [self.delay]
                for delay in delays:
                    heapq.heappush(self._queue, (self.now + delay, next(self._order), peer, seg))
            while (event := conn.next_event()) is not None:
                self.events[name].append(event)

    def next_time(self) -> float | None:
        times = [t for t in (self.a.next_deadline(), self.b.next_deadline()) if t is not None]
        if self._queue:
            times.append(self._queue[0][0])
        return min(times) if times else None

    def step(self) -> bool:
        """Advance to the next event and run it; False when nothing is left to do."""
        self.collect()
        when = self.next_time()
        if when is None:
            return False
        self.now = max(self.now, when)
        queue = self._queue
        while queue and queue[0][0] <= self.now:
            _, _, to, segment = heapq.heappop(queue)
            self.conn(to).on_segment(segment, self.now)
            self.collect()
        for conn in (self.a, self.b):
            deadline = conn.next_deadline()
            if deadline is not None and deadline <= self.now:
                conn.on_timer(self.now)
                self.collect()
        return True

    def run(self, until: float | None = None, *, steps: int = 1_000_000,
            stop: Callable[[], bool] | None = None) -> None:
        """Run until nothing is pending, virtual time ``until``, ``stop()`` is true, or
        ``steps`` events (a guard against a run that never settles)."""
        for _ in range(steps):
            self.collect()
            if stop is not None and stop():
                return
            when = self.next_time()
            if when is None or (until is not None and when > until):
                if until is not None:
                    self.now = max(self.now, until)
                return
            self.step()
        raise RuntimeError(f"still busy after {steps} events at t={self.now:.6f}")

    def call(self, name: str, method: str, *args: object, **kw: object) -> object:
        """A user call on ``a`` or ``b`` at the current virtual time (``now`` is passed
        for it); what it makes the engine send goes onto the wire."""
        try:
            return getattr(self.conn(name), method)(*args, self.now, **kw)
        finally:
            self.collect()

    def transfer(self, data: bytes, *, close: bool = True, chunk: int = 1 << 16,
                 until: float | None = None) -> bytes:
        """Send ``data`` from ``a`` to ``b`` as fast as the connection allows, ``b``
        reading everything as it arrives; with ``close``, ``a`` closes after the data,
        ``b`` closes on EOF, and the run goes on until both are done. Returns what
        ``b`` read (stopping early at virtual time ``until`` or when either side fails)."""
        a, b = self.a, self.b
        view = memoryview(data)
        sent = 0
        received = bytearray()
        a_closed = b_closed = False
        while True:
            if sent < len(data) and not a.error and a.send_space:
                with contextlib.suppress(OSError):  # WouldBlock too: try again later
                    sent += a.send(view[sent:sent + chunk], self.now)
            if close and sent == len(data) and not a_closed:
                a.close(self.now)
                a_closed = True
            while b.readable:
                received += b.receive(1 << 20, self.now)
            if close and not b_closed and b.at_eof:
                b.close(self.now)
                b_closed = True
            self.collect()
            if until is not None and self.now >= until:
                break
            if any(c.state is State.CLOSED and c.error for c in (a, b)):
                break
            if not self.step():
                break
        return bytes(received)

    def connect(self) -> None:
        """Listen on ``b``, connect ``a``, and run the handshake."""
        self.b.listen()
        self.a.connect(self.now)
        self.run(stop=lambda: self.a.state is State.ESTABLISHED
                 and self.b.state is State.ESTABLISHED)

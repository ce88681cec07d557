"""A packet-level kit for engine tests: a scripted peer, relative sequence numbers
(like packetdrill's), and fixtures that bring a connection to any state.

    conn, peer = established()            # our side is the server
    replies = peer.send(peer.data(b"hi"))  # inject one segment, get what came back
    assert peer.rel(replies[0]).ack == 3   # acked: relative to the peer's ISN
    peer.wait(0.2)                         # let timers fire, collect what is sent

The peer keeps its own clock (``peer.now``); the connection never sees another.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.events import ConnectionEvent, StateChanged
from tcpkit.tcp.isn import HostSecrets
from tcpkit.wire.tcp import ACK, FIN, PSH, RST, SYN, TCPSegment
from tcpkit.wire.tcp_options import (
    MSS,
    NOP,
    SACK_PERMITTED,
    Sack,
    TCPOption,
    Timestamps,
    WindowScale,
)

US = ("192.0.2.1", 5000)
THEM = ("192.0.2.2", 40000)
PEER_ISN = 1_000_000
M32 = 0xFFFFFFFF


def conn_config(**settings: object) -> ConnectionConfig:
    return ConnectionConfig(**settings)  # type: ignore[arg-type]


def new_conn(**settings: object) -> Connection:
    return Connection(US, THEM, conn_config(**settings), HostSecrets(b"k" * 32))


@dataclass
class Rel:
    """A segment seen from the test: sequence numbers relative to the ISNs."""

    seq: int
    ack: int
    flags: int
    window: int
    length: int
    segment: TCPSegment

    @property
    def fin(self) -> bool:
        return bool(self.flags & FIN)

    @property
    def rst(self) -> bool:
        return bool(self.flags & RST)

    @property
    def syn(self) -> bool:
        return bool(self.flags & SYN)


class Peer:
    """The remote end, played by the test."""

    def __init__(self, conn: Connection, *, isn: int = PEER_ISN, now: float = 0.0,
                 timestamps: bool = True, sack: bool = True, wscale: int | None = 7,
                 mss: int = 1460) -> None:
        self.conn = conn
        self.isn = isn
        self.now = now
        self.timestamps = timestamps
        self.sack = sack
        self.wscale = wscale
        self.mss = mss
        # The window it advertises unless told otherwise: Linux's first 64240 bytes,
        # scaled by its shift (so repeated ACKs are true duplicates, RFC 5681 §2).
        self.window = -(-64240 >> (wscale or 0))
        self.tsval = 1000
        self.last_tsval_seen = 0
        self.events: list[ConnectionEvent] = []
        self.sent: list[tuple[float, TCPSegment]] = []  # everything conn emitted
        self.last_replies: list[Rel] = []  # what the last ``call`` made the conn send

    # -- building segments -----------------------------------------------------------

    def syn_options(self) -> tuple[TCPOption, ...]:
        """The peer's SYN options, in Linux's layout."""
        opts: list[TCPOption] = [MSS(self.mss)]
        if self.timestamps:
            stamp = Timestamps(self.tsval, self.last_tsval_seen)
            opts += [SACK_PERMITTED, stamp] if self.sack else [NOP, NOP, stamp]
        elif self.sack:
            opts += [NOP, NOP, SACK_PERMITTED]
        if self.wscale is not None:
            opts += [NOP, WindowScale(self.wscale)]
        return tuple(opts)

    def seg(self, flags: int, seq: int = 1, ack: int | None = None, *, win: int | None = None,
            payload: bytes = b"", options: tuple[TCPOption, ...] | None = None,
            sack: tuple[tuple[int, int], ...] = (), urgent: int = 0) -> TCPSegment:
        """A segment from the peer. ``seq`` is relative to the peer's ISN, ``ack`` to
        ours (default: everything we sent); ``sack`` blocks are relative to ours."""
        if ack is None:
            ack = self.conn.snd_nxt - self.conn.iss
        if win is None:
            win = self.window
        if options is None:
            opts: list[TCPOption] = []
            if self.timestamps and self.conn.ts_ok and not flags & SYN:
                opts += [NOP, NOP, Timestamps(self.tsval, self.last_tsval_seen)]
            if sack:
                base = self.conn.iss
                opts += [NOP, NOP, Sack(tuple(((base + a) & M32, (base + b) & M32)
                                              for a, b in sack))]
            options = tuple(opts)
        return TCPSegment(THEM[1], US[1], (self.isn + seq) & M32,
                          (self.conn.iss + ack) & M32 if flags & ACK else 0,
                          flags, win, urgent, options, payload)

    def syn(self, **kw: object) -> TCPSegment:
        return self.seg(SYN, seq=0, options=self.syn_options(), win=64240, **kw)  # type: ignore[arg-type]

    def ack(self, ack: int | None = None, seq: int | None = None, **kw: object) -> TCPSegment:
        return self.seg(ACK, seq=self.next_seq if seq is None else seq, ack=ack, **kw)  # type: ignore[arg-type]

    def data(self, payload: bytes, seq: int | None = None, flags: int = ACK | PSH,
             **kw: object) -> TCPSegment:
        return self.seg(flags, seq=self.next_seq if seq is None else seq, payload=payload,
                        **kw)  # type: ignore[arg-type]

    def fin(self, seq: int | None = None, **kw: object) -> TCPSegment:
        return self.seg(FIN | ACK, seq=self.next_seq if seq is None else seq, **kw)  # type: ignore[arg-type]

    def rst(self, seq: int | None = None, ack: bool = False) -> TCPSegment:
        flags = RST | (ACK if ack else 0)
        return self.seg(flags, seq=self.next_seq if seq is None else seq, options=())

    @property
    def next_seq(self) -> int:
        """The peer's next sequence number (relative), as our side expects it."""
        return self.conn.rcv_nxt - self.conn.irs if self.conn.irs or self.conn.rcv_nxt else 1

    # -- driving ---------------------------------------------------------------------

    def send(self, segment: TCPSegment, at: float | None = None) -> list[Rel]:
        """Deliver ``segment`` now (or at ``at``, running timers until then first) and
        return what the connection sent in reply."""
        if at is not None:
            self.wait_until(at)
        self.tsval += 1
        self.conn.on_segment(segment, self.now)
        return self.collect()

    def collect(self) -> list[Rel]:
        out = []
        for seg in self.conn.segments_to_send():
            self.sent.append((self.now, seg))
            for opt in seg.options:
                if isinstance(opt, Timestamps):
                    self.last_tsval_seen = opt.tsval
            out.append(self.rel(seg))
        while (event := self.conn.next_event()) is not None:
            self.events.append(event)
        return out

    def wait(self, seconds: float) -> list[tuple[float, Rel]]:
        return self.wait_until(self.now + seconds)

    def wait_until(self, until: float) -> list[tuple[float, Rel]]:
        """Run the connection's timers up to ``until``; what it sent, with times."""
        got: list[tuple[float, Rel]] = []
        while True:
            deadline = self.conn.next_deadline()
            if deadline is None or deadline > until:
                break
            self.now = max(self.now, deadline)
            self.conn.on_timer(self.now)
            got += [(self.now, r) for r in self.collect()]
        self.now = max(self.now, until)
        return got

    def call(self, method: str, *args: object, **kw: object) -> object:
        """Call a user method on the connection at the peer's time; collect output."""
        try:
            return getattr(self.conn, method)(*args, self.now, **kw)
        finally:
            self.last_replies = self.collect()

    def rel(self, seg: TCPSegment) -> Rel:
        return Rel((seg.seq - self.conn.iss) & M32, (seg.ack - self.isn) & M32 if seg.flags & ACK
                   else 0, seg.flags, seg.window, len(seg.payload), seg)

    def states(self) -> list[str]:
        return [e.new.name for e in self.events if isinstance(e, StateChanged)]


def established(side: str = "server", *, peer_options: dict[str, object] | None = None,
                rtt: float = 0.01, **settings: object) -> tuple[Connection, Peer]:
    """A connection in ESTABLISHED, with the handshake done ``rtt`` apart."""
    conn = new_conn(**settings)
    peer = Peer(conn, **(peer_options or {}))  # type: ignore[arg-type]
    if side == "server":
        conn.listen()
        replies = peer.send(peer.syn())
        assert [r.flags for r in replies] == [SYN | ACK], replies
        peer.now += rtt
        peer.send(peer.seg(ACK, seq=1, ack=1))
    else:
        conn.connect(peer.now)
        peer.collect()
        peer.now += rtt
        synack = peer.seg(SYN | ACK, seq=0, ack=1, options=peer.syn_options(), win=65160)
        replies = peer.send(synack)
    assert conn.state.name == "ESTABLISHED", conn.state
    return conn, peer


def reach(state: str, **settings: object) -> tuple[Connection, Peer]:
    """A connection brought to ``state`` (a :class:`State` name) the ordinary way:
    our side is the server for SYN_RECEIVED, the client for SYN_SENT, and closes first
    for FIN_WAIT_1/FIN_WAIT_2/CLOSING/TIME_WAIT."""
    if state == "CLOSED":
        conn = new_conn(**settings)
        return conn, Peer(conn)
    if state == "LISTEN":
        conn = new_conn(**settings)
        conn.listen()
        return conn, Peer(conn)
    if state == "SYN_SENT":
        conn = new_conn(**settings)
        peer = Peer(conn)
        peer.call("connect")
        return conn, peer
    if state == "SYN_RECEIVED":
        conn, peer = reach("LISTEN", **settings)
        peer.send(peer.syn())
        return conn, peer
    if state == "ESTABLISHED":
        return established(**settings)
    if state == "CLOSE_WAIT":
        conn, peer = established(**settings)
        peer.send(peer.fin())
    elif state == "LAST_ACK":
        conn, peer = reach("CLOSE_WAIT", **settings)
        peer.call("close")
    else:
        conn, peer = established(**settings)
        peer.call("shutdown")  # our FIN goes out: FIN_WAIT_1
        our_fin = conn.snd_nxt - conn.iss - 1
        if state == "FIN_WAIT_2":
            peer.send(peer.ack())
        elif state == "CLOSING":
            peer.send(peer.fin(ack=our_fin))  # the peer's FIN crosses ours
        elif state == "TIME_WAIT":
            peer.send(peer.ack())
            peer.send(peer.fin())
    assert conn.state.name == state, (conn.state, state)
    return conn, peer

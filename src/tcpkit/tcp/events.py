"""What a connection tells the layer above: frozen, slotted dataclasses named in the past.

The socket layer turns them into wake-ups (readable, writable, connected) and keeps the
error to report; the lab turns them into the state timeline. Compare them by value.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpkit.tcp.state import Event, State


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The connection moved between RFC 9293 states on ``event`` (a key of
    :data:`tcpkit.tcp.state.TRANSITIONS`); ``cause`` says why in words."""

    old: State
    new: State
    event: Event
    cause: str


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake completed: the connection is ESTABLISHED (connect() returns)."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    """In-order data arrived and can be read (``Connection.readable`` says how much).

    Consecutive arrivals not yet collected make one event: a reader is woken once.
    """


DATA_RECEIVED = DataReceived()


@dataclass(frozen=True, slots=True)
class UrgentDataReceived:
    """An urgent byte arrived (RFC 9293 §3.8.5): out of band unless SO_OOBINLINE."""


@dataclass(frozen=True, slots=True)
class PeerFinished:
    """The peer's FIN arrived in order: reads return EOF after the data before it."""


@dataclass(frozen=True, slots=True)
class SendSpaceFreed:
    """Acknowledged data left the send buffer; ``space`` bytes can be written now."""

    space: int


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The connection died with an error the application will see (``errno``)."""

    errno: int
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The TCB is gone (state CLOSED); the driver can forget this connection."""

    reason: str


@dataclass(frozen=True, slots=True)
class Counted:
    """Something Linux counts in its MIB happened (``name`` as ``nstat`` prints it,
    ``TcpExtBeyondWindow``): the host adds it to its counters."""

    name: str


@dataclass(frozen=True, slots=True)
class FastOpenLearned:
    """A SYN-ACK answered our Fast Open: what the host keeps for the next connection to
    this server (Linux ``tcp_fastopen_cache_set``): its MSS (0: none said), a cookie
    (None: none valid), whether the SYN with data seems lost (``syn_loss``), and
    ``try_exp`` (1: ask with the experimental option next time, 2: with RFC 7413's)."""

    mss: int
    cookie: bytes | None
    experimental: bool
    syn_loss: bool
    try_exp: int


ConnectionEvent = (
    StateChanged
    | Connected
    | DataReceived
    | UrgentDataReceived
    | PeerFinished
    | SendSpaceFreed
    | ConnectionFailed
    | ConnectionClosed
    | Counted
    | FastOpenLearned
)

"""The eleven states of a TCP connection and every transition between them, as data.

RFC 9293 §3.3.2 and figure 5 define the states and the events that move a connection
between them; the engine never assigns a state directly but asks :func:`next_state`,
so this table is the one place a transition can live, the docs draw the diagram from it
and a test proves each entry is exercised.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class State(Enum):
    """RFC 9293 §3.3.2. The values are the names netstat and ss print."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECV"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT1"
    FIN_WAIT_2 = "FIN_WAIT2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"


class Event(Enum):
    """What moves a connection: a user call, an arriving segment, or a timer."""

    ACTIVE_OPEN = "active OPEN / snd SYN"
    PASSIVE_OPEN = "passive OPEN"
    SEND_IN_LISTEN = "SEND / snd SYN"
    CLOSE = "CLOSE"
    CLOSE_SEND_FIN = "CLOSE / snd FIN"
    ABORT = "ABORT"
    RCV_SYN = "rcv SYN / snd SYN,ACK"
    RCV_SYN_ACK = "rcv SYN,ACK / snd ACK"
    RCV_ACK_OF_SYN = "rcv ACK of SYN"
    RCV_FIN = "rcv FIN / snd ACK"
    RCV_ACK_OF_FIN = "rcv ACK of FIN"
    RCV_RST = "rcv RST"
    RCV_RST_PASSIVE = "rcv RST (passive open)"
    GIVE_UP = "retransmission, keepalive or user timeout"
    TIMEWAIT_TIMEOUT = "timeout=2MSL"
    FIN_WAIT_2_TIMEOUT = "tcp_fin_timeout"


S, E = State, Event
SYNCHRONIZED: Final = frozenset(
    {S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK,
     S.TIME_WAIT}
)

TRANSITIONS: Final[dict[tuple[State, Event], State]] = {
    # Opening (RFC 9293 figure 5, left half).
    (S.CLOSED, E.ACTIVE_OPEN): S.SYN_SENT,
    (S.CLOSED, E.PASSIVE_OPEN): S.LISTEN,
    (S.LISTEN, E.RCV_SYN): S.SYN_RECEIVED,
    (S.LISTEN, E.SEND_IN_LISTEN): S.SYN_SENT,  # §3.10.2: a passive open turned active
    (S.LISTEN, E.CLOSE): S.CLOSED,
    (S.SYN_SENT, E.CLOSE): S.CLOSED,
    (S.SYN_SENT, E.RCV_SYN): S.SYN_RECEIVED,  # simultaneous open
    (S.SYN_SENT, E.RCV_SYN_ACK): S.ESTABLISHED,
    (S.SYN_RECEIVED, E.RCV_ACK_OF_SYN): S.ESTABLISHED,
    (S.SYN_RECEIVED, E.CLOSE_SEND_FIN): S.FIN_WAIT_1,
    (S.SYN_RECEIVED, E.RCV_RST_PASSIVE): S.LISTEN,  # §3.10.7.4: the listener goes on
    # Closing (figure 5, right half).
    (S.ESTABLISHED, E.CLOSE_SEND_FIN): S.FIN_WAIT_1,
    (S.ESTABLISHED, E.RCV_FIN): S.CLOSE_WAIT,
    (S.FIN_WAIT_1, E.RCV_ACK_OF_FIN): S.FIN_WAIT_2,
    (S.FIN_WAIT_1, E.RCV_FIN): S.CLOSING,  # simultaneous close
    # A FIN that also acknowledges ours takes FIN-WAIT-1 through FIN-WAIT-2 (the ACK is
    # the fifth check of §3.10.7.4, the FIN the eighth), as Linux reports it too.
    (S.FIN_WAIT_2, E.RCV_FIN): S.TIME_WAIT,
    (S.CLOSE_WAIT, E.CLOSE_SEND_FIN): S.LAST_ACK,
    (S.CLOSING, E.RCV_ACK_OF_FIN): S.TIME_WAIT,
    (S.LAST_ACK, E.RCV_ACK_OF_FIN): S.CLOSED,
    (S.TIME_WAIT, E.TIMEWAIT_TIMEOUT): S.CLOSED,
    (S.FIN_WAIT_2, E.FIN_WAIT_2_TIMEOUT): S.CLOSED,  # Linux: orphans only (tcp_fin_timeout)
    # Resets (§3.10.7.2, §3.10.7.4): the TCB goes away.
    (S.SYN_SENT, E.RCV_RST): S.CLOSED,
    (S.SYN_RECEIVED, E.RCV_RST): S.CLOSED,
    (S.ESTABLISHED, E.RCV_RST): S.CLOSED,
    (S.FIN_WAIT_1, E.RCV_RST): S.CLOSED,
    (S.FIN_WAIT_2, E.RCV_RST): S.CLOSED,
    (S.CLOSE_WAIT, E.RCV_RST): S.CLOSED,
    (S.CLOSING, E.RCV_RST): S.CLOSED,
    (S.LAST_ACK, E.RCV_RST): S.CLOSED,
    (S.TIME_WAIT, E.RCV_RST): S.CLOSED,  # unless RFC 1337 protection is on
    # ABORT (§3.10.5): a RST goes out from synchronized states, the TCB is deleted.
    (S.LISTEN, E.ABORT): S.CLOSED,
    (S.SYN_SENT, E.ABORT): S.CLOSED,
    (S.SYN_RECEIVED, E.ABORT): S.CLOSED,
    (S.ESTABLISHED, E.ABORT): S.CLOSED,
    (S.FIN_WAIT_1, E.ABORT): S.CLOSED,
    (S.FIN_WAIT_2, E.ABORT): S.CLOSED,
    (S.CLOSE_WAIT, E.ABORT): S.CLOSED,
    (S.CLOSING, E.ABORT): S.CLOSED,
    (S.LAST_ACK, E.ABORT): S.CLOSED,
    (S.TIME_WAIT, E.ABORT): S.CLOSED,
    # Giving up: SYN retries, tcp_retries2, TCP_USER_TIMEOUT, keepalive (ETIMEDOUT).
    (S.SYN_SENT, E.GIVE_UP): S.CLOSED,
    (S.SYN_RECEIVED, E.GIVE_UP): S.CLOSED,
    (S.ESTABLISHED, E.GIVE_UP): S.CLOSED,
    (S.FIN_WAIT_1, E.GIVE_UP): S.CLOSED,
    (S.FIN_WAIT_2, E.GIVE_UP): S.CLOSED,
    (S.CLOSE_WAIT, E.GIVE_UP): S.CLOSED,
    (S.CLOSING, E.GIVE_UP): S.CLOSED,
    (S.LAST_ACK, E.GIVE_UP): S.CLOSED,
}


class InvalidTransition(RuntimeError):
    """The engine asked for a transition the table does not have: a bug in tcpkit."""


def next_state(state: State, event: Event) -> State:
    """The state ``event`` leads to from ``state``."""
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise InvalidTransition(f"no transition from {state.name} on {event.name}") from None

"""Every transition of the state table (RFC 9293 §3.3.2, figure 5, and the non-obvious
ones), each driven by a scenario that makes the engine take it.

``SCENARIOS`` maps each ``(state, event)`` key of :data:`TRANSITIONS` to a scenario; a
scenario brings a connection to ``state``, causes ``event`` the way a peer, a user or a
timer would, and returns the peer (whose ``events`` list holds what the connection
reported). :func:`test_every_transition_has_a_scenario` fails when the table gains an
entry without one, so no transition goes untested.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from tcpkit.tcp.events import ConnectionFailed, StateChanged
from tcpkit.tcp.state import TRANSITIONS, Event, InvalidTransition, State, next_state
from tcpkit.wire.tcp import ACK, FIN, RST, SYN
from tests.tcp.kit import Peer, new_conn, reach

Scenario = Callable[[], Peer]
SCENARIOS: dict[tuple[State, Event], Scenario] = {}
S, E = State, Event


def scenario(state: State, event: Event) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        assert (state, event) not in SCENARIOS, (state, event)
        SCENARIOS[state, event] = fn
        return fn
    return register


# -- opening ---------------------------------------------------------------------------

@scenario(S.CLOSED, E.ACTIVE_OPEN)
def active_open() -> Peer:
    return reach("SYN_SENT")[1]


@scenario(S.CLOSED, E.PASSIVE_OPEN)
def passive_open() -> Peer:
    conn, peer = reach("CLOSED")
    conn.listen()
    peer.collect()
    return peer


@scenario(S.LISTEN, E.RCV_SYN)
def listen_syn() -> Peer:
    conn, peer = reach("LISTEN")
    assert [r.flags for r in peer.send(peer.syn())] == [SYN | ACK]
    return peer


@scenario(S.LISTEN, E.SEND_IN_LISTEN)
def listen_send() -> Peer:
    """RFC 9293 §3.10.2: SEND in LISTEN with the foreign socket known sends a SYN."""
    conn, peer = reach("LISTEN")
    with pytest.raises(BlockingIOError):
        peer.call("send", b"hello")
    assert [r.flags for r in peer.last_replies] == [SYN]
    return peer


@scenario(S.LISTEN, E.CLOSE)
def listen_close() -> Peer:
    peer = reach("LISTEN")[1]
    peer.call("close")
    return peer


@scenario(S.SYN_SENT, E.CLOSE)
def synsent_close() -> Peer:
    peer = reach("SYN_SENT")[1]
    peer.call("close")
    assert peer.last_replies == []  # RFC 9293 §3.10.4: no RST for an unsynchronized TCB
    return peer


@scenario(S.SYN_SENT, E.RCV_SYN)
def simultaneous_open() -> Peer:
    """RFC 9293 figure 8: a SYN crosses ours; we answer SYN,ACK and move on once the
    peer's SYN,ACK (acknowledging our SYN) arrives."""
    conn, peer = reach("SYN_SENT")
    replies = peer.send(peer.syn())
    assert [(r.flags, r.seq, r.ack) for r in replies] == [(SYN | ACK, 0, 1)]
    peer.send(peer.seg(SYN | ACK, seq=0, ack=1, options=peer.syn_options()))
    assert conn.state is State.ESTABLISHED
    return peer


@scenario(S.SYN_SENT, E.RCV_SYN_ACK)
def synsent_synack() -> Peer:
    return reach("ESTABLISHED", side="client")[1]


@scenario(S.SYN_RECEIVED, E.RCV_ACK_OF_SYN)
def synrecv_ack() -> Peer:
    return reach("ESTABLISHED", side="server")[1]


@scenario(S.SYN_RECEIVED, E.CLOSE_SEND_FIN)
def synrecv_close() -> Peer:
    """RFC 9293 §3.10.4: CLOSE in SYN-RECEIVED with nothing to send sends a FIN and
    enters FIN-WAIT-1 (Linux ``tcp_close_state`` too: SYN_RECV → FIN_WAIT1 | FIN)."""
    conn, peer = reach("SYN_RECEIVED")
    peer.call("shutdown")
    assert [(r.flags, r.seq, r.ack) for r in peer.last_replies] == [(FIN | ACK, 1, 1)]
    peer.send(peer.ack(ack=2))  # acknowledges SYN and FIN
    assert conn.state is State.FIN_WAIT_2
    return peer


@scenario(S.SYN_RECEIVED, E.RCV_RST_PASSIVE)
def synrecv_rst() -> Peer:
    """RFC 9293 §3.10.7.4: a RST in SYN-RECEIVED of a passive open returns to LISTEN;
    the listener goes on and takes the next SYN."""
    conn, peer = reach("SYN_RECEIVED")
    peer.send(peer.rst(seq=1))
    assert conn.state is State.LISTEN and conn.error == 0
    peer.isn += 5000
    assert [r.flags for r in peer.send(peer.syn())] == [SYN | ACK]
    return peer


# -- closing ---------------------------------------------------------------------------

@scenario(S.ESTABLISHED, E.CLOSE_SEND_FIN)
def established_close() -> Peer:
    return reach("FIN_WAIT_1")[1]


@scenario(S.ESTABLISHED, E.RCV_FIN)
def established_fin() -> Peer:
    return reach("CLOSE_WAIT")[1]


@scenario(S.FIN_WAIT_1, E.RCV_ACK_OF_FIN)
def finwait1_ack() -> Peer:
    return reach("FIN_WAIT_2")[1]


@scenario(S.FIN_WAIT_1, E.RCV_FIN)
def finwait1_fin() -> Peer:
    return reach("CLOSING")[1]


def test_fin_that_acks_our_fin_passes_through_fin_wait_2() -> None:
    """RFC 9293 §3.10.7.4: the ACK (fifth check) is processed before the FIN (eighth),
    so FIN-WAIT-1 → FIN-WAIT-2 → TIME-WAIT, as Linux's TCP_INFO would show."""
    conn, peer = reach("FIN_WAIT_1")
    replies = peer.send(peer.fin())  # acknowledges our FIN too
    assert peer.states()[-2:] == ["FIN_WAIT_2", "TIME_WAIT"]
    assert [(r.flags, r.ack) for r in replies] == [(ACK, 2)]


@scenario(S.FIN_WAIT_2, E.RCV_FIN)
def finwait2_fin() -> Peer:
    return reach("TIME_WAIT")[1]


@scenario(S.CLOSE_WAIT, E.CLOSE_SEND_FIN)
def closewait_close() -> Peer:
    return reach("LAST_ACK")[1]


@scenario(S.CLOSING, E.RCV_ACK_OF_FIN)
def closing_ack() -> Peer:
    conn, peer = reach("CLOSING")
    peer.send(peer.ack())
    assert conn.state is State.TIME_WAIT
    return peer


@scenario(S.LAST_ACK, E.RCV_ACK_OF_FIN)
def lastack_ack() -> Peer:
    conn, peer = reach("LAST_ACK")
    peer.send(peer.ack())
    return peer


@scenario(S.TIME_WAIT, E.TIMEWAIT_TIMEOUT)
def timewait_timeout() -> Peer:
    """TIME-WAIT lasts 2MSL, 60 s on Linux (TCP_TIMEWAIT_LEN)."""
    conn, peer = reach("TIME_WAIT")
    start = peer.now
    peer.wait(59.9)
    assert conn.state is State.TIME_WAIT
    peer.wait(3)
    assert conn.state is State.CLOSED
    # The timer wheel rounds a 60 s timer up to its level's 512-jiffy (2.048 s) slots.
    assert 60 <= conn.clock - start <= 62.05
    return peer


@scenario(S.FIN_WAIT_2, E.FIN_WAIT_2_TIMEOUT)
def finwait2_timeout() -> Peer:
    conn, peer = reach("FIN_WAIT_1")
    peer.call("close")  # now an orphan: tcp_fin_timeout applies
    peer.send(peer.ack())
    assert conn.state is State.FIN_WAIT_2
    peer.wait(70)
    return peer


# -- resets ----------------------------------------------------------------------------

def _rst_in(state: str) -> Scenario:
    def run() -> Peer:
        conn, peer = reach(state)
        if state == "SYN_SENT":
            peer.send(peer.seg(RST | ACK, seq=0, ack=1, options=()))
        else:
            peer.send(peer.rst())
        assert conn.state is State.CLOSED
        return peer
    run.__name__ = f"rst_in_{state.lower()}"
    return run


for _state in ("SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
               "CLOSING", "LAST_ACK", "TIME_WAIT"):
    scenario(S[_state], E.RCV_RST)(_rst_in(_state))


@scenario(S.SYN_RECEIVED, E.RCV_RST)
def synrecv_active_rst() -> Peer:
    """A simultaneous open is an active open: a RST in its SYN-RECEIVED closes it."""
    conn, peer = reach("SYN_SENT")
    peer.send(peer.syn())
    assert conn.state is State.SYN_RECEIVED
    peer.send(peer.rst(seq=1))
    assert conn.state is State.CLOSED
    assert conn.take_error() == errno.ECONNRESET
    return peer


# -- abort -----------------------------------------------------------------------------

def _abort_in(state: str) -> Scenario:
    def run() -> Peer:
        conn, peer = reach(state)
        peer.call("abort")
        synchronized = state not in ("LISTEN", "SYN_SENT", "TIME_WAIT", "CLOSING", "LAST_ACK")
        # RFC 9293 §3.10.5: a RST goes out only where the peer has state to reset (Linux
        # tcp_disconnect: also not once everything, FIN included, was sent).
        assert [r.rst for r in peer.last_replies] == ([True] if synchronized else [])
        return peer
    run.__name__ = f"abort_in_{state.lower()}"
    return run


for _state in ("LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
               "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT"):
    scenario(S[_state], E.ABORT)(_abort_in(_state))


# -- giving up -------------------------------------------------------------------------

def _give_up_in(state: str) -> Scenario:
    def run() -> Peer:
        settings: dict[str, object] = {"syn_retries": 1, "synack_retries": 1, "retries2": 3}
        if state == "FIN_WAIT_2":
            # Nothing is in flight in FIN_WAIT_2: keepalive is what finds a dead peer.
            settings.update(keepalive=True, keepalive_time=10.0, keepalive_intvl=1.0,
                            keepalive_probes=2)
        conn, peer = reach(state, **settings)
        if state in ("ESTABLISHED", "CLOSE_WAIT"):
            peer.call("send", b"x" * 100)
        peer.wait(600)
        assert conn.state is State.CLOSED
        if state != "SYN_RECEIVED":
            assert conn.take_error() == errno.ETIMEDOUT
        return peer
    run.__name__ = f"give_up_in_{state.lower()}"
    return run


for _state in ("SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
               "CLOSE_WAIT", "CLOSING", "LAST_ACK"):
    scenario(S[_state], E.GIVE_UP)(_give_up_in(_state))


# -- the tests ---------------------------------------------------------------------------

def test_every_transition_has_a_scenario() -> None:
    missing = sorted(f"{s.name} --{e.name}-->" for s, e in set(TRANSITIONS) - set(SCENARIOS))
    assert not missing, f"transitions without a scenario: {missing}"
    assert set(SCENARIOS) <= set(TRANSITIONS)


@pytest.mark.parametrize(("state", "event"),
                         sorted(SCENARIOS, key=lambda k: (k[0].name, k[1].name)),
                         ids=lambda v: v.name)
def test_transition(state: State, event: Event) -> None:
    peer = SCENARIOS[state, event]()
    taken = [c for c in peer.events if isinstance(c, StateChanged)
             and c.old is state and c.event is event]
    assert taken, f"{state.name} --{event.name}--> never happened: {peer.states()}"
    assert taken[0].new is TRANSITIONS[state, event]
    failures = [e for e in peer.events if isinstance(e, ConnectionFailed)]
    if event is Event.GIVE_UP and state is not State.SYN_RECEIVED:
        assert [f.errno for f in failures] == [errno.ETIMEDOUT]


def test_no_transition_outside_the_table() -> None:
    with pytest.raises(InvalidTransition):
        next_state(State.TIME_WAIT, Event.RCV_FIN)
    with pytest.raises(InvalidTransition):
        next_state(State.CLOSED, Event.RCV_SYN)


def test_every_state_is_reachable_and_left() -> None:
    entered = {new for new in TRANSITIONS.values()}
    left = {old for old, _ in TRANSITIONS}
    assert entered | {State.CLOSED} == set(State)
    assert left == set(State)


def test_new_conn_is_closed() -> None:
    assert new_conn().state is State.CLOSED

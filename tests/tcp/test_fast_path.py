"""Header prediction (Linux ``tcp_rcv_established``'s fast path) is an optimisation only:
a connection that takes it and one that always takes the full RFC 9293 §3.10.7.4 path
send the same segments and end with the same books, whatever the peer does. The bulk
sender's pure ACKs and the bulk receiver's in-order data take it."""

from __future__ import annotations

import contextlib
import enum
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpkit.tcp.connection import Connection
from tcpkit.tcp.segment_arrives import SegmentArrives
from tcpkit.tcp.user_calls import WouldBlock
from tcpkit.wire.tcp import ACK, PSH
from tests.tcp.kit import Peer, established
from tests.tcp.test_bookkeeping import step

_PLAIN = (int, float, bool, str, bytes, tuple, enum.Enum, type(None))


def _books(conn: Connection) -> dict[str, object]:
    """Every plain field of the TCB and of its RTT estimator, the switch aside."""
    out: dict[str, object] = {}
    for cls in type(conn).__mro__:
        for name in getattr(cls, "__slots__", ()):
            value = getattr(conn, name, None)
            if name != "fast_path" and isinstance(value, _PLAIN):
                out[name] = value
    rtt = conn.rtt
    for cls in type(rtt).__mro__:
        for name in getattr(cls, "__slots__", ()):
            out[f"rtt.{name}"] = getattr(rtt, name, None)
    out["rtx"] = [(s.seq, s.end, s.flags, s.lost, s.sacked, s.retrans, s.pcount)
                  for s in conn.rtx]
    return out


def _bulk_step(rng: random.Random, conn: Connection, peer: Peer) -> None:
    """Mostly what header prediction is for (ACKs of new data with the window as it
    was, in-order data), else anything test_bookkeeping's stories do."""
    op = rng.random()
    if op < 0.3:
        una, nxt = conn.snd_una - conn.iss, conn.snd_nxt - conn.iss
        peer.send(peer.ack(ack=rng.randint(una, nxt)))
    elif op < 0.45:
        peer.send(peer.data(b"y" * rng.choice([1, 500, 1448]),
                            flags=ACK | (PSH if rng.random() < 0.5 else 0),
                            ack=conn.snd_una - conn.iss))
    elif op < 0.55:
        with contextlib.suppress(WouldBlock, BrokenPipeError):
            peer.call("send", b"x" * rng.choice([1448, 20000]))
    elif op < 0.6:
        with contextlib.suppress(WouldBlock):
            peer.call("receive", 1 << 20)
    else:
        step(rng, conn, peer)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sack=st.booleans(), timestamps=st.booleans(),
       nodelay=st.booleans(), gso=st.booleans())
def test_prediction_changes_nothing_a_peer_or_the_books_can_see(
        seed: int, sack: bool, timestamps: bool, nodelay: bool, gso: bool) -> None:
    runs = []
    for fast in (True, False):
        conn, peer = established(peer_options={"sack": sack, "timestamps": timestamps},
                                 nodelay=nodelay)
        conn.fast_path = fast
        conn.gso = gso
        runs.append((conn, peer, random.Random(seed)))
    for _ in range(150):
        for conn, peer, rng in runs:
            _bulk_step(rng, conn, peer)
        (fast, fast_peer, _), (slow, slow_peer, _) = runs
        assert fast_peer.sent == slow_peer.sent
        assert fast_peer.events == slow_peer.events
        assert _books(fast) == _books(slow)


@pytest.mark.parametrize("timestamps", [True, False])
def test_a_bulk_senders_acks_are_predicted(monkeypatch: pytest.MonkeyPatch,
                                           timestamps: bool) -> None:
    """Every ACK of new data, window unchanged, skips the full path; with prediction
    off, every one takes it."""
    full = []
    slow_path = SegmentArrives._synchronized_segment

    def counted(self: SegmentArrives, *args: object) -> None:
        full.append(args)
        slow_path(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(SegmentArrives, "_synchronized_segment", counted)
    for fast in (True, False):
        conn, peer = established(peer_options={"timestamps": timestamps}, nodelay=True)
        conn.fast_path = fast
        full.clear()
        peer.call("send", bytes(10 * 1448))
        sent = [r.seq for r in peer.last_replies]
        assert len(sent) == 10
        for seq in sent[2::2]:
            peer.send(peer.ack(ack=seq))
        assert conn.snd_una - conn.iss == sent[-2]
        assert len(full) == (0 if fast else 4)

"""Urgent data (RFC 9293 §3.8.5, RFC 6093): the URG flag and urgent pointer, read out
of band as BSD sockets and Linux do (MSG_OOB), or inline with SO_OOBINLINE."""

from __future__ import annotations

import errno

import pytest

from tcpkit.links.pair import EnginePair
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.events import UrgentDataReceived
from tcpkit.wire.tcp import URG
from tests.tcp.kit import established


def test_urgent_send_sets_urg_and_pointer_after_the_byte() -> None:
    """RFC 6093 §2: BSD-derived stacks (Linux too) point one past the last urgent byte."""
    conn, peer = established(nodelay=True)
    peer.call("send", b"ab!", urgent=True)
    (seg,) = peer.last_replies
    assert seg.flags & URG and seg.segment.urgent == 3


def test_urgent_pointer_repeated_until_passed() -> None:
    """RFC 9293 §3.8.5: segments sent while the pointer is ahead carry URG; once it is
    acknowledged, urgent mode ends."""
    conn, peer = established(nodelay=True)
    peer.call("send", b"x" * 3000)
    peer.call("send", b"!", urgent=True)
    urgs = [r.segment.urgent for r in peer.last_replies if r.flags & URG]
    assert urgs == [1]  # the byte went alone: the 3000 bytes before it had left
    peer.send(peer.ack())
    peer.call("send", b"after")
    assert not peer.last_replies[0].flags & URG


def pair(**server: object) -> EnginePair:
    p = EnginePair(server=ConnectionConfig(**server))  # type: ignore[arg-type]
    p.connect()
    return p


def test_out_of_band_byte_and_the_mark() -> None:
    """The urgent byte is taken out of the stream (MSG_OOB reads it); an ordinary read
    stops at the urgent mark, as on Linux."""
    p = pair()
    p.call("a", "send", b"hello")
    p.call("a", "send", b"!", urgent=True)
    p.call("a", "send", b"world")
    p.run(until=p.now + 1)
    assert any(isinstance(e, UrgentDataReceived) for e in p.events["b"])
    assert p.call("b", "receive", 100) == b"hello"
    assert p.call("b", "receive_urgent") == b"!"
    assert p.call("b", "receive", 100) == b"world"
    with pytest.raises(OSError) as info:
        p.call("b", "receive_urgent")  # already read: EINVAL, as Linux
    assert info.value.errno == errno.EINVAL


def test_unread_urgent_byte_is_skipped_by_ordinary_reads() -> None:
    p = pair()
    p.call("a", "send", b"ab")
    p.call("a", "send", b"!", urgent=True)
    p.call("a", "send", b"cd")
    p.run(until=p.now + 1)
    assert p.call("b", "receive", 100) == b"ab"
    assert p.call("b", "receive", 100) == b"cd"
    with pytest.raises(OSError) as info:
        p.call("b", "receive_urgent")  # read past the mark: the urgent byte is gone
    assert info.value.errno == errno.EINVAL


def test_oob_inline_keeps_the_byte_in_the_stream() -> None:
    """SO_OOBINLINE: the urgent byte stays in the stream; MSG_OOB gives EINVAL."""
    p = pair(oob_inline=True)
    p.call("a", "send", b"ab")
    p.call("a", "send", b"!", urgent=True)
    p.call("a", "send", b"cd")
    p.run(until=p.now + 1)
    data = b""
    while len(data) < 5:
        data += p.call("b", "receive", 100)  # type: ignore[operator]
    assert data == b"ab!cd"
    with pytest.raises(OSError) as info:
        p.call("b", "receive_urgent")
    assert info.value.errno == errno.EINVAL


def test_urgent_before_the_byte_arrives_would_block() -> None:
    """The pointer can arrive before the byte it points at (RFC 9293 §3.8.5)."""
    conn, peer = established()
    base = peer.next_seq
    peer.send(peer.data(b"abc", flags=0x10 | 0x08 | URG, urgent=10))
    assert conn.urg_pending
    with pytest.raises(BlockingIOError):
        conn.receive_urgent(peer.now)
    peer.send(peer.data(b"defghij!", seq=base + 3))
    assert conn.receive_urgent(peer.now) == b"j"  # pointer 10 - 1: BSD's last byte


def test_stdurg_points_at_the_byte_itself() -> None:
    """tcp_stdurg=1 (RFC 1122 §4.2.2.4 reading): the pointer names the urgent byte."""
    conn, peer = established(stdurg=True)
    peer.send(peer.data(b"abcdefghij", flags=0x10 | URG, urgent=3))
    assert conn.receive_urgent(peer.now) == b"d"

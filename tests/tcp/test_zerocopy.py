"""MSG_ZEROCOPY completion notifications in the engine (Linux msg_zerocopy_realloc,
__msg_zerocopy_callback, skb_zerocopy_notify_extend). The socket story
zerocopy_notifications compares the user-visible part with the kernel, and packetdrill's
zerocopy scripts (basic, client, closed, small) pass."""

from __future__ import annotations

from tcpkit.tcp.zerocopy import SO_EE_CODE_ZEROCOPY_COPIED, ZerocopyNotifications
from tests.tcp.kit import Peer, established

COPIED = SO_EE_CODE_ZEROCOPY_COPIED


def notices(peer: Peer) -> list[tuple[int, int, int]]:
    zc = peer.conn.zerocopy
    taken = []
    while zc is not None and (notice := zc.take()) is not None:
        taken.append(notice)
    return taken


def test_each_send_is_numbered_and_completes_when_acknowledged() -> None:
    conn, peer = established(nodelay=True)
    assert peer.call("send", b"a" * 100, zerocopy=True) == 100
    assert peer.call("send", b"b" * 100, zerocopy=True) == 100
    assert notices(peer) == []  # in flight
    peer.send(peer.ack(101))
    assert notices(peer) == [(0, 0, COPIED)]
    peer.send(peer.ack(201))
    assert notices(peer) == [(1, 1, COPIED)]


def test_completed_ranges_merge_on_the_queue() -> None:
    conn, peer = established(nodelay=True)
    for _ in range(3):
        peer.call("send", b"x" * 10, zerocopy=True)
    peer.send(peer.ack(11))
    peer.send(peer.ack(31))
    assert notices(peer) == [(0, 2, COPIED)]


def test_sends_joining_an_unsent_buffer_share_its_range() -> None:
    """Corked, the data waits in one buffer: the second send extends the first's
    range, and a plain send joining that buffer delays its completion until the whole
    buffer is acknowledged."""
    conn, peer = established(cork=True)
    peer.call("send", b"a" * 10, zerocopy=True)
    peer.call("send", b"b" * 10, zerocopy=True)
    peer.call("send", b"c" * 10)
    zc = conn.zerocopy
    assert zc is not None and len(zc.pending) == 1
    assert (zc.pending[0].first, zc.pending[0].count) == (0, 2)
    peer.call("set_cork", False)
    assert [r.length for r in peer.last_replies] == [30]
    peer.send(peer.ack(21))  # the zerocopy bytes, not the whole buffer
    assert notices(peer) == []
    peer.send(peer.ack(31))
    assert notices(peer) == [(0, 1, COPIED)]


def test_a_failed_send_takes_no_number_and_a_plain_one_none() -> None:
    conn, peer = established(nodelay=True)
    peer.call("send", b"p" * 10)
    assert conn.zerocopy is None
    peer.call("send", b"z" * 10, zerocopy=True)
    peer.send(peer.ack(21))
    assert notices(peer) == [(0, 0, COPIED)]


def test_the_end_of_the_connection_completes_what_was_pending() -> None:
    """tcp_done_with_error purges the queues: the buffers are freed, so the sends
    complete; a socket its program closed (SOCK_DEAD) gets nothing."""
    conn, peer = established(nodelay=True)
    peer.call("send", b"a" * 10, zerocopy=True)
    peer.send(peer.rst(ack=True))
    assert notices(peer) == [(0, 0, COPIED)]
    conn, peer = established(nodelay=True)
    peer.call("send", b"a" * 10, zerocopy=True)
    peer.call("close")
    peer.send(peer.ack(11))
    assert notices(peer) == []


def test_numbers_wrap_and_a_full_range_is_not_extended() -> None:
    zc = ZerocopyNotifications()
    zc.next_id = 0xFFFFFFFF
    zc.sent(10, 10, tail_unsent=False)
    zc.sent(10, 20, tail_unsent=True)
    assert zc.next_id == 1
    assert [(r.first, r.count) for r in zc.pending] == [(0xFFFFFFFF, 2)]
    zc.sent(1 << 19, 30, tail_unsent=True)  # over msg_zerocopy_realloc's byte limit
    assert [(r.first, r.count) for r in zc.pending] == [(0xFFFFFFFF, 2), (1, 1)]
    assert zc.acked(30, dead=False)
    assert zc.take() == (0xFFFFFFFF, 1, COPIED)
    assert zc.take() is None

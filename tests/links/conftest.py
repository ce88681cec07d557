"""A stand-in for a TUN device's descriptor, shared by the tests of links/uring and
links/read_pool."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


def seqpacket_pair() -> tuple[socket.socket, socket.socket]:
    """Two connected SOCK_SEQPACKET sockets: as /dev/net/tun does, they keep packet
    boundaries and order, one packet per read or write; 4 MiB of buffer each way."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for sock in (ours, theirs):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return ours, theirs


@pytest.fixture
def device() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = seqpacket_pair()
    yield ours, theirs
    ours.close()
    theirs.close()

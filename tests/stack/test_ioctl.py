"""ioctl(2) on a TCP socket (Linux ``tcp_ioctl``): what is waiting to be read, what is
not yet acknowledged or not yet sent. packetdrill's validate and ioctl scripts check
SIOCINQ against the same rules (tests/tools/test_packetdrill.py)."""

from __future__ import annotations

import errno
from types import SimpleNamespace

import pytest

from tcpkit.links.sim import Network
from tcpkit.stack.sock import SIOCATMARK, SIOCINQ, SIOCOUTQ, SIOCOUTQNSD, TcpSock
from tcpkit.wire.tcp import ACK, PSH, URG
from tests.conftest import two_hosts
from tests.tcp.kit import established


def test_queues_seen_through_ioctl() -> None:
    seen: dict[str, int] = {}
    with Network() as net:
        a, b, _ = two_hosts(net)

        def server() -> None:
            from tcpkit import socket
            listener = socket.create_server(("0.0.0.0", 80))
            with pytest.raises(OSError) as caught:
                listener.ioctl(SIOCINQ)
            seen["listener"] = caught.value.errno or 0
            conn, _ = listener.accept()
            net.sleep(0.05)
            seen["inq"] = conn.ioctl(SIOCINQ)
            seen["mark"] = conn.ioctl(SIOCATMARK)
            conn.recv(300)
            seen["inq_after"] = conn.ioctl(SIOCINQ)
            net.sleep(0.05)
            seen["inq_fin"] = conn.ioctl(SIOCINQ)  # the FIN is not a byte to read
            with pytest.raises(OSError) as caught:
                conn.ioctl(0x1234)
            seen["other"] = caught.value.errno or 0
            conn.close()

        def client() -> None:
            from tcpkit import socket
            conn = socket.create_connection(("192.0.2.2", 80))
            conn.send(b"x" * 1000)
            seen["outq"] = conn.ioctl(SIOCOUTQ)  # in flight, not yet acknowledged
            seen["notsent"] = conn.ioctl(SIOCOUTQNSD)
            net.sleep(0.06)
            conn.shutdown(socket.SHUT_WR)
            net.sleep(0.1)
            conn.close()

        net.spawn(b, server)
        net.spawn(a, client)
        net.run()
    assert seen == {"listener": errno.EINVAL, "inq": 1000, "mark": 0, "inq_after": 700,
                    "inq_fin": 700, "other": errno.ENOTTY, "outq": 1000, "notsent": 0}


def test_urgent_data_bounds_siocinq_and_sets_the_mark() -> None:
    """Linux ``tcp_inq``: with an urgent byte not read inline, SIOCINQ counts only up to
    it; SIOCATMARK is 1 when the next byte to read is the urgent one, before and after
    it was taken with MSG_OOB."""
    conn, peer = established()
    peer.send(peer.data(b"ab!cd", flags=ACK | PSH | URG, urgent=3))
    sock = SimpleNamespace(tcp_state=conn.state, conn=conn)

    def ioctl(request: int) -> int:
        return TcpSock.ioctl(sock, request)  # type: ignore[arg-type]

    assert (ioctl(SIOCINQ), ioctl(SIOCATMARK)) == (2, 0)
    assert peer.call("receive", 10) == b"ab"  # a read stops at the mark
    assert (ioctl(SIOCINQ), ioctl(SIOCATMARK)) == (0, 1)
    assert peer.call("receive_urgent") == b"!"
    assert (ioctl(SIOCINQ), ioctl(SIOCATMARK)) == (0, 1)

"""A device whose queueing discipline has no room (``tc qdisc add dev eth0 root pfifo
limit 0``): TCP connections, old and new, learn of each refused packet (local congestion,
tests/tcp/test_local_congestion.py); everything else the host sends is dropped."""

from __future__ import annotations

import pytest

from tcpkit.links.sim import Network
from tcpkit.wire.ipv4 import PROTO_UDP
from tests.conftest import two_hosts


def test_limit_zero_refuses_and_removing_it_lets_the_connection_go_on() -> None:
    seen: dict[str, object] = {}
    with Network() as net:
        a, b, _ = two_hosts(net)

        def server() -> None:
            from tcpkit import socket
            listener = socket.create_server(("0.0.0.0", 80))
            conn, _ = listener.accept()
            seen["got"] = conn.recv(100)
            conn.close()

        def client() -> None:
            from tcpkit import socket
            a.set_qdisc_limit("eth0", 0)
            # The SYN is refused; connect() goes on waiting, and the SYN timer, then
            # the RTO, retry every half second (TCP_RESOURCE_PROBE_INTERVAL).
            conn = socket.socket()
            conn.setblocking(False)
            with pytest.raises(BlockingIOError):
                conn.connect(("192.0.2.2", 80))
            net.sleep(2.0)
            seen["sent_while_refusing"] = a.counters["TcpOutSegs"]
            seen["refused_retransmissions"] = a.counters["TcpExtTCPRetransFail"]
            a.set_qdisc_limit("eth0", None)
            restored = net.now
            conn.setblocking(True)
            conn.sendall(b"hello")  # waits for the handshake
            seen["connected_after"] = net.now - restored
            conn.close()

        net.spawn(b, server)
        net.spawn(a, client)
        net.run()
    assert seen["got"] == b"hello"
    assert seen["sent_while_refusing"] == 0
    # The SYN's timer (1 s), then every 0.5 s: 1.0, 1.5 (and 2.0, at the restore).
    assert seen["refused_retransmissions"] in (2, 3)
    assert 0 < seen["connected_after"] <= 0.52  # type: ignore[operator]


def test_other_packets_are_dropped_with_the_reason() -> None:
    with Network() as net:
        a, b, _ = two_hosts(net)
        a.set_qdisc_limit("eth0", 0)
        a.ip_output("192.0.2.1", "192.0.2.2", PROTO_UDP, b"\x00" * 8)
        assert list(a.drops) == ["eth0's queueing discipline is full"]
        a.set_qdisc_limit("eth0", 10)  # a limit above zero never fills here
        assert not a.device_refuses("192.0.2.2")
        with pytest.raises(ValueError, match="number of packets"):
            a.set_qdisc_limit("eth0", -1)
        with pytest.raises(KeyError):
            a.set_qdisc_limit("eth9", 0)

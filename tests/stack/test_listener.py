"""Listen queues and SYN cookies in a simulated network."""

from __future__ import annotations

import tcpkit.socket as socket  # noqa: PLR0402 (the drop-in spelling users write)
from tcpkit.links.sim import Network, sleep


def flood_story(syncookies: int) -> tuple[list[int], dict[str, int]]:
    """Five clients connect to a listen(1) server that accepts nothing for a while,
    then accepts everything. Each client speaks first: a client whose handshake ACK
    was dropped (accept queue full) and that got a cookie has no SYN-ACK coming again,
    as with Linux; its request's retransmissions carry the ACK that gets it in."""
    results: list[int] = []
    with Network(9) as net:
        server_host = net.add_host("server", "192.0.2.2/24")
        server_host.sysctl["net.ipv4.tcp_syncookies"] = syncookies
        clients = [net.add_host(f"c{i}", f"192.0.2.{10 + i}/24") for i in range(5)]
        net.link(server_host, *clients, delay=0.001)

        def server() -> None:
            srv = socket.create_server(("0.0.0.0", 80), backlog=1)
            sleep(2.0)
            srv.settimeout(30)
            for _ in range(5):
                conn, _ = srv.accept()
                conn.sendall(b"welcome, " + conn.recv(100))

        def client() -> None:
            conn = socket.create_connection(("192.0.2.2", 80))
            conn.sendall(b"me")
            results.append(len(conn.recv(100)))

        net.spawn(server_host, server)
        for host in clients:
            net.spawn(host, client)
        net.run(until=60)
        counters = server_host.counters.nonzero()
    return results, counters


def test_listen_queues_overflow_then_everyone_gets_in() -> None:
    results, counters = flood_story(syncookies=1)
    assert sorted(results) == [11] * 5
    # listen(1) holds two completed connections (Linux: full means more than the backlog)
    assert counters["TcpExtListenOverflows"] > 0
    assert counters["TcpPassiveOpens"] == 5


def test_syn_cookies_when_the_syn_queue_is_full() -> None:
    with Network(10) as net:
        server_host = net.add_host("server", "192.0.2.2/24")
        client_host = net.add_host("client", "192.0.2.1/24")
        net.link(server_host, client_host, delay=0.001)
        server_host.sysctl["net.ipv4.tcp_syncookies"] = 2  # always send cookies
        got: list[bytes] = []

        def server() -> None:
            srv = socket.create_server(("0.0.0.0", 80))
            conn, _ = srv.accept()
            got.append(conn.recv(100))

        def client() -> None:
            conn = socket.create_connection(("192.0.2.2", 80))
            conn.sendall(b"through a cookie")

        net.spawn(server_host, server)
        net.spawn(client_host, client)
        net.run(until=10)
        counters = server_host.counters
        assert got == [b"through a cookie"]
        assert counters["TcpExtSyncookiesSent"] == 1
        assert counters["TcpExtSyncookiesRecv"] == 1

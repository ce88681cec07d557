"""A TCP Fast Open client against a server without Fast Open (RFC 7413 §4.2.2: the
SYN-ACK acknowledges only the SYN, and the data goes again at once). The cookie is
put in the client's cache by hand, as an earlier connection to a Fast Open server would
have (tcpkit has no Fast Open server). packetdrill's fastopen client scripts check the
packets against Linux's."""

from __future__ import annotations

import errno
import socket as stdlib

import pytest

from tcpkit.links.sim import Network
from tcpkit.tcp.events import FastOpenLearned
from tests.conftest import two_hosts

TCP_FASTOPEN_CONNECT, MSG_FASTOPEN = 30, 0x20000000
COOKIE = bytes.fromhex("abcd1234")


def run(client_body: object) -> dict[str, object]:
    seen: dict[str, object] = {}
    with Network() as net:
        a, b, _ = two_hosts(net)
        a.fastopen_cache.learned("192.0.2.2", FastOpenLearned(1460, COOKIE, False, False, 0))

        def server() -> None:
            from tcpkit import socket
            listener = socket.create_server(("0.0.0.0", 80))
            conn, _ = listener.accept()
            got = b""
            while chunk := conn.recv(10000):
                got += chunk
            seen["server got"] = got
            conn.close()

        net.spawn(b, server)
        net.spawn(a, client_body, seen, a)  # type: ignore[arg-type]
        net.run()
        seen["segments out"] = a.counters["TcpOutSegs"]
    return seen


def test_deferred_connect_then_the_first_write_sends_the_syn_with_data() -> None:
    def client(seen: dict[str, object], host: object) -> None:
        from tcpkit import socket
        conn = socket.socket()
        conn.setsockopt(stdlib.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
        assert conn.getsockopt(stdlib.IPPROTO_TCP, TCP_FASTOPEN_CONNECT) == 1
        conn.connect(("192.0.2.2", 80))  # returns at once: no SYN yet
        seen["after connect"] = host.counters["TcpOutSegs"]  # type: ignore[attr-defined]
        with pytest.raises(OSError) as caught:
            conn.connect(("192.0.2.2", 80))
        seen["connect again"] = caught.value.errno
        seen["sent"] = conn.send(b"hello, fast open")
        conn.close()

    seen = run(client)
    assert seen["after connect"] == 0 and seen["connect again"] == errno.EISCONN
    assert seen["sent"] == 16 and seen["server got"] == b"hello, fast open"


def test_sendto_with_msg_fastopen_opens_the_connection() -> None:
    def client(seen: dict[str, object], host: object) -> None:
        from tcpkit import socket
        conn = socket.socket()
        conn.setblocking(False)
        seen["sent"] = conn.sendto(b"x" * 2000, MSG_FASTOPEN, ("192.0.2.2", 80))
        with pytest.raises(OSError) as caught:
            conn.sendto(b"y", MSG_FASTOPEN, ("192.0.2.2", 80))
        seen["again"] = caught.value.errno
        conn.setblocking(True)
        conn.sendall(b"x" * (2000 - int(seen["sent"])))  # type: ignore[call-overload]
        conn.close()

    seen = run(client)
    # An MSS (1460) less 40 bytes of option room went in the SYN.
    assert seen["sent"] == 1420 and seen["again"] == errno.EALREADY
    assert seen["server got"] == b"x" * 2000


def test_a_deferred_socket_closed_before_writing_sends_nothing() -> None:
    def client(seen: dict[str, object], host: object) -> None:
        from tcpkit import socket
        conn = socket.socket()
        conn.setsockopt(stdlib.IPPROTO_TCP, TCP_FASTOPEN_CONNECT, 1)
        conn.connect(("192.0.2.2", 80))
        conn.close()
        fresh = socket.create_connection(("192.0.2.2", 80))  # the port was given back
        fresh.sendall(b"ok")
        fresh.close()

    seen = run(client)
    assert seen["server got"] == b"ok"

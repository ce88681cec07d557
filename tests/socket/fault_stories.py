"""Failure stories that need two hosts and a cable: each runs unchanged in the kernel's
world and in tcpkit's (tests/socket/worlds.py) and returns what its calls observed
(return values and errno names) and how long the slow ones took."""

from __future__ import annotations

import errno
import socket as stdlib
import struct
from collections.abc import Callable
from typing import Any

from tcpkit.lab.worlds import B, World
from tests.socket.semantics import outcome

PORT = 5555
Told = tuple[list[Any], dict[str, float]]


def _serve_one(w: World, then: Callable[[Any], None] | None = None) -> Callable[[], None]:
    """An actor for ``b``: listen, accept one connection, keep it (or hand it on)."""
    def server() -> None:
        srv = w.sk.create_server(("0.0.0.0", PORT))
        w.keep(srv)
        conn, _ = srv.accept()
        w.keep(conn)
        if then is not None:
            then(conn)
    return server


def _timed(w: World, times: dict[str, float], name: str, call: Callable[[], Any]) -> Any:
    start = w.now()
    try:
        return outcome(call)
    finally:
        times[name] = w.now() - start


def _peer_vanishes(w: World, setup: Callable[[Any], None], payload: bytes,
                   timeout: float) -> Told:
    """Connect, configure the socket, unplug the cable, maybe send, then see how long
    recv() blocks and what the socket says afterwards."""
    seen: list[Any] = []
    times: dict[str, float] = {}

    def client() -> None:
        w.sleep(0.2)
        conn = w.sk.create_connection((B, PORT))
        setup(conn)
        w.sleep(0.1)  # the handshake's last ACK reaches the server before the unplug
        w.unplug()
        if payload:
            seen.append(conn.send(payload))
        seen.append(_timed(w, times, "recv", lambda: conn.recv(10)))
        seen.extend([outcome(lambda: conn.recv(10)), outcome(lambda: conn.send(b"x")),
                     conn.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR)])
        w.replug()
        conn.close()

    w.spawn("b", _serve_one(w))
    w.spawn("a", client)
    w.run(timeout)
    return seen, times


def keepalive_on_unplugged_peer(w: World) -> Told:
    """The half-open connection only keepalive finds: idle 1 s, 2 probes 1 s apart."""
    def keepalive(conn: Any) -> None:
        conn.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_KEEPALIVE, 1)
        conn.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_KEEPIDLE, 1)
        conn.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_KEEPINTVL, 1)
        conn.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_KEEPCNT, 2)
    return _peer_vanishes(w, keepalive, b"", 30)


def user_timeout_with_unacked_data(w: World) -> Told:
    """TCP_USER_TIMEOUT 2 s: data sent into an unplugged cable gives up after it."""
    return _peer_vanishes(w, lambda conn: conn.setsockopt(
        stdlib.IPPROTO_TCP, stdlib.TCP_USER_TIMEOUT, 2000), b"are you there?", 30)


def retries2_exhausted(w: World) -> Told:
    """tcp_retries2=3: the retransmission timer gives up on unacknowledged data."""
    w.sysctl("a", "net.ipv4.tcp_retries2", 3)
    return _peer_vanishes(w, lambda conn: None, b"x" * 100, 60)


def syn_retries_exhausted(w: World) -> Told:
    """tcp_syn_retries=2 and nobody answers: the SYN is sent 3 times, 1+2+4 s."""
    seen: list[Any] = []
    times: dict[str, float] = {}
    w.sysctl("a", "net.ipv4.tcp_syn_retries", 2)

    def client() -> None:
        w.unplug()
        conn = w.sk.socket()
        seen.append(_timed(w, times, "connect", lambda: conn.connect((B, PORT))))
        seen.append(outcome(lambda: conn.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR)))
        w.replug()
        conn.close()

    w.spawn("a", client)
    w.run(30)
    return seen, times


def no_route(w: World) -> Told:
    """A destination outside every route: ENETUNREACH at once, nothing sent."""
    seen: list[Any] = []
    times: dict[str, float] = {}

    def client() -> None:
        conn = w.sk.socket()
        seen.append(_timed(w, times, "connect", lambda: conn.connect(("198.51.100.7", 80))))
        seen.append(outcome(lambda: conn.connect(("198.51.100.7", 80))))
        conn.close()

    w.spawn("a", client)
    w.run(10)
    return seen, times


def dead_neighbour(w: World) -> Told:
    """An address on our own subnet that nobody answers ARP for: EHOSTUNREACH once the
    neighbour probes are exhausted."""
    seen: list[Any] = []
    times: dict[str, float] = {}

    def client() -> None:
        conn = w.sk.socket()
        seen.append(_timed(w, times, "connect", lambda: conn.connect(("192.0.2.9", PORT))))
        seen.append(outcome(lambda: conn.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR)))
        conn.close()

    w.spawn("a", client)
    w.run(20)
    return seen, times


def peer_rebooted(w: World) -> Told:
    """The peer lost its connections without a word (unplugged, its sockets dropped,
    plugged back): our next segment meets a RST."""
    seen: list[Any] = []

    def crash(conn: Any) -> None:
        w.sleep(0.3)
        w.unplug()
        conn.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        w.replug()

    def client() -> None:
        w.sleep(0.2)
        conn = w.sk.create_connection((B, PORT))
        w.sleep(1)
        seen.append(conn.send(b"hello?"))
        seen.extend([outcome(lambda: conn.recv(10)), outcome(lambda: conn.recv(10)),
                     outcome(lambda: conn.send(b"x"))])
        conn.close()

    w.spawn("b", _serve_one(w, crash))
    w.spawn("a", client)
    w.run(10)
    return seen, {}


def refused_after_reboot(w: World) -> Told:
    """After the crash the service is not back yet: a new connect is refused."""
    seen: list[Any] = []

    def server() -> None:
        srv = w.sk.create_server(("0.0.0.0", PORT))
        w.sleep(0.5)
        srv.close()

    def client() -> None:
        w.sleep(0.2)
        first = w.sk.create_connection((B, PORT))
        w.keep(first)
        w.sleep(0.5)
        seen.append(w.sk.socket().connect_ex((B, PORT)))

    w.spawn("b", server)
    w.spawn("a", client)
    w.run(10)
    return seen, {}


def ephemeral_ports_exhausted(w: World) -> Told:
    """Two ephemeral ports: a third connection to the same service finds none, another
    service shares them (a port is unique per 4-tuple), bind(port 0) needs a free one."""
    seen: list[Any] = []
    w.sysctl("a", "net.ipv4.ip_local_port_range", "40000 40001")

    def server() -> None:
        for port in (PORT, PORT + 1):
            srv = w.sk.create_server(("0.0.0.0", port))
            w.keep(srv)

    def client() -> None:
        w.sleep(0.2)
        socks = [w.sk.socket() for _ in range(6)]
        for sock in socks:
            w.keep(sock)
        codes = [socks[i].connect_ex((B, port)) for i, port in
                 enumerate((PORT, PORT, PORT, PORT + 1, PORT + 1))]
        seen.append([errno_name(code) for code in codes])
        seen.append(sorted({s.getsockname()[1] for s in socks[:5] if s.getsockname()[1]}))
        seen.append(outcome(lambda: socks[5].bind(("0.0.0.0", 0))))
        socks[0].close()
        seen.append(outcome(lambda: socks[5].bind(("0.0.0.0", 0))))

    w.spawn("b", server)
    w.spawn("a", client)
    w.run(10)
    return seen, {}


def established_count(w: World) -> Told:
    """TcpCurrEstab on both hosts as three connections open and close one by one (a
    connection in CLOSE_WAIT still counts, one in FIN_WAIT_2 does not)."""
    seen: list[Any] = []

    def count() -> None:
        w.sleep(0.1)
        seen.append((w.counter("a", "TcpCurrEstab"), w.counter("b", "TcpCurrEstab")))

    def server() -> None:
        srv = w.sk.create_server(("0.0.0.0", PORT))
        conns = [srv.accept()[0] for _ in range(3)]
        w.sleep(0.5)  # the client closes the first one meanwhile: CLOSE_WAIT here
        conns[0].close()
        for conn in conns[1:]:
            w.keep(conn)
        w.keep(srv)

    def client() -> None:
        w.sleep(0.2)
        conns = [w.sk.create_connection((B, PORT)) for _ in range(3)]
        count()
        conns[0].close()
        count()
        w.sleep(0.5)
        count()
        conns[1].setsockopt(stdlib.SOL_SOCKET, stdlib.SO_LINGER, struct.pack("ii", 1, 0))
        conns[1].close()
        count()
        w.keep(conns[2])

    w.spawn("b", server)
    w.spawn("a", client)
    w.run(10)
    return seen, {}


def connect_rejected(w: World) -> Told:
    """A firewall on the server answers the SYN with ICMP destination unreachable: any
    code ends connect() at once with its errno (RFC 1122 §4.2.3.9 lets SYN-SENT treat it
    as hard; Linux icmp_err_convert names the errno)."""
    seen: list[Any] = []
    times: dict[str, float] = {}

    def client() -> None:
        for kind in ("port-unreachable", "host-unreachable", "admin-prohibited",
                     "net-unreachable"):
            w.reject(kind)
            conn = w.sk.socket()
            seen.append(_timed(w, times, kind, lambda: conn.connect((B, PORT))))  # noqa: B023
            seen.append(outcome(lambda: conn.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR)))  # noqa: B023
            conn.close()
            w.reject(None)

    w.spawn("a", client)
    w.run(10)
    return seen, times


def _rejected_midway(w: World, kind: str, then: Callable[[Any, list[Any]], None]) -> Told:
    """Connected (tcp_retries2=3), then the server's firewall starts rejecting with
    ``kind`` and 100 bytes are sent into it; ``then`` goes on from there."""
    seen: list[Any] = []
    w.sysctl("a", "net.ipv4.tcp_retries2", 3)

    def client() -> None:
        w.sleep(0.2)
        conn = w.sk.create_connection((B, PORT))
        w.sleep(0.1)
        w.reject(kind)
        seen.append(conn.send(b"x" * 100))
        then(conn, seen)
        w.reject(None)
        conn.close()

    w.spawn("b", _serve_one(w))
    w.spawn("a", client)
    w.run(60)
    return seen, {}


def _until_given_up(w: World, kind: str) -> Told:
    """ICMP errors while connected are soft: the retransmissions go on until
    tcp_retries2 gives up, and the error reported is the ICMP's, not ETIMEDOUT (Linux
    tcp_write_err)."""
    times: dict[str, float] = {}

    def then(conn: Any, seen: list[Any]) -> None:
        seen.append(_timed(w, times, "recv", lambda: conn.recv(10)))
        seen.extend([outcome(lambda: conn.send(b"x")),
                     conn.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR)])
        seen.append({name: w.counter("a", name) for name in (
            "TcpRetransSegs", "IcmpInDestUnreachs", "TcpExtOutOfWindowIcmps")})

    return _rejected_midway(w, kind, then)[0], times


def host_unreachable_while_established(w: World) -> Told:
    """Host unreachable also undoes the RTO backoff (RFC 6069): the retransmissions
    probe at the base RTO while the ICMP keeps coming."""
    return _until_given_up(w, "host-unreachable")


def port_unreachable_while_established(w: World) -> Told:
    """Port unreachable: soft, no backoff revert; ECONNREFUSED once retries run out."""
    return _until_given_up(w, "port-unreachable")


def soft_error_read_early(w: World) -> Told:
    """SO_ERROR shows a soft ICMP error while TCP still retries, and reading it clears
    it: when the retries later run out in silence, the error is ETIMEDOUT."""
    times: dict[str, float] = {}

    def then(conn: Any, seen: list[Any]) -> None:
        w.sleep(0.5)
        seen.append(conn.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR))
        seen.append(conn.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR))
        w.unplug()
        w.reject(None)
        seen.append(_timed(w, times, "recv", lambda: conn.recv(10)))
        w.replug()

    return _rejected_midway(w, "port-unreachable", then)[0], times


def errno_name(code: int) -> str:
    return errno.errorcode.get(code, str(code)) if code else "ok"


STORIES = [keepalive_on_unplugged_peer, user_timeout_with_unacked_data, retries2_exhausted,
           syn_retries_exhausted, no_route, dead_neighbour, peer_rebooted,
           refused_after_reboot, ephemeral_ports_exhausted, established_count,
           connect_rejected, host_unreachable_while_established,
           port_unreachable_while_established, soft_error_read_early]

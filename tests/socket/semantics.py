"""Socket stories that run unchanged on the kernel and on tcpkit, each returning what
its calls observed (return values and errno names, never port numbers)."""

from __future__ import annotations

import errno
import select
import socket as stdlib
import struct
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

Observed = list[Any]


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or the errno name it failed with (timeouts included)."""
    try:
        result = call()
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, repr(exc))
    return result


def _listener(sk: ModuleType, backlog: int = 5) -> tuple[Any, int]:
    srv = sk.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(backlog)
    return srv, srv.getsockname()[1]


def _pair(sk: ModuleType) -> tuple[Any, Any, Any]:
    srv, port = _listener(sk)
    cli = sk.socket()
    cli.connect(("127.0.0.1", port))
    conn, _ = srv.accept()
    return srv, cli, conn


def connect_to_closed_port(sk: ModuleType) -> Observed:
    srv, port = _listener(sk)
    srv.close()
    cli = sk.socket()
    first = cli.connect_ex(("127.0.0.1", port))
    again = cli.connect_ex(("127.0.0.1", port))
    return [errno.errorcode.get(first, first), errno.errorcode.get(again, again),
            outcome(lambda: cli.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR))]


def close_with_unread_data(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    cli.sendall(b"request the server never reads")
    conn.close()  # unread data: RST, not FIN (RFC 2525 §2.17)
    return [outcome(lambda: cli.recv(100)), outcome(lambda: cli.recv(100)),
            outcome(lambda: cli.send(b"x"))]


def answer_then_reset(sk: ModuleType) -> Observed:
    """The demo's story: an answer, then a RST for the unread request body."""
    srv, cli, conn = _pair(sk)
    cli.sendall(b"POST / HTTP/1.1\r\n" + b"x" * 2000)
    first = conn.recv(17)
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    conn.close()
    cli.settimeout(2)
    return [first, outcome(lambda: cli.recv(4096)), outcome(lambda: cli.recv(4096)),
            outcome(lambda: cli.recv(4096))]


def linger_zero(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    cli.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_LINGER, struct.pack("ii", 1, 0))
    cli.close()
    return [outcome(lambda: conn.recv(100)), outcome(lambda: conn.recv(100))]


def send_after_peer_closed(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    conn.close()
    return [outcome(lambda: cli.recv(10)), outcome(lambda: cli.send(b"first")),
            outcome(lambda: cli.send(b"second")), outcome(lambda: cli.send(b"third")),
            outcome(lambda: cli.recv(10))]


def reset_before_accept(sk: ModuleType) -> Observed:
    srv, port = _listener(sk)
    cli = sk.socket()
    cli.connect(("127.0.0.1", port))
    cli.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_LINGER, struct.pack("ii", 1, 0))
    cli.close()
    conn, _ = srv.accept()
    return [outcome(lambda: conn.recv(10)), outcome(lambda: conn.recv(10)),
            outcome(lambda: conn.send(b"x"))]


def half_close(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    cli.sendall(b"question")
    cli.shutdown(stdlib.SHUT_WR)
    got = conn.recv(100)
    eof = conn.recv(100)
    conn.sendall(b"answer")
    conn.close()
    return [got, eof, cli.recv(100), cli.recv(100), outcome(lambda: cli.send(b"x"))]


def nonblocking_calls(sk: ModuleType) -> Observed:
    srv, port = _listener(sk)
    srv.setblocking(False)
    seen = [outcome(srv.accept)]
    cli = sk.socket()
    cli.setblocking(False)
    seen.append(outcome(lambda: cli.recv(1)))
    seen.append(outcome(lambda: cli.connect(("127.0.0.1", port))))
    seen.append(outcome(lambda: cli.connect(("127.0.0.1", port))))
    conn, _ = srv.accept()
    conn.setblocking(False)
    seen.append(outcome(lambda: conn.recv(1)))
    cli.send(b"data")
    seen.append(outcome(lambda: conn.recv(100)))
    seen.append(outcome(srv.accept))
    return seen


def not_connected(sk: ModuleType) -> Observed:
    s = sk.socket()
    return [outcome(lambda: s.recv(1)), outcome(s.getpeername),
            outcome(lambda: s.shutdown(stdlib.SHUT_RDWR)), outcome(lambda: s.send(b"x")),
            s.getsockname()]


def already_connected(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    port = srv.getsockname()[1]
    return [outcome(lambda: cli.connect(("127.0.0.1", port))),
            outcome(lambda: cli.listen(1)), outcome(lambda: cli.bind(("127.0.0.1", 0))),
            outcome(conn.accept), outcome(lambda: srv.connect(("127.0.0.1", port)))]


def invalid_arguments(sk: ModuleType) -> Observed:
    s = sk.socket()
    s.bind(("127.0.0.1", 0))
    return [outcome(lambda: s.bind(("127.0.0.1", 0))), outcome(s.accept),
            outcome(lambda: s.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_KEEPCNT, 0)),
            outcome(lambda: s.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_KEEPIDLE, 40000)),
            outcome(lambda: s.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_USER_TIMEOUT, -1)),
            outcome(lambda: s.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_MAXSEG, 10)),
            outcome(lambda: sk.socket().bind(("192.0.2.99", 0)))]


def _type_error(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except TypeError:
        return "TypeError"


def not_a_buffer(sk: ModuleType) -> Observed:
    """None or a str where bytes belong, a read-only buffer to read into: TypeError
    before the connection is touched (C's EFAULT); what is sent and read after is whole."""
    srv, cli, conn = _pair(sk)
    cli.settimeout(2)
    conn.settimeout(2)
    seen = [_type_error(lambda: cli.send(None)), _type_error(lambda: cli.sendall("text")),
            _type_error(lambda: cli.send(bytearray(b"ab"))),
            _type_error(lambda: cli.send(memoryview(b"cdef")[1:3]))]
    got = bytearray(10)
    seen.append(_type_error(lambda: conn.recv_into(None)))
    seen.append(_type_error(lambda: conn.recv_into(b"read-only")))
    seen.append(conn.recv_into(got))
    seen.append(bytes(got[:4]))
    return seen


def _value_error(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ValueError as exc:
        return f"ValueError: {exc}"


def recv_into_sizes(sk: ModuleType) -> Observed:
    """recv_into's size checks, then reads that cut the queued writes at odd places, peek
    included: each byte arrives once, in order, into the right place of the buffer."""
    srv, cli, conn = _pair(sk)
    conn.settimeout(2)
    buf = bytearray(8)
    seen = [_value_error(lambda: conn.recv_into(buf, 9)),
            _value_error(lambda: conn.recv_into(buf, -1)),
            _value_error(lambda: conn.recv(-1))]
    for part in (b"abc", b"defgh", b"ijklmnopq", b"r"):
        cli.send(part)
        time.sleep(0.05)  # one segment each, so the queue holds them apart
    view = memoryview(buf)
    seen.append(conn.recv_into(view[2:], 4, stdlib.MSG_PEEK))
    seen.append(bytes(buf))
    for size in (2, 5, 8, 3):
        n = conn.recv_into(buf, size)
        seen.append((n, bytes(buf[:n])))
    cli.close()
    seen.append(conn.recv_into(buf))
    return seen


def address_in_use(sk: ModuleType) -> Observed:
    a = sk.socket()
    a.bind(("127.0.0.1", 0))
    port = a.getsockname()[1]
    seen = [outcome(lambda: sk.socket().bind(("127.0.0.1", port))),
            outcome(lambda: sk.socket().bind(("0.0.0.0", port)))]
    a.close()
    r1, r2 = sk.socket(), sk.socket()
    for s in (r1, r2):
        s.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_REUSEADDR, 1)
    r1.bind(("127.0.0.1", 0))
    port = r1.getsockname()[1]
    seen.append(outcome(lambda: r2.bind(("127.0.0.1", port))))
    seen.append(outcome(lambda: r1.listen(1)))
    seen.append(outcome(lambda: r2.listen(1)))
    r3 = sk.socket()
    r3.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_REUSEADDR, 1)
    seen.append(outcome(lambda: r3.bind(("127.0.0.1", port))))
    return seen


def time_wait_blocks_bind(sk: ModuleType) -> Observed:
    srv, port = _listener(sk)
    cli = sk.socket()
    cli.bind(("127.0.0.1", 0))
    cport = cli.getsockname()[1]
    cli.connect(("127.0.0.1", port))
    conn, _ = srv.accept()
    cli.close()  # the active closer ends in TIME_WAIT
    eof = conn.recv(10)
    conn.close()
    again = sk.socket()
    seen = [eof, outcome(lambda: again.bind(("127.0.0.1", cport)))]
    reuse = sk.socket()
    reuse.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_REUSEADDR, 1)
    seen.append(outcome(lambda: reuse.bind(("127.0.0.1", cport))))
    # The server side has no TIME_WAIT: its port is free once the listener closes.
    srv.close()
    fresh = sk.socket()
    seen.append(outcome(lambda: fresh.bind(("127.0.0.1", port))))
    return seen


def server_restart_needs_reuseaddr(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    port = srv.getsockname()[1]
    conn.close()  # the server closes first: its side goes to TIME_WAIT
    cli.recv(10)
    cli.close()
    srv.close()
    plain = sk.socket()
    seen = [outcome(lambda: plain.bind(("127.0.0.1", port)))]
    reuse = sk.socket()
    reuse.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_REUSEADDR, 1)
    seen.append(outcome(lambda: reuse.bind(("127.0.0.1", port))))
    seen.append(outcome(lambda: reuse.listen(5)))
    return seen


def accept_queue_overflow(sk: ModuleType) -> Observed:
    srv, port = _listener(sk, backlog=1)
    seen = []
    clients = []
    for _ in range(4):
        c = sk.socket()
        c.setblocking(False)
        seen.append(outcome(lambda c=c: c.connect(("127.0.0.1", port))))
        clients.append(c)
    srv.setblocking(False)
    accepted = 0
    while outcome(srv.accept) != "EAGAIN":
        accepted += 1
    seen.append(accepted)
    return seen


def option_values(sk: ModuleType) -> Observed:
    s = sk.socket()
    get = s.getsockopt
    tcp = stdlib.IPPROTO_TCP
    seen = [get(stdlib.SOL_SOCKET, stdlib.SO_KEEPALIVE), get(tcp, stdlib.TCP_NODELAY),
            get(tcp, stdlib.TCP_KEEPIDLE), get(tcp, stdlib.TCP_KEEPINTVL),
            get(stdlib.IPPROTO_TCP, stdlib.TCP_KEEPCNT), get(stdlib.IPPROTO_TCP, stdlib.TCP_MAXSEG),
            get(stdlib.SOL_SOCKET, stdlib.SO_RCVBUF), get(stdlib.SOL_SOCKET, stdlib.SO_SNDBUF),
            get(stdlib.SOL_SOCKET, stdlib.SO_ERROR), get(stdlib.SOL_SOCKET, stdlib.SO_TYPE),
            get(stdlib.SOL_SOCKET, stdlib.SO_REUSEADDR),
            get(stdlib.SOL_SOCKET, stdlib.SO_LINGER, 8)]
    s.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_RCVBUF, 8192)
    s.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_SNDBUF, 1)
    s.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_KEEPIDLE, 30)
    s.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_USER_TIMEOUT, 2500)
    s.setsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_MAXSEG, 1000)
    s.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_LINGER, struct.pack("ii", 1, 5))
    seen += [get(stdlib.SOL_SOCKET, stdlib.SO_RCVBUF), get(stdlib.SOL_SOCKET, stdlib.SO_SNDBUF),
             get(stdlib.IPPROTO_TCP, stdlib.TCP_KEEPIDLE),
             get(stdlib.IPPROTO_TCP, stdlib.TCP_USER_TIMEOUT),
             get(stdlib.IPPROTO_TCP, stdlib.TCP_MAXSEG),
             get(stdlib.SOL_SOCKET, stdlib.SO_LINGER, 8)]
    srv, cli, conn = _pair(sk)
    seen += [cli.getsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_MAXSEG),
             conn.getsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_MAXSEG),
             srv.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ACCEPTCONN),
             cli.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ACCEPTCONN),
             cli.getsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_INFO, 104)[0]]
    return seen


def timeouts(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    cli.settimeout(0.05)
    srv.settimeout(0.05)
    return [outcome(lambda: cli.recv(1)), outcome(srv.accept), cli.gettimeout(),
            outcome(lambda: cli.recv(1, stdlib.MSG_DONTWAIT))]


def peek_and_waitall(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    cli.sendall(b"0123456789")
    peeked = conn.recv(4, stdlib.MSG_PEEK)
    buf = bytearray(6)
    n = conn.recv_into(buf)
    rest = conn.recv(4, stdlib.MSG_WAITALL)
    return [peeked, n, bytes(buf), rest]


def connect_completed_by_poll(sk: ModuleType) -> Observed:
    """An event loop's connect: EINPROGRESS, wait until writable, read SO_ERROR, and never
    call connect() again (asyncio's sock_connect)."""
    srv, port = _listener(sk)
    cli = sk.socket()
    cli.setblocking(False)
    started = outcome(lambda: cli.connect(("127.0.0.1", port)))
    conn, _ = srv.accept()
    seen = [started, cli.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR),
            cli.getpeername() == ("127.0.0.1", port), cli.send(b"ping")]
    conn.setblocking(True)
    seen += [conn.recv(10), outcome(lambda: cli.shutdown(stdlib.SHUT_WR)), conn.recv(10)]
    seen.append(outcome(lambda: cli.connect(("127.0.0.1", port))))
    seen.append(outcome(lambda: cli.connect(("127.0.0.1", port))))
    return seen


def names_after_reset(sk: ModuleType) -> Observed:
    srv, cli, conn = _pair(sk)
    conn.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    cli.settimeout(2)
    return [outcome(lambda: cli.recv(1)), outcome(cli.getpeername),
            cli.getsockname()[0], outcome(lambda: cli.shutdown(stdlib.SHUT_RDWR)),
            outcome(lambda: cli.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR))]


def names_after_orderly_close(sk: ModuleType) -> Observed:
    """The active closer keeps its socket open through FIN_WAIT_2 into TIME_WAIT."""
    srv, cli, conn = _pair(sk)
    cli.shutdown(stdlib.SHUT_WR)
    seen = [conn.recv(1), outcome(cli.getpeername) == conn.getsockname()]
    conn.close()
    seen += [cli.recv(1), outcome(cli.getpeername), outcome(lambda: cli.send(b"x")),
             outcome(lambda: cli.shutdown(stdlib.SHUT_RD))]
    return seen


def options_are_per_socket(sk: ModuleType) -> Observed:
    """Accepted sockets inherit the listener's options as they were at the handshake;
    a later change on the listener, or on one sibling, touches no other socket."""
    tcp, sol = stdlib.IPPROTO_TCP, stdlib.SOL_SOCKET

    def options(s: Any) -> list[int]:
        return [s.getsockopt(sol, stdlib.SO_KEEPALIVE), s.getsockopt(tcp, stdlib.TCP_NODELAY),
                s.getsockopt(tcp, stdlib.TCP_KEEPIDLE)]

    srv, port = _listener(sk)
    srv.setsockopt(sol, stdlib.SO_KEEPALIVE, 1)
    srv.setsockopt(tcp, stdlib.TCP_KEEPIDLE, 50)
    first, second = sk.create_connection(("127.0.0.1", port)), sk.socket()
    a, _ = srv.accept()
    srv.setsockopt(tcp, stdlib.TCP_KEEPIDLE, 70)
    second.connect(("127.0.0.1", port))
    b, _ = srv.accept()
    a.setsockopt(tcp, stdlib.TCP_NODELAY, 1)
    first.setsockopt(tcp, stdlib.TCP_KEEPIDLE, 90)
    return [options(s) for s in (srv, a, b, first, second)]


def tcp_info_times(sk: ModuleType) -> Observed:
    """TCP_INFO's milliseconds since data was last sent and received and an ACK last
    received (to the nearest 100 ms: loopback is not instant), after 0.3 s of silence;
    the time since an ACK was last sent is always 0."""
    srv, cli, conn = _pair(sk)
    cli.sendall(b"ping")
    conn.recv(10)
    conn.settimeout(0.3)
    silence = outcome(lambda: conn.recv(1))
    seen: Observed = [silence]
    for s in (cli, conn):
        info = s.getsockopt(stdlib.IPPROTO_TCP, stdlib.TCP_INFO, 104)
        sent, ack_sent, received, ack_received = struct.unpack_from("4I", info, 44)
        seen.append([round(sent, -2), ack_sent, round(received, -2), round(ack_received, -2)])
    return seen


SO_ZEROCOPY, MSG_ZEROCOPY = 60, 0x4000000


def _errqueue(sock: Any, ancbufsize: int = 100) -> Any:
    return outcome(lambda: sock.recvmsg(0, ancbufsize, stdlib.MSG_ERRQUEUE))


def zerocopy_notifications(sk: ModuleType) -> Observed:
    """SO_ZEROCOPY and MSG_ZEROCOPY: each send that takes data is numbered; once its
    data is acknowledged a notification waits on the error queue (select() sees the
    socket readable), consecutive ones merge, EAGAIN when there is none; a short
    ancillary buffer cuts the message (MSG_CTRUNC). Without the option the flag does
    nothing; a failed send takes no number; accepted sockets inherit the option."""
    srv, cli, conn = _pair(sk)
    seen: Observed = [cli.getsockopt(stdlib.SOL_SOCKET, SO_ZEROCOPY),
                      outcome(lambda: cli.setsockopt(stdlib.SOL_SOCKET, SO_ZEROCOPY, 2)),
                      cli.send(b"a" * 100, MSG_ZEROCOPY)]
    time.sleep(0.05)
    seen.append(_errqueue(cli))
    cli.setsockopt(stdlib.SOL_SOCKET, SO_ZEROCOPY, 1)
    seen += [cli.getsockopt(stdlib.SOL_SOCKET, SO_ZEROCOPY),
             select.select([cli], [], [], 0)[0] == [cli]]
    seen += [cli.send(b"x" * 1000, MSG_ZEROCOPY) for _ in range(3)]
    seen.append(cli.send(b"", MSG_ZEROCOPY))
    time.sleep(0.05)
    seen += [select.select([cli], [], [], 0)[0] == [cli], _errqueue(cli), _errqueue(cli)]
    for ancbufsize in (20, 0, 48):
        cli.send(b"y" * 10, MSG_ZEROCOPY)
        time.sleep(0.05)
        seen.append(_errqueue(cli, ancbufsize))
    seen.append(cli.getsockopt(stdlib.SOL_SOCKET, stdlib.SO_ERROR))
    fresh = sk.socket()
    fresh.setsockopt(stdlib.SOL_SOCKET, SO_ZEROCOPY, 1)
    seen.append(outcome(lambda: fresh.send(b"z" * 10, MSG_ZEROCOPY)))
    srv.setsockopt(stdlib.SOL_SOCKET, SO_ZEROCOPY, 1)
    fresh.connect(srv.getsockname())
    accepted, _ = srv.accept()
    seen.append(accepted.getsockopt(stdlib.SOL_SOCKET, SO_ZEROCOPY))
    fresh.send(b"z" * 10, MSG_ZEROCOPY)
    time.sleep(0.05)
    seen.append(_errqueue(fresh))
    return seen


STORIES = [connect_to_closed_port, close_with_unread_data, answer_then_reset, linger_zero,
           send_after_peer_closed, reset_before_accept, half_close, nonblocking_calls,
           not_connected, already_connected, invalid_arguments, address_in_use,
           time_wait_blocks_bind, server_restart_needs_reuseaddr, accept_queue_overflow,
           option_values, timeouts, peek_and_waitall, connect_completed_by_poll,
           names_after_reset, names_after_orderly_close, options_are_per_socket,
           tcp_info_times, not_a_buffer, recv_into_sizes, zerocopy_notifications]

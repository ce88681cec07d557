"""A connection's life and the states it leaves behind (seed 001): the handshake and the
four-way close, half-close, TIME_WAIT and EADDRINUSE, ports used up by TIME_WAIT, a
CLOSE_WAIT leak, and the FIN_WAIT_2 timeout."""

from __future__ import annotations

import contextlib

from tcpkit.lab.calls import LoggedSockets
from tcpkit.lab.run import Outcome
from tcpkit.lab.scenario import CLIENT as CLIENT_ADDRESS
from tcpkit.lab.scenario import PORT, Knob, Scenario, Stage, register

# A program that reads the end of file and closes at once races the kernel's delayed
# ACK of the FIN (40 ms): whether the ACK rides on the program's FIN depends on how fast
# the program runs. Programs here take a moment first, so the ACK always goes alone.
AFTER_EOF = 0.1


def _final_states(outcome: Outcome) -> str:
    last: dict[tuple[str, str, str], str] = {}
    for record in outcome.states:
        last[(record.host, record.local, record.remote)] = record.new
    return ", ".join(f"{host} {state}" for (host, _, _), state in last.items())


# -- handshake and four-way close --------------------------------------------------------

def _hello(stage: Stage) -> None:
    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        conn.sendall(conn.recv(100))
        conn.recv(100)
        stage.sleep(AFTER_EOF)
        conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.sendall(b"hello\n")
        conn.recv(100)
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="handshake-and-close",
    title="a whole connection: three-way handshake, an echo, four-way close, TIME_WAIT",
    seed="001",
    description=("The client connects, sends a line, reads the echo and closes; the server "
                 "reads the end of file and closes too."),
    play=_hello,
    explain=lambda outcome: (
        "SYN, SYN-ACK, ACK open the connection (RFC 9293 §3.5): each side picks its "
        "initial sequence number and learns the other's, and the options (MSS, window "
        "scale, SACK, timestamps) are agreed. The line and its echo each get an ACK. The "
        "client closes first: its FIN takes it to FIN_WAIT_1, the ACK to FIN_WAIT_2; the "
        "server's read returns b'' (CLOSE_WAIT) and its close sends the second FIN "
        "(LAST_ACK). The side that closed first ends in TIME_WAIT for 60 s on Linux "
        "(2 MSL, RFC 9293 §3.6.1), so that a late segment of this connection cannot "
        "be taken for part of a new one with the same ports. Final states: "
        + _final_states(outcome) + "."),
))


# -- half-close ----------------------------------------------------------------------

def _half_close(stage: Stage) -> None:
    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        while conn.recv(100):  # the whole request, up to the client's FIN
            pass
        stage.sleep(0.05)  # working on the answer while in CLOSE_WAIT
        conn.sendall(b"part one\n")
        stage.sleep(0.05)
        conn.sendall(b"part two\n")
        conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.sendall(b"the request\n")
        conn.shutdown(sk.SHUT_WR)  # no more requests: FIN_WAIT_2, still reading
        while conn.recv(100):
            pass
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="half-close",
    title="shutdown(SHUT_WR): one direction ends, the other goes on (FIN_WAIT_2, CLOSE_WAIT)",
    seed="001",
    description=("The client sends its request and shuts down its sending side; the server "
                 "reads to the end of file, then answers in two parts and closes."),
    play=_half_close,
    explain=lambda outcome: (
        "shutdown(SHUT_WR) sends a FIN but keeps the socket open for reading: the client "
        "waited in FIN_WAIT_2 while the server, in CLOSE_WAIT, still sent its answer "
        f"(client reads: {', '.join(outcome.results('client', '.recv('))}). Each "
        "direction of a TCP connection closes on its own. This is how a client says "
        "'that is the whole request' without a length prefix, and why a FIN alone does "
        "not mean the peer is gone."),
))


# -- TIME_WAIT keeps the port: EADDRINUSE ------------------------------------------------

def _time_wait_bind(stage: Stage) -> None:
    knobs = stage.knobs

    def listen(sk: LoggedSockets) -> object:
        listener = sk.socket()
        if knobs["reuseaddr"]:
            listener.setsockopt(sk.SOL_SOCKET, sk.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", PORT))
        listener.listen(5)
        return listener

    def server(sk: LoggedSockets) -> None:
        listener = listen(sk)
        conn, _ = listener.accept()  # type: ignore[attr-defined]
        conn.close()  # the server closes first: its side ends in TIME_WAIT
        listener.close()  # type: ignore[attr-defined]
        stage.sleep(0.1)  # the server restarts
        listen(sk)

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.recv(100)
        stage.sleep(AFTER_EOF)
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_time_wait(outcome: Outcome) -> str:
    binds = outcome.results("server", ".bind(")
    if outcome.knobs["reuseaddr"]:
        return ("With SO_REUSEADDR on the listening socket (and so on the connections it "
                "accepted), the restarted server's bind() succeeded "
                f"({', then '.join(binds)}) although the old connection still sits in "
                "TIME_WAIT: Linux lets a socket with SO_REUSEADDR bind a port whose "
                "other users are all SO_REUSEADDR and not listening. Servers set it; "
                "Python's create_server() does so for you.")
    return ("The server closed the connection first, so its side went to TIME_WAIT for "
            "60 s, still holding the port. The restarted server's bind() then failed: "
            f"{binds[-1]} ('Address already in use'). Set SO_REUSEADDR before bind() "
            "(try --set reuseaddr=1); do not shorten TIME_WAIT, it protects new "
            "connections from the old one's late segments.")


register(Scenario(
    name="time-wait-eaddrinuse",
    title="the server closes first and restarts: TIME_WAIT holds the port, bind() "
          "EADDRINUSE",
    seed="001",
    description=("A server without SO_REUSEADDR accepts a connection, closes it first, "
                 "exits and is started again on the same port."),
    play=_time_wait_bind,
    explain=_explain_time_wait,
    knobs=(Knob("reuseaddr", 0, "1: the server sets SO_REUSEADDR"),),
))


# -- ports used up by TIME_WAIT ----------------------------------------------------------

PORTS = (40000, 40009)  # a range of ten ports, so that it runs out quickly


def _port_exhaustion(stage: Stage) -> None:
    knobs = stage.knobs
    stage.sysctl("client", "net.ipv4.ip_local_port_range", PORTS)
    stage.sysctl("client", "net.ipv4.tcp_tw_reuse", knobs["tw_reuse"])
    count = PORTS[1] - PORTS[0] + 3  # every port, one too many, one more a second later

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        listener.settimeout(1.5)  # serve until the client stops coming
        with contextlib.suppress(TimeoutError):
            while True:
                conn, _ = listener.accept()
                conn.recv(100)
                # Writing a log line: the ACK of the client's FIN (delayed up to 40 ms)
                # goes out before this close, on any cable.
                stage.sleep(0.05)
                conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        for i in range(count):
            if i == count - 1:
                stage.sleep(1.1)  # tcp_tw_reuse takes a TIME_WAIT a second old
            try:
                conn = sk.create_connection((stage.server, PORT))
            except OSError:
                continue
            conn.close()  # the client closes first: its port waits in TIME_WAIT
            stage.sleep(0.01)

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_ports(outcome: Outcome) -> str:
    results = outcome.results("client", "create_connection")
    failed = sum(1 for r in results if not r.startswith("sock"))
    times = "once" if failed == 1 else f"{failed} times"
    text = (f"The client's ephemeral ports were limited to {PORTS[0]}-{PORTS[1]} "
            "(net.ipv4.ip_local_port_range; Linux's default gives 28,232). Each "
            "connection it closed first left its port in TIME_WAIT for 60 s, bound to "
            "the same server address and port. ")
    if outcome.knobs["tw_reuse"] == 1:
        return text + (
            f"Connections: {', '.join(results)}. The eleventh found no free port "
            "(EADDRNOTAVAIL, 'Cannot assign requested address'); a second later "
            "net.ipv4.tcp_tw_reuse=1 let connect() take over a TIME_WAIT port, which is "
            "safe with timestamps (PAWS tells old segments apart).")
    return text + (
        f"Connections: {', '.join(results)}. Once all ten waited, connect() failed with "
        f"EADDRNOTAVAIL ({times}), even after a second: Linux's default "
        "tcp_tw_reuse=2 reuses TIME_WAIT only for loopback. A client making many short "
        "connections should reuse them (keep-alive, pooling), or set tcp_tw_reuse=1 "
        "(try --set tw_reuse=1), or let the server close first.")


register(Scenario(
    name="port-exhaustion",
    title="short connections closed by the client: TIME_WAIT uses up the ports, "
          "EADDRNOTAVAIL",
    seed="001",
    description=("With ten ephemeral ports, the client opens and closes connections to "
                 "one server port until connect() fails, then tries once more after a "
                 "second."),
    play=_port_exhaustion,
    explain=_explain_ports,
    knobs=(Knob("tw_reuse", 2, "net.ipv4.tcp_tw_reuse on the client (0, 1, 2)"),),
))


# -- a CLOSE_WAIT leak -------------------------------------------------------------------

def _close_wait_leak(stage: Stage) -> None:
    knobs = stage.knobs

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        for _ in range(knobs["clients"]):
            conn, _ = listener.accept()
            conn.recv(100)
            conn.recv(100)  # b'': the client is done ...
            if knobs["fix"]:
                stage.sleep(AFTER_EOF)
                conn.close()
            else:
                stage.keep(conn)  # ... but this server forgets to close
        stage.sleep(0.1)
        stage.nstat("server", "TcpCurrEstab")

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        for _ in range(knobs["clients"]):
            conn = sk.create_connection((stage.server, PORT))
            conn.sendall(b"request\n")
            conn.close()
            stage.sleep(0.01)

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_close_wait(outcome: Outcome) -> str:
    count = outcome.first("nstat")
    if outcome.knobs["fix"]:
        return (f"The server closed each connection after the end of file: TcpCurrEstab "
                f"is {count}, the clients' sides went through TIME_WAIT, nothing leaks.")
    return (
        "Each client closed; the server read b'' and never called close(). Its side of "
        "every connection stays in CLOSE_WAIT for as long as the process lives: TCP "
        "waits for the application, and no timer ends it. TcpCurrEstab (ESTABLISHED "
        f"plus CLOSE_WAIT) reads {count}; `ss -tan state close-wait` would list them, "
        "each holding a file descriptor. The clients' sides wait in FIN_WAIT_2, and "
        "Linux drops those after tcp_fin_timeout (60 s). Many CLOSE_WAIT sockets always "
        "mean a program that does not close: close on b'', on errors, and in finally "
        "blocks (try --set fix=1).")


register(Scenario(
    name="close-wait-leak",
    title="a server that never closes: CLOSE_WAIT piles up",
    seed="001",
    description=("Clients connect, send a request and close; the server reads to the end "
                 "of file but forgets to close its socket."),
    play=_close_wait_leak,
    explain=_explain_close_wait,
    knobs=(Knob("clients", 3, "how many clients come and go"),
           Knob("fix", 0, "1: the server closes after the end of file")),
))


# -- FIN_WAIT_2 times out ----------------------------------------------------------------

FIN_TIMEOUT = 2  # net.ipv4.tcp_fin_timeout, shortened on both (Linux: 60 s)


def _fin_wait_2(stage: Stage) -> None:
    stage.sysctl("client", "net.ipv4.tcp_fin_timeout", FIN_TIMEOUT)

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        stage.sleep(FIN_TIMEOUT + 1.0)  # stuck: neither reads nor closes
        with contextlib.suppress(OSError):
            conn.send(b"late answer\n")
        stage.sleep(0.05)
        conn.send(b"later still\n")
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="fin-wait-2-timeout",
    title="the peer never closes: the closer's FIN_WAIT_2 times out, then a late send "
          "meets a RST",
    seed="001",
    description=(f"The client closes; the server neither reads nor closes for "
                 f"{FIN_TIMEOUT + 1} s, then sends. tcp_fin_timeout is {FIN_TIMEOUT} s on "
                 "the client (60 s by default)."),
    play=_fin_wait_2,
    explain=lambda outcome: (
        "The client closed: FIN, ACK, and its side waited in FIN_WAIT_2 for the "
        "server's FIN. A closed (orphaned) socket does not wait forever: after "
        f"tcp_fin_timeout ({FIN_TIMEOUT} s here, 60 s by default) Linux drops it without "
        "a segment. The server, stuck in CLOSE_WAIT, wrote later; the data found no "
        "socket and the client's stack answered with a RST: "
        + ", then ".join(outcome.results("server", ".send(")) + ". Servers that leave "
        "connections in CLOSE_WAIT (see close-wait-leak) meet this when they finally "
        "write."),
    timeout=10.0,
))


# -- simultaneous open and close ---------------------------------------------------------

CLIENT_PORT, SERVER_PORT = 6000, 6001


def _simultaneous_open(stage: Stage) -> None:
    # The server's SYN is retransmitted first and finds the client in SYN_SENT. With
    # together=1 both retransmit at the same instant and the SYNs cross on the cable:
    # the kernel's timers never fire that close together, so only the simulator shows it.
    late = 0.0 if stage.knobs["together"] else 0.1

    def peer(side: str, here: int, there: int, cuts: bool) -> None:
        def body(sk: LoggedSockets) -> None:
            conn = sk.socket()
            conn.bind(("0.0.0.0", here))
            conn.setblocking(False)
            address = stage.server if side == "client" else CLIENT_ADDRESS
            if cuts:
                stage.unplug()  # the first SYNs are lost: the retransmissions meet
            stage.sleep(0.01 + (late if side == "client" else 0.0))
            conn.connect_ex((address, there))
            stage.sleep(0.5)
            if cuts:
                stage.replug()
            stage.sleep(1.5 - (late if side == "client" else 0.0))  # SYNs go again at 1 s
            conn.getsockopt(sk.SOL_SOCKET, sk.SO_ERROR)
            conn.setblocking(True)
            if side == "server":
                conn.recv(100)
            conn.sendall(f"hello from the {side}\n".encode())
            if side == "client":
                conn.recv(100)
            stage.sleep(0.1 if side == "client" else 0.2)  # the client closes first
            conn.close()
        stage.actor(side, body)

    peer("client", CLIENT_PORT, SERVER_PORT, cuts=True)
    peer("server", SERVER_PORT, CLIENT_PORT, cuts=False)


register(Scenario(
    name="simultaneous-open",
    title="both ends connect() to each other at once: SYNs cross, no listener needed",
    seed="001",
    description=(f"Each side binds a port ({CLIENT_PORT}, {SERVER_PORT}) and connects to "
                 "the other's without blocking; the first SYNs are lost, so the "
                 "retransmitted ones cross on the way."),
    play=_simultaneous_open,
    explain=lambda outcome: (
        "Both sides sent a SYN to the other's port, and no one listens. A SYN that "
        "arrives while our own is outstanding (SYN_SENT) is a simultaneous open (RFC "
        "9293 §3.5, figure 8): that side answers with a SYN-ACK and moves to "
        "SYN_RECEIVED; the SYN-ACK completes the other side's handshake, and one "
        "connection exists between the two ports without any listen(). With "
        "--set together=1 both SYNs cross on the cable and both sides go through "
        "SYN_RECEIVED. Here: "
        + "; ".join(f"{r.host} {r.old} -> {r.new}" for r in outcome.states
                    if r.new in ("SYN_RECEIVED", "ESTABLISHED")) + "."),
    knobs=(Knob("together", 0, "1: both SYNs leave at the same instant and cross "
                               "(simulator only: kernel timers never coincide)"),),
    routed=True,
))


def _simultaneous_close(stage: Stage) -> None:
    # The server's FIN goes 20 ms before the client's and both are lost; the server's
    # retransmission then finds the client in FIN_WAIT_1. With together=1 both FINs
    # leave at the same instant and cross (simulator only, as for simultaneous-open).
    early = 0.0 if stage.knobs["together"] else 0.02

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        listener.close()
        stage.sleep(0.1 - early)
        conn.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        stage.sleep(0.05)
        stage.unplug()  # the first FINs are lost: the retransmissions meet
        stage.sleep(0.05)
        conn.close()
        stage.sleep(0.1)
        stage.replug()
        stage.sleep(1.0)

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="simultaneous-close",
    title="both ends close at once: FINs cross, CLOSING, and both sides in TIME_WAIT",
    seed="001",
    description=("Client and server close the connection at the same moment; the first "
                 "FINs are lost, so the retransmitted ones cross."),
    play=_simultaneous_close,
    explain=lambda outcome: (
        "Both sides closed before either FIN arrived. A FIN received in FIN_WAIT_1, "
        "before ours is acknowledged, is a simultaneous close (RFC 9293 §3.6, figure "
        "13): that side acknowledges it and waits in CLOSING for the ACK of its own FIN, "
        "then goes to TIME_WAIT. Both ends end in TIME_WAIT (2 MSL each), where a normal "
        "close leaves only one. With --set together=1 the FINs cross on the cable and "
        "both sides pass through CLOSING. Here: "
        + "; ".join(f"{r.host} {r.old} -> {r.new}" for r in outcome.states
                    if r.new in ("CLOSING", "FIN_WAIT_2", "TIME_WAIT")) + "."),
    knobs=(Knob("together", 0, "1: both FINs leave at the same instant and cross "
                               "(simulator only: kernel timers never coincide)"),),
    routed=True,
))

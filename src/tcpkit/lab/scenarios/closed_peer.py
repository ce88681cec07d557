"""The peer's program closed or died while ours goes on (seeds 002 and 000): writes that
succeed once and then fail with EPIPE, a RST before accept(), a read after the peer's
FIN and RST, a client that exits or is killed with unread answers."""

from __future__ import annotations

import contextlib
import struct

from tcpkit.lab.calls import LoggedSocket, LoggedSockets
from tcpkit.lab.run import Outcome
from tcpkit.lab.scenario import PORT, Knob, Scenario, Stage, register

LINGER_ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def _accept_one(sk: LoggedSockets) -> tuple[LoggedSocket, LoggedSocket]:
    listener = sk.create_server(("0.0.0.0", PORT))
    conn, _ = listener.accept()
    return listener, conn


# -- send after the peer closed (002 client 1, server 5) ---------------------------------

def _send_after_close(stage: Stage, closer: str, writer: str) -> None:
    """``closer`` closes at once; ``writer`` sends twice, some time apart."""

    def program(side: str) -> None:
        def body(sk: LoggedSockets) -> None:
            if side == "server":
                listener, conn = _accept_one(sk)
                listener.close()
            else:
                stage.sleep(0.01)
                conn = sk.create_connection((stage.server, PORT))
            if side == closer:
                conn.close()
                return
            stage.sleep(0.05)  # busy: the peer's FIN arrives meanwhile, unnoticed
            conn.send(b"first message\n")
            stage.sleep(0.05)  # the peer's stack answers that with a RST
            conn.send(b"second message\n")
            conn.close()
        stage.actor(side, body)

    program("server")
    program("client")


def _explain_send_after_close(outcome: Outcome, closer: str, writer: str) -> str:
    return (
        f"The {closer} closed its socket; its FIN only says it will send no more, so the "
        f"{writer}'s stack cannot tell a half-close from a full one and the first send() "
        f"succeeds: {outcome.told(writer, '.send(')}. The data reaches a socket that "
        f"no longer exists, and the {closer}'s stack answers with a RST. The next send() "
        "fails with EPIPE (Python's BrokenPipeError; a C program also gets SIGPIPE, which "
        "kills it unless ignored or MSG_NOSIGNAL is used). A program learns that the peer "
        "is gone by reading: recv() returning b'' is the FIN. Check it before writing, "
        "and treat EPIPE and ECONNRESET as the end of the connection.")


register(Scenario(
    name="send-after-server-closed",
    title="the server closed; the client's first send succeeds, the second fails EPIPE",
    seed="002",
    description=("The server accepts and closes at once. The client, which has not read, "
                 "sends twice, 50 ms apart."),
    play=lambda stage: _send_after_close(stage, "server", "client"),
    explain=lambda outcome: _explain_send_after_close(outcome, "server", "client"),
))

register(Scenario(
    name="send-after-client-closed",
    title="the client closed; the server keeps sending: first send ok, then EPIPE",
    seed="002",
    description=("The client connects and closes at once. The server, which has not "
                 "read, sends twice, 50 ms apart."),
    play=lambda stage: _send_after_close(stage, "client", "server"),
    explain=lambda outcome: _explain_send_after_close(outcome, "client", "server"),
))


# -- the server answered, closed, and the client still writes (002 client 2, 000) --------

def _peer_sent_then_closed(stage: Stage) -> None:
    def server(sk: LoggedSockets) -> None:
        listener, conn = _accept_one(sk)
        conn.sendall(b"goodbye\n")
        conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        stage.sleep(0.05)  # the answer and the FIN arrive: CLOSE_WAIT
        conn.send(b"one more request\n")
        stage.sleep(0.05)  # the server's stack answers with a RST
        conn.recv(100)
        conn.recv(100)
        conn.send(b"and another\n")

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_peer_sent_then_closed(outcome: Outcome) -> str:
    return (
        "The server wrote its answer and closed (its program ended: 'server terminated "
        "prematurely' in Stevens' words). The client sat in CLOSE_WAIT with the answer "
        "and the FIN queued, and wrote once more: that send() succeeded, and the server's "
        "stack, which has no socket for it, answered with a RST. On Linux the client's "
        "reads then return the queued answer and an end of file "
        f"({outcome.told('client', '.recv(')}): "
        "the FIN was seen before the RST, so the read reports the orderly close (Windows "
        "reports WSAECONNABORTED instead). The next write fails: "
        f"{outcome.told('client', '.send(').split(', then ')[-1]}. Read first: b'' "
        "means the server is done, and nothing written after it will be read.")


register(Scenario(
    name="server-sent-then-closed",
    title="the server answered and closed; the client writes, then reads: data, EOF, EPIPE",
    seed="002",
    description=("The server sends one line and exits. The client, in CLOSE_WAIT, sends a "
                 "request, reads twice, and sends again."),
    play=_peer_sent_then_closed,
    explain=_explain_peer_sent_then_closed,
))


# -- RST before accept (000) ------------------------------------------------------------

def _rst_before_accept(stage: Stage) -> None:
    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        stage.sleep(0.1)  # busy: the connection completes and is reset in the queue
        conn, _ = listener.accept()
        conn.recv(100)
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.setsockopt(sk.SOL_SOCKET, sk.SO_LINGER, LINGER_ABORT)
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="rst-before-accept",
    title="the client resets before the server accepts: accept() succeeds, recv() ECONNRESET",
    seed="000",
    description=("The handshake completes, the connection waits in the accept queue, the "
                 "client closes with SO_LINGER 0 (a RST), and only then the server "
                 "accepts and reads."),
    play=_rst_before_accept,
    explain=lambda outcome: (
        "The kernel completes the handshake without the program: the connection waited "
        "in the listener's accept queue when the client's RST arrived. Linux keeps it "
        f"there, reset: accept() returned {outcome.told('server', '.accept(')}, and the "
        f"first read reported the reset: {outcome.told('server', '.recv(')}. BSD-derived "
        "stacks remove the connection instead, and POSIX lets accept() fail with "
        "ECONNABORTED (Stevens, UNP §5.11). A server must expect both: treat "
        "ECONNABORTED from accept() and ECONNRESET from the first read as 'client gone' "
        "and keep serving."),
))


# -- a write after the peer reset (000) -------------------------------------------------

def _write_after_rst(stage: Stage) -> None:
    def server(sk: LoggedSockets) -> None:
        listener, conn = _accept_one(sk)
        # Once the client's connect() has surely returned: a RST that comes first is
        # what connect() itself reports (Linux inet_wait_for_connect), a race that a
        # fast peer in real time (the TUN world) can win.
        stage.sleep(0.02)
        conn.setsockopt(sk.SOL_SOCKET, sk.SO_LINGER, LINGER_ABORT)
        conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        stage.sleep(0.05)  # the RST arrives
        with contextlib.suppress(OSError):  # the program notes the error and tries again
            conn.send(b"hello?\n")
        conn.send(b"hello?\n")

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="write-after-rst",
    title="writing to a reset connection: ECONNRESET once, then EPIPE",
    seed="000",
    description=("The server aborts the connection (SO_LINGER 0, close: a RST). The "
                 "client then writes twice."),
    play=_write_after_rst,
    explain=lambda outcome: (
        "The RST ended the connection at once: the client's stack recorded the error and "
        "the socket went to CLOSED. The first call after that reports the error itself, "
        "once: " + outcome.told("client", ".send(").split(", then ")[0] + "; every "
        "later write finds a socket that can no longer send: "
        + outcome.told("client", ".send(").split(", then ")[-1] + ". Either means the "
        "connection is over; close the socket (and reconnect if the protocol allows)."),
))


# -- the client finishes, exits, or is killed (002 server 2, 3, 4) -----------------------

def _client_leaves(stage: Stage) -> None:
    knobs = stage.knobs

    def server(sk: LoggedSockets) -> None:
        listener, conn = _accept_one(sk)
        if knobs["answers"]:
            conn.sendall(b"welcome\n")
        stage.sleep(0.2)  # busy elsewhere: the client's messages and its end arrive
        while conn.recv(65536):
            pass
        stage.sleep(0.1)  # logging the end: the ACK of the FIN goes out alone
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.setsockopt(sk.IPPROTO_TCP, sk.TCP_NODELAY, 1)
        stage.sleep(0.02)  # the welcome comes first, on any cable
        for i in range(knobs["messages"]):
            conn.send(b"message %02d\n" % i)
            stage.sleep(0.002)
        if knobs["read"]:
            conn.recv(100)
        # The program ends: exit, a crash or kill -9 all close its sockets.

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_client_leaves(outcome: Outcome) -> str:
    reads = outcome.told("server", ".recv(")
    knobs = outcome.knobs
    if knobs["answers"] and not knobs["read"]:
        return (
            "The client sent its messages and ended without reading the server's welcome. "
            "Whether it called close(), returned from main, crashed or was killed with "
            "kill -9, its kernel closed the socket with unread data, and that is a RST "
            "(RFC 2525 §2.17), not a FIN. The server read: " + reads + ". Linux first "
            "hands over what arrived before the RST, then fails the read with ECONNRESET "
            "('Connection reset by peer'). Data the client had not sent yet is lost. The "
            "server must treat ECONNRESET as 'client gone', not as a crash of its own.")
    return (
        "The client left with nothing unread, so its kernel closed the connection with a "
        "FIN after the last message, whether the program called close() or simply ended "
        "(exit, a crash, kill -9: the kernel closes what the process held). The server "
        "read: " + reads + "; b'' is the orderly end of file. With --set answers=1 "
        "--set read=0 the unread welcome turns that FIN into a RST.")


register(Scenario(
    name="client-leaves",
    title="the client sends, then exits, crashes or is killed: FIN, or RST if it left "
          "data unread",
    seed="002",
    description=("The client sends messages and its program ends (the kernel closes the "
                 "socket: exit, crash and kill -9 look the same on the wire). The "
                 "server sent a welcome the client never read."),
    play=_client_leaves,
    explain=_explain_client_leaves,
    knobs=(Knob("messages", 10, "messages the client sends"),
           Knob("answers", 1, "1: the server sends a welcome first"),
           Knob("read", 0, "1: the client reads the welcome before it ends")),
))

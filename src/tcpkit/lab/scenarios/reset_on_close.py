"""Seed 004: close() with data still in the receive queue sends a RST, not a FIN
(RFC 2525 §2.17; Linux ``tcp_close``), and the peer's recv() fails with ECONNRESET."""

from __future__ import annotations

from collections.abc import Callable

from tcpkit.lab.calls import LoggedSockets
from tcpkit.lab.run import Outcome
from tcpkit.lab.scenario import PORT, Knob, Scenario, Stage, register

PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23)
_CLOSE_KNOBS = (Knob("request", 100, "bytes the client sends"),
                Knob("read", 1, "bytes the server reads before closing"))


def _close_unread(stage: Stage, *, shutdown_first: bool) -> None:
    knobs = stage.knobs

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        conn.recv(knobs["read"])
        conn.sendall(b"ERROR\n")
        if shutdown_first:
            conn.shutdown(sk.SHUT_WR)
        # Logging the failure takes a moment: the client's ACK of the answer arrives
        # before the close on any cable, as it does on the kernel's (a veth is faster
        # than a program; the simulated cable is not).
        stage.sleep(0.05)
        conn.close()
        listener.close()

    stage.actor("server", server)
    stage.actor("client", _client_sends(stage, b"x" * knobs["request"], 100))


def _client_sends(stage: Stage, request: bytes, size: int) -> Callable[[LoggedSockets], None]:
    """The client of these stories: send the request, be busy a while, read twice."""
    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.sendall(request)
        stage.sleep(0.2)  # busy elsewhere; the answer and the RST arrive meanwhile
        conn.recv(size)
        conn.recv(size)
        conn.close()
    return client


def _explain_close_unread(outcome: Outcome) -> str:
    knobs = outcome.knobs
    unread = knobs["request"] - knobs["read"]
    if unread <= 0:
        return ("The server read everything the client sent before close(), so close() "
                "sent a FIN: the client read the answer and then an end of file "
                f"({outcome.told('client', '.recv(')}).")
    return (
        f"The server closed with {unread} bytes it never read. Linux then resets the "
        "connection instead of closing it (RFC 2525 §2.17): a RST goes out where a FIN "
        "would have. The client saw: " + outcome.told("client", ".recv(") + ". Linux still hands "
        "over bytes that arrived before the RST, then reports ECONNRESET where the client "
        "expected an end of file; stacks that discard the receive queue on a RST (the "
        "article's) lose the answer entirely. Fix it on the server: read the whole "
        "request (or until the client's FIN) before close().")


register(Scenario(
    name="rst-close-unread",
    title="close() with unread data sends RST; the peer's recv() fails with ECONNRESET",
    seed="004",
    description=(
        "The client sends a request; the server reads only part of it, answers "
        "ERROR and closes. The unread bytes turn the close into a reset."),
    play=lambda stage: _close_unread(stage, shutdown_first=False),
    explain=_explain_close_unread,
    knobs=_CLOSE_KNOBS,
))


def _explain_shutdown_first(outcome: Outcome) -> str:
    return (
        "The server called shutdown(SHUT_WR) before close(): the FIN goes out first and "
        "the client's recv() returns the answer, then b'' (an end of file). But close() "
        "with unread data still resets the connection afterwards (Linux tcp_close checks "
        "the receive queue whatever was shut down), so the client saw: "
        + outcome.told("client", ".recv(") + ". The article's fix hides the RST from a client that "
        "stops reading at the end of file; it does not remove it. Reading the request to "
        "the end does.")


register(Scenario(
    name="rst-after-shutdown",
    title="shutdown(SHUT_WR) then close() with unread data: FIN, then still a RST",
    seed="004",
    description=(
        "As rst-close-unread, but the server shuts down its sending side before "
        "closing, as the article suggests."),
    play=lambda stage: _close_unread(stage, shutdown_first=True),
    explain=_explain_shutdown_first,
    knobs=_CLOSE_KNOBS,
))


def _five_primes(stage: Stage) -> None:
    knobs = stage.knobs
    numbers = list(PRIMES[:knobs["count"]])
    if knobs["nonprime_at"]:
        numbers[knobs["nonprime_at"] - 1] = 4

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        answer = b"OK\n"
        for _ in range(5 if not knobs["fix"] else 1_000):
            line = conn.recv(4)  # numbers travel as 4 bytes: "%3d\n"
            if not line:
                break
            value = int(line)
            if value < 2 or any(value % d == 0 for d in range(2, value)):
                answer = b"ERROR\n"
                if not knobs["fix"]:
                    break
        stage.sleep(0.05)  # writing the verdict down: the client's next number arrives
        conn.sendall(answer)
        stage.sleep(0.05)  # the client's ACK of the answer arrives before the close
        conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        for number in numbers:
            conn.sendall(b"%3d\n" % number)
            stage.sleep(0.005)  # one number at a time, as it finds them
        if knobs["fix"]:
            conn.shutdown(sk.SHUT_WR)  # "that is all": the server reads to the end
        stage.sleep(0.2)
        conn.recv(100)
        conn.recv(100)
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_five_primes(outcome: Outcome) -> str:
    knobs = outcome.knobs
    if knobs["fix"]:
        return ("With the fix the client ends its numbers with shutdown(SHUT_WR) and the "
                "server reads until that end of file before answering and closing: nothing "
                "is left unread, the close is a FIN, and the client saw: "
                + outcome.told("client", ".recv(") + ".")
    return (
        f"The client sent {knobs['count']} numbers; the server stopped reading after five "
        "(or at the first non-prime), answered and closed with the rest unread, so its "
        "stack reset the connection. The client saw: " + outcome.told("client", ".recv(") + ". A "
        "protocol whose reader may stop early must drain (or have the writer announce the "
        "end with shutdown(SHUT_WR)) before close(); try --set fix=1.")


register(Scenario(
    name="five-primes",
    title="the five-primes protocol: the server stops reading early and its close resets",
    seed="004",
    description=(
        "The article's protocol: the client sends numbers, the server checks five of them "
        "are prime, answers OK or ERROR and closes. Six numbers, or a non-prime early, "
        "leave bytes unread."),
    play=_five_primes,
    explain=_explain_five_primes,
    knobs=(Knob("count", 6, "how many numbers the client sends"),
           Knob("nonprime_at", 0, "position of a non-prime (0: none)"),
           Knob("fix", 0, "1: the client shuts down its side, the server reads to the end")),
))


# -- the headline demo: an HTTP server that answers before reading the body --------------

BODY = 2000
REQUEST_HEAD = b"POST /upload HTTP/1.1\r\nHost: 192.0.2.2\r\nContent-Length: 2000\r\n\r\n"
ANSWER = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _http_400(stage: Stage) -> None:
    knobs = stage.knobs

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        stage.sleep(0.01)  # the whole request has arrived by now
        conn.recv(len(REQUEST_HEAD) if knobs["drain"] else 23)  # the request line
        body = 0
        while knobs["drain"] and body < BODY:  # a careful server reads to the end
            body += len(conn.recv(4096))
        conn.sendall(ANSWER)
        stage.sleep(0.05)
        conn.close()
        listener.close()

    stage.actor("server", server)
    stage.actor("client", _client_sends(stage, REQUEST_HEAD + b"x" * BODY, 4096))


def _explain_http_400(outcome: Outcome) -> str:
    if outcome.knobs["drain"]:
        return ("The server read the whole request before answering and closing, so its "
                "close was a FIN: the client read the 400 and then an end of file ("
                + outcome.told("client", ".recv(") + ").")
    return (
        "The client POSTed 2000 bytes; the server read only the request line, answered "
        "400 and closed with the body unread. Its stack therefore reset the connection "
        "(RFC 2525 §2.17; Linux tcp_close) instead of ending it with a FIN. The client "
        "saw: " + outcome.told("client", ".recv(") + ": Linux still hands over the answer that "
        "arrived before the RST, then ECONNRESET where an end of file was expected; a "
        "client still sending its body gets the reset on send() (or EPIPE) and often "
        "never reads the answer. Fix it on the server: read the whole request (or "
        "shutdown(SHUT_WR) and drain) before close(); try --set drain=1.")


register(Scenario(
    name="http-400-unread-body",
    title="an HTTP server answers 400 without reading the body: RST, the client's "
          "recv() ECONNRESET",
    seed="004",
    description=("The client POSTs 2000 bytes; the server reads the request line only, "
                 "answers 400 Bad Request and closes. tcpkit's headline demo."),
    play=_http_400,
    explain=_explain_http_400,
    knobs=(Knob("drain", 0, "1: the server reads the whole request before closing"),),
))

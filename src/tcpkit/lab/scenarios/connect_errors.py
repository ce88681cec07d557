"""connect() failing, and connect() that does not wait (seed 000): a closed port, no
route, a neighbour that never answers, and the non-blocking EINPROGRESS/EAGAIN dance."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from tcpkit.lab.calls import LoggedSockets
from tcpkit.lab.run import Outcome
from tcpkit.lab.scenario import PORT, Knob, Scenario, Stage, register

NOWHERE = "203.0.113.1"  # TEST-NET-3: no host has a route to it
ABSENT = "192.0.2.99"  # on the client's subnet, but no host answers ARP for it


def _connect_to(where: str) -> Callable[[Stage], None]:
    def play(stage: Stage) -> None:
        address = {"closed port": stage.server, "no route": NOWHERE,
                   "dead neighbour": ABSENT}[where]

        def client(sk: LoggedSockets) -> None:
            sk.create_connection((address, PORT))

        stage.actor("client", client)
    return play


register(Scenario(
    name="connect-refused",
    title="connect() to a port nobody listens on: RST, ECONNREFUSED at once",
    seed="000",
    description="The client connects to the server host, where no program listens.",
    play=_connect_to("closed port"),
    explain=lambda outcome: (
        "connect() failed with " + outcome.first("create_connection") + " after one round "
        "trip: the server's "
        "host is up, but nothing listens on the port, so its stack answered the SYN with "
        "a RST (RFC 9293 §3.5.2). 'Connection refused' is quick and certain: the host is "
        "there and the program is not. Check the port, or whether the server has "
        "started; retrying makes sense only with a delay."),
))

register(Scenario(
    name="no-route",
    title="connect() with no route to the address: ENETUNREACH before any packet",
    seed="000",
    description=f"The client connects to {NOWHERE}, which no route of its host covers.",
    play=_connect_to("no route"),
    explain=lambda outcome: (
        "connect() failed with " + outcome.first("create_connection") + " without sending "
        "anything: the "
        "client's routing table has no entry for the address (no default route either), "
        "so the SYN could not even be addressed. 'Network is unreachable' is a local "
        "configuration matter: the route, the interface, the VPN."),
))

register(Scenario(
    name="dead-neighbour",
    title="connect() to an address on the link that nobody answers: EHOSTUNREACH after ~3 s",
    seed="000",
    description=(f"The client connects to {ABSENT}: on its own subnet, so it asks by ARP "
                 "who has it, and no one answers."),
    play=_connect_to("dead neighbour"),
    tun_cannot="ARP: a TUN device is point to point, with no neighbours to ask",
    explain=lambda outcome: (
        "connect() failed with " + outcome.first("create_connection") + " after about three "
        "seconds, with "
        "no TCP segment on the cable: the address is on the client's own subnet, so its "
        "stack asked by ARP who has it — three times, a second apart "
        "(net.ipv4.neigh.*.mcast_solicit, retrans_time_ms) — and nobody answered. The "
        "neighbour entry failed and the waiting SYN was reported as 'No route to host'. "
        "The host is down or the address wrong; a firewall that drops would look like "
        "a timeout instead."),
    timeout=10.0,
))


def _nonblocking(stage: Stage) -> None:
    knobs = stage.knobs

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        stage.sleep(0.05)
        conn.sendall(b"hello\n")
        stage.sleep(0.05)
        conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.socket()
        conn.setblocking(False)
        port = PORT if knobs["listening"] else PORT + 1
        conn.connect_ex((stage.server, port))  # EINPROGRESS: the SYN is on its way
        stage.sleep(0.02)  # a select() would say writable here
        error = conn.getsockopt(sk.SOL_SOCKET, sk.SO_ERROR)
        if error:
            return
        conn.connect_ex((stage.server, port))  # completed: asking again says so
        conn.connect_ex((stage.server, port))
        with contextlib.suppress(BlockingIOError):
            conn.recv(100)  # nothing yet: EAGAIN, try later
        stage.sleep(0.1)
        conn.recv(100)
        conn.close()

    if knobs["listening"]:
        stage.actor("server", server)
    stage.actor("client", client)


def _explain_nonblocking(outcome: Outcome) -> str:
    connects = outcome.results("client", ".connect_ex(")
    so_error = outcome.first("SO_ERROR")
    text = (
        f"A non-blocking connect() cannot wait for the handshake, so it returns at once "
        f"(connect_ex gave {connects[0]}): the SYN is on its way. The "
        f"program learns the outcome when the socket becomes writable, by reading "
        f"SO_ERROR: {so_error}. ")
    if not outcome.knobs["listening"]:
        return text + ("The port was closed and the connection refused. The socket is "
                       "now unusable; close it.")
    return text + (
        "0 means connected. Asking connect() again then answers "
        f"{', then '.join(connects[1:])} (0 the first time after completion, EISCONN "
        "after). A recv() with nothing queued fails with EAGAIN/EWOULDBLOCK "
        "(BlockingIOError) instead of waiting: wait for readability (select, selectors, "
        "asyncio) and read again.")


register(Scenario(
    name="nonblocking-connect",
    title="non-blocking sockets: connect() EINPROGRESS, SO_ERROR, recv() EAGAIN",
    seed="000",
    description=("The client connects without blocking, checks SO_ERROR, asks connect() "
                 "again, and reads before and after the server's greeting arrives."),
    play=_nonblocking,
    explain=_explain_nonblocking,
    knobs=(Knob("listening", 1, "0: nothing listens, SO_ERROR says ECONNREFUSED"),),
))

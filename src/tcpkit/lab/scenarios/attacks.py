"""Attacks on the handshake (seed 001): a SYN flood from forged addresses fills a
listener's SYN queue, so real clients' SYNs are dropped; SYN cookies answer without
keeping state (RFC 4987 §3.6; Linux ``tcp_conn_request``, ``cookie_v4_init_sequence``)."""

from __future__ import annotations

import contextlib

from tcpkit.lab.calls import LoggedSockets
from tcpkit.lab.run import Outcome
from tcpkit.lab.scenario import CLIENT as CLIENT_ADDRESS
from tcpkit.lab.scenario import PORT, Knob, Scenario, Stage, register
from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.ipv4 import PROTO_TCP, IPv4Header
from tcpkit.wire.tcp import SYN, TCPSegment
from tcpkit.wire.tcp_options import MSS

BACKLOG = 4  # the listener's listen() backlog: also its SYN queue's limit
FORGED = "203.0.113."  # TEST-NET-3 sources no one will answer for


def _forged_syns(server: str, count: int) -> list[bytes]:
    packets = []
    for i in range(count):
        header = IPv4Header(src=f"{FORGED}{10 + i}", dst=server, protocol=PROTO_TCP,
                            identification=1000 + i)
        seg = TCPSegment(40000 + i, PORT, seq=123456 * (i + 1), flags=SYN, window=64240,
                         options=(MSS(1460),))
        packets.append(header.packet(seg.build(pseudo_header(header.src_packed,
                                                              header.dst_packed,
                                                              PROTO_TCP))))
    return packets


def _syn_flood(stage: Stage) -> None:
    knobs = stage.knobs
    stage.sysctl("server", "net.ipv4.tcp_syncookies", knobs["cookies"])
    # The forged sources must be routable from the server, or Linux keeps no state for
    # their SYNs at all: here their SYN-ACKs go to the client's host, which drops them.
    stage.route("server", f"{FORGED}0/24", CLIENT_ADDRESS)

    def server(sk: LoggedSockets) -> None:
        listener = sk.socket()
        listener.bind(("0.0.0.0", PORT))
        listener.listen(BACKLOG)
        listener.settimeout(4.0)
        with contextlib.suppress(TimeoutError):
            conn, _ = listener.accept()
            conn.recv(100)
            stage.sleep(0.1)  # handling the request: the client's FIN is ACKed alone
            conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        stage.inject("client", f"{knobs['syns']} SYNs from forged addresses",
                     _forged_syns(stage.server, knobs["syns"]))
        stage.sleep(0.05)
        conn = sk.socket()
        conn.settimeout(3.0)  # a user waits three seconds, then gives up
        conn.connect((stage.server, PORT))
        conn.sendall(b"hello\n")
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


def _explain(outcome: Outcome) -> str:
    knobs = outcome.knobs
    connect = outcome.first(".connect(")
    if knobs["cookies"]:
        return (
            f"The same flood: {knobs['syns']} SYNs from forged addresses filled the SYN "
            f"queue (backlog {BACKLOG}). With net.ipv4.tcp_syncookies=1 (Linux's "
            "default: cookies only when the queue overflows), the server answered the "
            "real client's SYN anyway, with a SYN-ACK whose sequence number encodes the "
            "connection (a SYN cookie) and kept nothing; the client's ACK brought the "
            f"cookie back and the connection was made: connect() -> {connect}. Cookies "
            "cost some TCP options (the window scale and SACK survive only in the "
            "timestamp), which is why Linux uses them only under pressure.")
    return (
        f"An attacker sent {knobs['syns']} SYNs from forged addresses. The server "
        "answered each with a SYN-ACK that went nowhere (the forged sources do not "
        "exist) and kept each half-open connection in its SYN queue, waiting for ACKs "
        "that never come, with SYN-ACK retransmissions for about a minute. With the "
        f"queue at its limit (the listen() backlog, {BACKLOG}) and SYN cookies off, the "
        "real client's SYNs were dropped without an answer: it retransmitted after 1 s "
        f"and 2 s, and its connect() ended: {connect}. The server never saw it "
        "(TcpExtListenDrops counts them). Defences: SYN cookies (--set cookies=1, "
        "Linux's default), a larger backlog and tcp_max_syn_backlog, filtering "
        "upstream.")


register(Scenario(
    name="syn-flood",
    title="a SYN flood fills the SYN queue: a real client cannot connect, unless SYN "
          "cookies answer",
    seed="001",
    description=("An attacker on the client's link sends SYNs from forged addresses to a "
                 f"server listening with a backlog of {BACKLOG}; then a real client "
                 "connects, giving up after 3 s."),
    play=_syn_flood,
    explain=_explain,
    knobs=(Knob("cookies", 0, "net.ipv4.tcp_syncookies on the server (Linux's default: 1)"),
           Knob("syns", 16, "forged SYNs in the flood")),
    timeout=10.0,
))


# -- an old duplicate SYN (003) ----------------------------------------------------------

CLIENT_PORT = 6000


def _old_duplicate_syn(stage: Stage) -> None:
    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        conn.recv(100)
        stage.sleep(0.1)
        conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        header = IPv4Header(src=CLIENT_ADDRESS, dst=stage.server, protocol=PROTO_TCP)
        old = TCPSegment(CLIENT_PORT, PORT, seq=1_000_000, flags=SYN, window=64240,
                         options=(MSS(1460),))
        stage.inject("client", "a SYN of an old connection, delayed in the network, "
                     "arrives", [header.packet(old.build(pseudo_header(
                         header.src_packed, header.dst_packed, PROTO_TCP)))])
        stage.sleep(0.05)
        conn = sk.socket()
        conn.bind(("0.0.0.0", CLIENT_PORT))
        conn.connect((stage.server, PORT))
        conn.sendall(b"hello\n")
        stage.sleep(0.2)
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="old-duplicate-syn",
    title="an old duplicate SYN: its SYN-ACK is refused with a RST, the real connection "
          "is unharmed",
    seed="003",
    description=(f"A SYN from an earlier incarnation of the client's port {CLIENT_PORT}, "
                 "delayed in the network, reaches the server; then the client really "
                 "connects from that port."),
    play=_old_duplicate_syn,
    explain=lambda outcome: (
        "The old SYN looked like any other to the listener: it answered with a SYN-ACK "
        "acknowledging that old sequence number and kept a half-open request. The "
        "client's host had no connection on that port (nor, had it been connecting, "
        "one expecting that acknowledgment), so it answered with a RST whose sequence "
        "number is the acknowledgment it got (RFC 9293 §3.5, figure 9; §3.5.2). The RST "
        "removed the server's request, and the real SYN that followed made a fresh "
        "connection. This is why TCP needs the three-way handshake: a two-way one "
        "would have opened a connection for the ghost."),
))

"""Flow control (seed 003): a reader slower than its writer closes the window; the
writer's send() blocks, and its stack probes the zero window until the reader makes
room (RFC 9293 §3.8.6.1; Linux ``tcp_probe_timer``)."""

from __future__ import annotations

from tcpkit.lab.calls import LoggedSockets
from tcpkit.lab.run import Outcome
from tcpkit.lab.scenario import PORT, Knob, Scenario, Stage, register

RCVBUF = 4096  # the reader's SO_RCVBUF (Linux doubles it): a window that fills fast


def _slow_reader(stage: Stage) -> None:
    knobs = stage.knobs

    def server(sk: LoggedSockets) -> None:
        listener = sk.socket()
        listener.setsockopt(sk.SOL_SOCKET, sk.SO_RCVBUF, RCVBUF)  # inherited by accept
        listener.bind(("0.0.0.0", PORT))
        listener.listen(1)
        conn, _ = listener.accept()
        listener.close()
        stage.sleep(knobs["pause"] / 1000)  # busy: the window fills and stays shut
        total = 0
        while chunk := conn.recv(65536):
            total += len(chunk)
        conn.sendall(b"%d\n" % total)
        conn.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.sendall(b"x" * knobs["size"])
        conn.shutdown(sk.SHUT_WR)
        conn.recv(100)
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_slow_reader(outcome: Outcome) -> str:
    probes = [line for line in outcome.segments() if line.startswith("> .")
              and " len 0" in line]
    blocked = next((c for c in outcome.calls if ".sendall(" in c.call), None)
    waited = f"{blocked.end - blocked.start:.1f} s" if blocked else "?"
    return (
        f"The server stopped reading for {outcome.knobs['pause'] / 1000:.1f} s with a "
        f"small receive buffer (SO_RCVBUF {RCVBUF}). Its window filled and it advertised "
        "zero: the client's sendall() blocked, for "
        f"{waited} in all. With data waiting and a zero window, the client's stack sent "
        f"window probes (empty segments the receiver must answer; {len(probes)} bare "
        "ACK-like segments from the client here), backing off like retransmissions, so "
        "that a lost window update cannot deadlock the connection (RFC 9293 §3.8.6.1). "
        "A zero window is not an error: nothing times out while the receiver answers "
        "the probes. When the reader resumed, the window opened and the data flowed.")


register(Scenario(
    name="slow-reader",
    title="a reader that stops reading: zero window, persist probes, a blocked sendall()",
    seed="003",
    description=("The server takes a connection with a small receive buffer and does not "
                 "read for a while; the client sends more than the buffer holds."),
    play=_slow_reader,
    explain=_explain_slow_reader,
    knobs=(Knob("pause", 1500, "milliseconds the server does not read"),
           Knob("size", 60000, "bytes the client sends")),
    known_difference=(
        "after the reader resumes, Linux's reader acknowledges two segments at a time: "
        "on veth the client's reply to a window update comes back while the reading "
        "thread still holds the socket, and the two segments are merged in the socket "
        "backlog (tcp_add_backlog; TcpExtTCPBacklogCoalesce counts 19 here). tcpkit's "
        "simulated link takes 0.5 ms, so its reader acknowledges the first segment at "
        "once (quick ACK after a pause longer than the RTO), the client then sends one "
        "segment instead of a two-segment GSO packet, and PSH marks shift by one. The "
        "zero-window phase (window filling, probes and their backoff, the blocked "
        "sendall) and the client's GSO packets (two segments, PSH on the second) match")
))


# -- a lost segment (003) ----------------------------------------------------------------

RECORDS = 12
HEADERS = 20 + 32  # IPv4 and TCP with the timestamp option


def _lossy(stage: Stage) -> None:
    knobs = stage.knobs
    lost = knobs["lost"]
    if lost:
        # Record i is 1000 + i bytes long; its retransmissions are the same size.
        stage.lose(HEADERS + 1000 + lost, knobs["times"])

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        listener.close()
        # Everything is there when it reads, even after the timeouts (0.2 s, doubling)
        # that resend copies lost again: how reads split what trickles in depends on
        # thread wake-ups, which differ between the worlds.
        stage.sleep(0.1 if knobs["times"] == 1 else 0.25 * 2 ** knobs["times"])
        total = 0
        while chunk := conn.recv(65536):
            total += len(chunk)
        conn.sendall(b"%d\n" % total)
        # Well after the client's close(), not at the same instant: a FIN reaching Linux
        # on one core while close() on another turns the client's FIN-WAIT-2 socket
        # into a timewait one can land in the closed socket's backlog and be dropped,
        # to be resent after an RTO (tcp_close: __release_sock, then tcp_time_wait).
        stage.sleep(0.2)
        conn.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.setsockopt(sk.IPPROTO_TCP, sk.TCP_NODELAY, 1)  # each record its own segment
        for i in range(1, RECORDS + 1):
            conn.sendall(b"r" * (1000 + i))
            stage.sleep(0.002)
        conn.shutdown(sk.SHUT_WR)
        conn.recv(100)
        stage.sleep(0.1)
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_lossy(outcome: Outcome) -> str:
    lost, times = outcome.knobs["lost"], outcome.knobs["times"]
    if not lost:
        return ("Nothing was lost: every record went out once and was acknowledged. "
                "Try --set lost=5.")
    sent = [line for line in outcome.segments() if line.startswith(">")]
    seqs = [line.split()[3] for line in sent if " len 0" not in line]
    again = sorted({s for s in seqs if seqs.count(s) > 1}, key=int)
    copies = max((seqs.count(s) for s in again), default=1)
    later = ""
    if times > 1:
        later = (
            f" The network lost the resent copy too ({times} copies lost in all). "
            "RACK would find a lost resend the same way, once data sent after it is "
            "SACKed; but proportional rate reduction had let only that one copy out "
            "(cwnd shrinks towards half), nothing newer was in flight to bring a SACK "
            "back, so only the retransmission timeout could resend it: after about "
            f"0.2 s, then twice as long each time ({copies} copies sent in all), and "
            "slow start from one segment after each.")
    return (
        f"Record {lost} was lost in the network. The records after it still arrived, and "
        "the server acknowledged each with the same cumulative ACK plus a SACK block "
        "saying what it had beyond the hole (RFC 2018). The client's stack resent only "
        f"the missing segment (seq {', '.join(again) or '?'}), at the first SACK rather "
        "than the classic third duplicate ACK (RFC 5681 §3.2): by RACK (RFC 8985, what "
        "Linux uses), a segment is lost once one sent after it has been delivered and "
        "more than a round trip plus a small reordering window (a quarter of the "
        "lowest RTT) has passed since it was sent; the records here left 2 ms apart."
        f"{later} The program saw none of this: its reads and writes succeeded; a lossy "
        "path shows as lower throughput and stalls, not as an error.")


register(Scenario(
    name="lossy-transfer",
    title="a segment lost in the network: SACKs point at the hole, RACK resends it",
    seed="003",
    description=(f"The client sends {RECORDS} records, one segment each, 2 ms apart; the "
                 "network loses one of them once."),
    play=_lossy,
    explain=_explain_lossy,
    knobs=(Knob("lost", 5, f"which record the network loses (1..{RECORDS}; 0: none)",
                low=0, high=RECORDS),
           Knob("times", 1, "how many of its copies are lost (1..3; 2: the first resend too)",
                low=1, high=3)),
    timeout=60.0,
))

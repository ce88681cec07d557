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
        "after the reader resumes, Linux sends from multi-segment (GSO) buffers and "
        "forces PSH on the last segment of each (tcp_transmit_skb, tcp_skb_pcount > 1); "
        "tcpkit's engine sends one segment per buffer, so PSH marks and the reader's "
        "ACK pattern differ there. The zero-window phase (the window filling, the "
        "probes and their backoff, the blocked sendall) matches"),
))


# -- a lost segment (003) ----------------------------------------------------------------

RECORDS = 12
HEADERS = 20 + 32  # IPv4 and TCP with the timestamp option


def _lossy(stage: Stage) -> None:
    knobs = stage.knobs
    lost = knobs["lost"]
    if lost:
        stage.lose_once(HEADERS + 1000 + lost)  # record i is 1000 + i bytes long

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        listener.close()
        stage.sleep(0.1)  # everything is there when it reads
        total = 0
        while chunk := conn.recv(65536):
            total += len(chunk)
        conn.sendall(b"%d\n" % total)
        stage.sleep(0.1)
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
    lost = outcome.knobs["lost"]
    if not lost:
        return ("Nothing was lost: every record went out once and was acknowledged. "
                "Try --set lost=5.")
    sent = [line for line in outcome.segments() if line.startswith(">")]
    seqs = [line.split()[3] for line in sent if " len 0" not in line]
    again = sorted({s for s in seqs if seqs.count(s) > 1}, key=int)
    return (
        f"Record {lost} was lost in the network. The records after it still arrived, and "
        "the server acknowledged each with the same cumulative ACK plus a SACK block "
        "saying what it had beyond the hole (RFC 2018). That told the client exactly "
        f"what was missing: it resent only the segment at {', '.join(again) or '?'} "
        "after the third duplicate ACK (fast retransmit, RFC 5681 §3.2 and RFC 6675; "
        "Linux resends after the first, by RACK's time-based rule, RFC 8985, which "
        "tcpkit does not model yet), instead of waiting for a 200 ms "
        "retransmission timeout, and cut its congestion window (Proportional Rate "
        "Reduction, RFC 6937). The program saw none of this: its reads and writes "
        "succeeded; a lossy path shows as lower throughput, not as an error.")


register(Scenario(
    name="lossy-transfer",
    title="a segment lost in the network: SACKs point at the hole, fast retransmit fills it",
    seed="003",
    description=(f"The client sends {RECORDS} records, one segment each, 2 ms apart; the "
                 "network loses one of them once."),
    play=_lossy,
    explain=_explain_lossy,
    knobs=(Knob("lost", 5, f"which record the network loses (1..{RECORDS}; 0: none)"),),
    known_difference=(
        "Linux (6.18 here, even with net.ipv4.tcp_recovery=0) finds the loss by RACK "
        "(RFC 8985) at the first SACK and resends at once; tcpkit's engine implements "
        "only the three-duplicate rule (RFC 6675) and resends after the third. Without "
        "a loss (--set lost=0) the two match"),
))

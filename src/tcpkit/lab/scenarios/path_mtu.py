"""Path MTU discovery (RFC 1191): a router whose next link is narrower than the client's
answers full-sized segments with ICMP "fragmentation needed", and the client's TCP
shrinks its segments and resends (Linux ``tcp_v4_mtu_reduced``, ``tcp_simple_retransmit``)."""

from __future__ import annotations

from tcpkit.lab.calls import LoggedSockets
from tcpkit.lab.run import Outcome
from tcpkit.lab.scenario import PORT, Knob, Scenario, Stage, register

RECORD = 1448  # one full segment on a 1500-byte link with timestamps


def _play(stage: Stage) -> None:
    knobs = stage.knobs
    stage.router_mtu(knobs["mtu"])

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        stage.sleep(0.1)  # busy elsewhere: everything has arrived when it reads
        total = 0
        while chunk := conn.recv(65536):
            total += len(chunk)
        conn.sendall(b"%d" % total)
        conn.close()
        listener.close()

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        # Records go out whole: Nagle would make the last piece of a record cut to a
        # smaller MSS wait for the ACK of the previous one, a race with the delayed ACK.
        conn.setsockopt(sk.IPPROTO_TCP, sk.TCP_NODELAY, 1)
        for _ in range(knobs["records"]):
            # One write per full-sized segment: each is an skb of its own on Linux too
            # (tcpkit does not model Linux's multi-segment GSO skbs, whose re-cutting
            # after an MTU drop differs; see the lab's notes).
            conn.sendall(b"x" * RECORD)
            stage.sleep(0.005)  # a record every 5 ms: the router's answer comes between
        conn.shutdown(sk.SHUT_WR)
        conn.recv(100)
        conn.getsockopt(sk.IPPROTO_TCP, sk.TCP_MAXSEG)
        # The server's FIN arrives meanwhile. Closing first would turn this side into a
        # TIME_WAIT remnant whose last ACK Linux sends from its control socket, with DF
        # whatever the path (tcpkit does not model that yet).
        stage.sleep(0.1)
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


def _explain(outcome: Outcome) -> str:
    mtu = outcome.knobs["mtu"]
    icmps = [s for s in outcome.segments() if s.startswith("! ICMP 3/4")]
    times = "once" if len(icmps) == 1 else f"{len(icmps)} times"
    mss = outcome.first(".getsockopt(")
    if not icmps:
        return (f"Every segment fitted the router's {mtu}-byte link: no ICMP, no resend; "
                f"the client's MSS stayed {mss}.")
    text = (
        f"Client and server each announced an MSS for their own 1500-byte links, but the "
        f"router's link towards the server carries only {mtu} bytes. The client's full "
        f"segments have DF set (path MTU discovery, RFC 1191), so the router dropped them "
        f"and answered each with ICMP fragmentation needed, mtu {mtu} "
        f"({times}). The client's TCP lowered its MSS to {mss} and resent what no longer "
        "fitted at once, without waiting for a timeout and without counting it as "
        "congestion; the program noticed nothing but a short delay. ")
    if mtu < 552:
        text += (
            "Linux trusts no ICMP below net.ipv4.route.min_pmtu (552 bytes): the path MTU "
            "stops there and is locked, and from then on the client sends without DF, so "
            "the router cuts each datagram into IP fragments that the server reassembles. ")
    return text + (
        "Had a firewall dropped those ICMP messages, the big segments would have been "
        "retransmitted unchanged until the connection timed out: a path MTU black hole, "
        "where small requests work and large ones hang.")


register(Scenario(
    name="path-mtu",
    title="a narrower link on the path: ICMP fragmentation needed, smaller segments resent",
    seed="-",
    description=(
        "The client sends records of 1448 bytes (one full segment each) through a router "
        "whose link towards the server has a smaller MTU than both ends announce; path "
        "MTU discovery finds it."),
    play=_play,
    explain=_explain,
    knobs=(Knob("mtu", 1280, "MTU of the router's link towards the server"),
           Knob("records", 5, "records of 1448 bytes the client sends")),
    routed=True,
))

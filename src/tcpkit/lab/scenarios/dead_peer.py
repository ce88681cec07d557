"""The peer is gone without a word (seeds 002, 000, 001): a pulled cable, a host that
crashed, with and without a reboot. Nothing arrives to say so; only a timer of ours
(a receive timeout, retransmissions, keepalive, an application heartbeat) or a RST from
a rebooted host ends the wait."""

from __future__ import annotations

from tcpkit.lab.calls import LoggedSocket, LoggedSockets
from tcpkit.lab.run import Outcome
from tcpkit.lab.scenario import PORT, Knob, Scenario, Stage, register

RETRIES2 = 3  # net.ipv4.tcp_retries2, shortened (Linux: 15, about 15 minutes)
KEEPIDLE, KEEPINTVL, KEEPCNT = 1, 1, 3  # tuned keepalive: dead after about 4 s


def _last(outcome: Outcome, actor: str) -> str:
    call = [c for c in outcome.calls if c.actor == actor][-1]
    return f"{call.result} after {call.end - call.start:.1f} s"


def _keepalive(sk: LoggedSockets, conn: LoggedSocket, *, tuned: bool = True) -> None:
    conn.setsockopt(sk.SOL_SOCKET, sk.SO_KEEPALIVE, 1)
    if tuned:
        conn.setsockopt(sk.IPPROTO_TCP, sk.TCP_KEEPIDLE, KEEPIDLE)
        conn.setsockopt(sk.IPPROTO_TCP, sk.TCP_KEEPINTVL, KEEPINTVL)
        conn.setsockopt(sk.IPPROTO_TCP, sk.TCP_KEEPCNT, KEEPCNT)


# -- the client's cable is pulled (002 server 1) -----------------------------------------

def _client_vanishes(stage: Stage) -> None:
    knobs = stage.knobs
    stage.sysctl("server", "net.ipv4.tcp_retries2", RETRIES2)

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        listener.close()
        if knobs["keepalive"]:
            _keepalive(sk, conn)
        conn.recv(100)
        if knobs["reply"]:
            stage.sleep(0.1)  # the cable is pulled meanwhile
            conn.sendall(b"your answer\n")
        if not knobs["keepalive"] and not knobs["reply"]:
            conn.settimeout(3.0)  # the program's own patience
        conn.recv(100)

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.sendall(b"hello\n")
        stage.sleep(0.05)
        stage.unplug()  # the cable comes out; then the client is killed
        conn.close()

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_client_vanishes(outcome: Outcome) -> str:
    knobs = outcome.knobs
    last = _last(outcome, "server")
    if knobs["reply"]:
        return (
            "The server answered a client whose cable was out. Unacknowledged data makes "
            "TCP retransmit, doubling the wait each time (RFC 6298 §5.5); when "
            f"tcp_retries2 ({RETRIES2} here, 15 by default: about 15 minutes) is spent "
            f"the connection is dropped and the blocked read fails: {last}. The client's "
            "RST when it was killed never arrived. Set TCP_USER_TIMEOUT to bound this "
            "wait per socket.")
    if knobs["keepalive"]:
        return (
            f"The server enabled keepalive (idle {KEEPIDLE} s, {KEEPCNT} probes "
            f"{KEEPINTVL} s apart): once the connection had been idle, its stack sent "
            "empty probes; none was answered, and the waiting read failed: "
            f"{last} (ETIMEDOUT, 'Connection timed out'). With Linux's defaults "
            "(7200 s, 9 x 75 s) the same takes 2 h 11 min 15 s: see keepalive-defaults.")
    return (
        "The client's cable was pulled, then the client was killed; its RST never "
        "arrived. The server, waiting to read, has nothing to send and so nothing that "
        "could fail: TCP detects nothing on an idle connection. Only the program's own "
        f"timeout ended the wait: {last}. Without it the read would block forever and "
        "the connection would stay ESTABLISHED. Use keepalive (--set keepalive=1), an "
        "application heartbeat, or read timeouts.")


register(Scenario(
    name="client-vanishes",
    title="the client's cable is pulled: the server notices nothing until a timer fires",
    seed="002",
    description=("The client sends a line, then its cable is pulled and it is killed. The "
                 "server waits to read (knobs: keepalive, or it sends an answer first)."),
    play=_client_vanishes,
    explain=_explain_client_vanishes,
    knobs=(Knob("keepalive", 0, "1: the server uses keepalive (idle 1 s, 3 probes)"),
           Knob("reply", 0, "1: the server sends an answer after the cable is out")),
    routed=True,  # the cut is in the network: both hosts' sends leave them
))


# -- the server's host dies, with or without a reboot (000) ------------------------------

def _server_dies(stage: Stage) -> None:
    knobs = stage.knobs
    stage.sysctl("client", "net.ipv4.tcp_retries2", RETRIES2)

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        listener.close()
        stage.keep(conn)  # the program serves on, until its host dies

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        stage.sleep(0.1)
        stage.crash("server")
        conn.sendall(b"request\n")
        if knobs["reboot"]:
            stage.sleep(knobs["reboot"] / 1000)
            stage.reboot("server")
        conn.recv(100)

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_server_dies(outcome: Outcome) -> str:
    last = _last(outcome, "client")
    if outcome.knobs["reboot"]:
        return (
            "The server's host crashed and came back: it has no memory of the connection. "
            "The client's retransmitted request reached it, and a host that knows no such "
            "connection answers with a RST (RFC 9293 §3.5.2): the half-open connection "
            f"was discovered and the read failed at once: {last} ('Connection reset by "
            "peer'). Reconnect.")
    return (
        "The server's host died without a word (no FIN, no RST: the power went). The "
        "client's request was never acknowledged; it retransmitted with growing "
        f"intervals until tcp_retries2 ({RETRIES2} here; 15 by default, about 15 "
        f"minutes) ran out, and the read failed: {last}. With --set reboot=500 the "
        "host is back half a second later and answers with a RST.")


register(Scenario(
    name="server-host-dies",
    title="the server's host crashes: ETIMEDOUT after retransmissions, or ECONNRESET once "
          "it has rebooted",
    seed="000",
    description=("The client is connected when the server's host loses power; the client "
                 "then sends a request and waits for the answer."),
    play=_server_dies,
    explain=_explain_server_dies,
    knobs=(Knob("reboot", 0, "milliseconds after which the server's host is back (0: never)"),),
))


# -- keepalive (001) -------------------------------------------------------------------

def _keepalive_story(stage: Stage, *, tuned: bool, reboot: bool) -> None:
    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        listener.close()
        stage.keep(conn)

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        _keepalive(sk, conn, tuned=tuned)
        stage.sleep(0.1)
        if reboot:
            stage.reboot("server")
        else:
            stage.crash("server")
        conn.recv(100)  # an idle connection: only keepalive will find out

    stage.actor("server", server)
    stage.actor("client", client)


def _explain_keepalive(outcome: Outcome, tuned: bool, reboot: bool) -> str:
    last = _last(outcome, "client")
    if reboot:
        return (
            "The server's host rebooted while the connection was idle. The first "
            "keepalive probe (an empty segment with an old sequence number, which a "
            "live peer must acknowledge) reached a host that knows no such connection; "
            f"it answered with a RST and the client's read failed: {last}.")
    timing = (f"idle {KEEPIDLE} s, then {KEEPCNT} probes {KEEPINTVL} s apart" if tuned else
              "Linux's defaults: tcp_keepalive_time 7200 s idle, then "
              "tcp_keepalive_probes 9 probes tcp_keepalive_intvl 75 s apart")
    return (
        f"The client enabled SO_KEEPALIVE ({timing}). The server's host died while the "
        "connection was idle, so nothing was sent and nothing could fail; the probes "
        f"went unanswered, and the idle read failed: {last} (ETIMEDOUT)."
        + ("" if tuned else " On paper that is 7200 + 9 x 75 = 7875 s, 2 h 11 min 15 s; "
           "Linux's timer wheel rounds long timers up (the 2 h idle to 32768 jiffies, "
           "each 75 s interval to 512 at HZ=250), so the kernel takes a little longer. "
           "Keepalive with default settings finds a dead peer only after hours: tune "
           "TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT per socket (see "
           "keepalive-tuned), or use a heartbeat."))


register(Scenario(
    name="keepalive-tuned",
    title="keepalive finds a dead peer: idle 1 s, 3 probes 1 s apart, ETIMEDOUT",
    seed="001",
    description=("The client turns keepalive on with short timers and waits to read; the "
                 "server's host dies."),
    play=lambda stage: _keepalive_story(stage, tuned=True, reboot=False),
    explain=lambda outcome: _explain_keepalive(outcome, True, False),
))

register(Scenario(
    name="keepalive-defaults",
    title="keepalive with Linux's defaults: the dead peer is found after 2 h 11 min 15 s",
    seed="001",
    description=("As keepalive-tuned, with Linux's default keepalive timers (7200 s, "
                 "9 x 75 s)."),
    play=lambda stage: _keepalive_story(stage, tuned=False, reboot=False),
    explain=lambda outcome: _explain_keepalive(outcome, False, False),
    timeout=3 * 3600.0,
    kernel_cannot=("it takes 2 h 11 min of real time on the kernel; keepalive-tuned runs "
                   "the same code path there with short timers"),
))

register(Scenario(
    name="keepalive-rebooted-peer",
    title="a keepalive probe meets a rebooted peer: RST, ECONNRESET",
    seed="001",
    description=("The client turns keepalive on and waits to read; the server's host "
                 "reboots meanwhile."),
    play=lambda stage: _keepalive_story(stage, tuned=True, reboot=True),
    explain=lambda outcome: _explain_keepalive(outcome, True, True),
))


# -- an application heartbeat (001) ------------------------------------------------------

def _heartbeat(stage: Stage) -> None:
    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conn, _ = listener.accept()
        listener.close()
        stage.keep(conn)
        for _ in range(3):
            if conn.recv(100):
                conn.sendall(b"pong\n")

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        conn = sk.create_connection((stage.server, PORT))
        conn.settimeout(0.3)  # a pong must come within 300 ms
        for beat in range(5):
            if beat == 3:
                stage.crash("server")
            conn.sendall(b"ping\n")
            try:
                conn.recv(100)
            except TimeoutError:
                conn.close()  # the peer is gone: give up and reconnect elsewhere
                return
            stage.sleep(0.5)

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="app-heartbeat",
    title="an application heartbeat finds a dead peer in 300 ms, where TCP would wait",
    seed="001",
    description=("The client sends 'ping' every half second and expects 'pong' within "
                 "300 ms; after three beats the server's host dies."),
    play=_heartbeat,
    explain=lambda outcome: (
        "Keepalive works below the application and with coarse timers; a heartbeat is "
        "the protocol's own: the client pinged every half second and allowed 300 ms for "
        "the pong. When the server's host died, the next pong did not come and the "
        "client knew within 300 ms (its recv() ended in a timeout; it closed and would "
        "reconnect elsewhere). TCP itself would have kept "
        "retransmitting the ping for minutes. Heartbeats also catch a peer whose host "
        "is alive but whose program hangs, which keepalive cannot."),
))


# -- FIN_WAIT_1 piles up (001) -----------------------------------------------------------

def _fin_wait_1(stage: Stage) -> None:
    knobs = stage.knobs

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        conns = [listener.accept()[0] for _ in range(knobs["clients"])]
        listener.close()
        stage.sleep(0.1)  # the clients' cables are pulled meanwhile
        for conn in conns:  # the server shuts down: a last word to each, then close
            conn.sendall(b"server going down\n")
            conn.close()
        stage.sleep(2.0)
        stage.ss("server", "fin-wait-1")

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        for _ in range(knobs["clients"]):
            stage.keep(sk.create_connection((stage.server, PORT)))
            stage.sleep(0.005)
        stage.sleep(0.05)
        stage.unplug()  # the clients vanish without a word

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="fin-wait-1-pileup",
    title="a server closes on clients that vanished: its sockets pile up in FIN_WAIT_1",
    seed="001",
    description=("Clients connect, then their network goes away. The server sends each "
                 "a last line and closes; nothing will ever acknowledge it."),
    play=_fin_wait_1,
    explain=lambda outcome: (
        "close() does not wait: the program is done, but the kernel still owns each "
        "connection (an orphan) with its unacknowledged line and FIN. With no ACK "
        "coming, each sits in FIN_WAIT_1 retransmitting with a doubling timeout; ss "
        "counted " + outcome.first("ss state") + " of them two seconds later. Linux gives orphans "
        "tcp_orphan_retries attempts (0 means 8: a few minutes at these round-trip "
        "times, far longer on slow paths) and caps their number (tcp_max_orphans); "
        "until then they hold memory and ports. Servers that restart often see FIN_WAIT_1 "
        "piling up for this reason; it clears by itself, or sooner with a smaller "
        "tcp_orphan_retries, or SO_LINGER 0 when the data does not matter."),
    knobs=(Knob("clients", 3, "how many clients vanish"),),
    routed=True,  # the cut is in the network: the server's retransmissions leave it
))


# -- devices that reboot (001) -----------------------------------------------------------

def _rebooting_device(stage: Stage) -> None:
    knobs = stage.knobs

    def server(sk: LoggedSockets) -> None:
        listener = sk.create_server(("0.0.0.0", PORT))
        old, _ = listener.accept()
        old.recv(100)
        new, _ = listener.accept()  # the same device, after its reboot
        new.recv(100)
        listener.close()
        if knobs["heartbeat"]:
            for conn in (old, new):  # the server's heartbeat: every connection is asked
                try:
                    conn.sendall(b"ping\n")
                    stage.sleep(0.05)
                    conn.recv(100)
                except OSError:
                    conn.close()  # that device is gone: forget its connection
        stage.ss("server", "established")
        stage.keep(old)
        stage.keep(new)

    def client(sk: LoggedSockets) -> None:
        stage.sleep(0.01)
        first = sk.create_connection((stage.server, PORT))
        first.sendall(b"device 7 here\n")
        stage.keep(first)
        stage.sleep(0.1)
        stage.reboot("client")  # power cut and back: its connection is forgotten
        stage.sleep(0.1)
        conn = sk.create_connection((stage.server, PORT))
        conn.sendall(b"device 7 here\n")
        if knobs["heartbeat"]:
            conn.recv(100)
            conn.sendall(b"pong\n")
        stage.keep(conn)

    stage.actor("server", server)
    stage.actor("client", client)


register(Scenario(
    name="rebooting-device",
    title="a device reboots and reconnects: the server keeps a ghost ESTABLISHED "
          "connection unless it sends",
    seed="001",
    description=("A device connects and says hello, loses power, comes back and "
                 "connects again. The server waits to read on both connections; with "
                 "a heartbeat it pings each first."),
    play=_rebooting_device,
    explain=lambda outcome: (
        "The device's reboot erased its side of the first connection without a "
        "segment; its new connection came from another port. "
        + ("The server's heartbeat wrote to the old connection; the rebooted device "
           "had no such connection and answered with a RST, the read failed, and the "
           "server closed it: ss counts "
           if outcome.knobs["heartbeat"] else
           "The server, only reading, cannot tell: the old connection stays "
           "ESTABLISHED for ever (no timer runs on an idle connection), and ss counts ")
        + outcome.first("ss state")
        + " established. Servers for devices that reboot (phones, IoT, POS terminals) "
        "collect such ghosts by the thousand, each holding memory and a descriptor, and "
        "CLOSE_WAIT ones when the server forgets to close after errors. Send something "
        "periodically (--set heartbeat=1), or use keepalive; then close on every error."),
    knobs=(Knob("heartbeat", 0, "1: the server pings every connection before counting"),),
))

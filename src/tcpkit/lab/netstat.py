"""The sockets of a simulated run at one instant, as ``ss -tano`` shows them: state,
receive and send queues, addresses, and the timer that runs (``ss`` names: on for the
retransmission timer, probe for the tail loss probe, persist, keepalive, timewait)."""

from __future__ import annotations

from dataclasses import dataclass

from tcpkit.stack.host import Host
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.state import State
from tcpkit.tcp.tcb import XMIT_LOSS_PROBE, XMIT_PROBE0, XMIT_RETRANS

_STATE_NAMES = {  # ss spells them so
    State.ESTABLISHED: "ESTAB", State.SYN_SENT: "SYN-SENT", State.SYN_RECEIVED: "SYN-RECV",
    State.FIN_WAIT_1: "FIN-WAIT-1", State.FIN_WAIT_2: "FIN-WAIT-2",
    State.TIME_WAIT: "TIME-WAIT", State.CLOSE_WAIT: "CLOSE-WAIT",
    State.LAST_ACK: "LAST-ACK", State.CLOSING: "CLOSING", State.CLOSED: "UNCONN",
    State.LISTEN: "LISTEN",
}
_XMIT = {XMIT_RETRANS: "on", XMIT_PROBE0: "persist", XMIT_LOSS_PROBE: "probe"}


@dataclass(frozen=True, slots=True)
class SocketRow:
    host: str
    state: str
    recv_q: int
    send_q: int
    local: str
    peer: str
    timer: str

    def line(self) -> str:
        return (f"{self.host:8} {self.state:11} {self.recv_q:6} {self.send_q:6} "
                f"{self.local:>21} {self.peer:<21} {self.timer}")


HEADER = (f"{'Host':8} {'State':11} {'Recv-Q':>6} {'Send-Q':>6} {'Local Address:Port':>21} "
          f"{'Peer Address:Port':<21} Timer")


def _timer(conn: Connection, now: float) -> str:
    """``timer:(name,remaining,retransmissions)`` for the first timer that runs."""
    candidates = [
        (_XMIT.get(conn.xmit_kind), conn.xmit_deadline),
        ("keepalive", conn.keepalive_deadline),
        ("timewait", conn.timewait_deadline),
        ("timewait", conn.finwait2_deadline),  # ss names it so
    ]
    for name, deadline in candidates:
        if name and deadline is not None:
            left = max(deadline - now, 0.0)
            shown = f"{left * 1000:.0f}ms" if left < 1 else f"{left:.1f}s"
            return f"timer:({name},{shown},{conn.retransmits})"
    return ""


def snapshot(hosts: list[Host], now: float) -> list[SocketRow]:
    """Every listener and connection of ``hosts`` at ``now``."""
    rows: list[SocketRow] = []
    for host in hosts:
        if host.down:
            continue
        tcp = host.tcp
        for (address, port), group in sorted(tcp.listeners.items()):
            for listener in group:
                rows.append(SocketRow(host.name, "LISTEN", len(listener.accept_queue),
                                      listener.backlog, f"{address}:{port}", "*:*", ""))
        for key, attached in tcp.conns.items():
            conn = attached.conn
            state = conn.state
            if state is State.LISTEN:
                continue
            recv_q = len(conn.recv_queue)
            send_q = max(conn.write_seq - conn.snd_una - (1 if conn.fin_queued else 0), 0)
            rows.append(SocketRow(host.name, _STATE_NAMES.get(state, state.name), recv_q,
                                  send_q, f"{key[0]}:{key[1]}", f"{key[2]}:{key[3]}",
                                  _timer(conn, now)))
    return rows

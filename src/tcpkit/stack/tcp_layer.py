"""TCP in a host: demultiplexing, the connection table, listeners, timers and counters
(Linux ``tcp_v4_rcv``, ``__inet_lookup``, ``tcp_v4_send_reset``).

An arriving segment goes to the connection with its exact 4-tuple (TIME_WAIT remnants
included), else to a listener — one bound to the destination address before one bound
to the wildcard, as Linux scores them — else it is answered with a RST (RFC 9293
§3.5.2, reset generation case 1). After every call into a connection the layer
collects what it sent (onto IP), what happened (its events: accept queue, counters,
the end of the connection) and re-arms its one timer in a heap.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from tcpkit.stack.ports import Binding
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.events import (
    Connected,
    ConnectionClosed,
    Counted,
    FastOpenLearned,
    StateChanged,
)
from tcpkit.tcp.ratelimit import ChallengeAckLimiter
from tcpkit.tcp.reset import reset_for
from tcpkit.tcp.state import State
from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.errors import BadChecksum, MalformedPacket
from tcpkit.wire.ipv4 import PROTO_TCP
from tcpkit.wire.tcp import ACK, RST, SYN, TCPSegment, parse_tcp

if TYPE_CHECKING:
    from tcpkit.stack.host import Host
    from tcpkit.stack.listener import Listener
    from tcpkit.stack.sock import TcpSock

Key = tuple[str, int, str, int]  # local address, local port, remote address, remote port

_ESTABLISHED_LIKE = (State.ESTABLISHED, State.CLOSE_WAIT)


class Attached:
    """A connection as the host holds it: who owns it and its bookkeeping."""

    __slots__ = ("binding", "conn", "deadline", "key", "listener", "retrans_seen", "sock")

    def __init__(self, conn: Connection, key: Key, binding: Binding | None) -> None:
        self.conn = conn
        self.key = key
        self.binding = binding
        self.sock: TcpSock | None = None
        self.listener: Listener | None = None
        self.deadline: float | None = None
        self.retrans_seen = 0


class TcpLayer:
    """The TCP half of a :class:`~tcpkit.stack.host.Host`."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.conns: dict[Key, Attached] = {}
        # Local ports connect() chose for the connections to each (local address, remote
        # address, remote port) not in TIME_WAIT: what a new connect() can skip without
        # a look (PortTable.connect_ephemeral). TIME_WAIT ones stay candidates for
        # tcp_tw_reuse.
        self.busy_toward: dict[tuple[str, str, int], set[int]] = {}
        self.listeners: dict[tuple[str, int], list[Listener]] = {}
        self.challenge_acks = ChallengeAckLimiter(
            host.sysctl.connection.challenge_ack_limit, host.rng)
        self._timers: list[tuple[float, int, Attached]] = []
        self._order = itertools.count()

    def current_established(self) -> int:
        """RFC 4022 tcpCurrEstab: connections in ESTABLISHED or CLOSE_WAIT (Linux counts
        both since 6.10, tcp_set_state)."""
        return sum(1 for a in self.conns.values() if a.conn.state in _ESTABLISHED_LIKE)

    # -- connections -------------------------------------------------------------------

    def new_connection(self, local: tuple[str, int], remote: tuple[str, int],
                       config: ConnectionConfig) -> Connection:
        cfg = config.for_route(self.host.path_mtu(remote[0]))
        conn = Connection(local, remote, cfg, self.host.secrets, self.challenge_acks)
        conn.device_refuses = self._device_gate(remote[0])
        conn.gso = self.host.tso_toward(remote[0])
        return conn

    def _device_gate(self, remote: str) -> Callable[[], bool] | None:
        """What a connection to ``remote`` asks before each packet: only while some
        interface has a queueing-discipline limit, so the usual path pays nothing."""
        host = self.host
        if all(i.qdisc_limit is None for i in host.interfaces.values()):
            return None
        return lambda: host.device_refuses(remote)

    def watch_device_queues(self) -> None:
        """A queueing discipline changed: give each connection its gate again."""
        for attached in self.conns.values():
            attached.conn.device_refuses = self._device_gate(attached.key[2])

    def attach(self, conn: Connection, *, sock: TcpSock | None = None,
               listener: Listener | None = None, binding: Binding | None) -> Attached:
        key = (conn.local[0], conn.local[1], conn.remote[0], conn.remote[1])
        attached = Attached(conn, key, binding)
        attached.sock = sock
        attached.listener = listener
        self.conns[key] = attached
        if binding is not None and binding.by_connect:
            # Only ports connect() chose compete for the ephemeral range; an accepted
            # connection would cost an index entry for nothing (the port table's own
            # checks still see every holder).
            self.busy_toward.setdefault((key[0], key[2], key[3]), set()).add(key[1])
        return attached

    def _not_busy(self, key: Key) -> None:
        toward = (key[0], key[2], key[3])
        busy = self.busy_toward.get(toward)
        if busy is not None:
            busy.discard(key[1])
            if not busy:
                del self.busy_toward[toward]

    def tuple_free(self, key: Key) -> bool:
        """Is this 4-tuple unused, or held by a TIME_WAIT remnant tcp_tw_reuse lets a
        new connection take over (Linux ``tcp_twsk_unique``)?"""
        held = self.conns.get(key)
        if held is None:
            return True
        conn = held.conn
        if conn.state is not State.TIME_WAIT:
            return False
        reuse = self.host.sysctl["net.ipv4.tcp_tw_reuse"]
        if reuse == 2:
            reuse = int(self.host.is_loopback(key[0]) and self.host.is_loopback(key[2]))
        delay = self.host.sysctl["net.ipv4.tcp_tw_reuse_delay"] / 1000
        if not reuse or not conn.ts_ok or self.host.now - conn.ts_recent_stamp < delay:
            return False
        self._forget(held)
        self.host.counters.inc("TcpExtTWRecycled")
        return True

    def service(self, attached: Attached) -> None:
        """After any call into a connection: its segments onto IP, its events into the
        host's bookkeeping, its timer into the heap."""
        conn = attached.conn
        out = conn.segments_to_send()
        if out:
            local, remote = attached.key[0], attached.key[2]
            for seg in out:
                self.output_segment(seg, local, remote)
            retrans = conn.total_retrans
            if retrans != attached.retrans_seen:
                self.host.counters.inc("TcpRetransSegs", retrans - attached.retrans_seen)
                attached.retrans_seen = retrans
        events = conn.events
        while events:
            event = events.pop(0)
            if isinstance(event, StateChanged):
                self._state_changed(attached, event)
            elif isinstance(event, Connected) and attached.listener is not None:
                attached.listener.child_established(attached)
            elif isinstance(event, ConnectionClosed):
                self._closed(attached)
            elif isinstance(event, Counted):
                self.host.counters.inc(event.name)
            elif isinstance(event, FastOpenLearned):
                self.host.fastopen_cache.learned(attached.key[2], event)
        deadline = conn.next_deadline()
        if deadline != attached.deadline:
            attached.deadline = deadline
            if deadline is not None:
                heapq.heappush(self._timers, (deadline, next(self._order), attached))

    def _state_changed(self, attached: Attached, event: StateChanged) -> None:
        for watcher in self.host.state_watchers:
            watcher(attached.key, event, self.host.now)
        counters = self.host.counters
        old, new = event.old, event.new
        if new is State.SYN_SENT:
            counters.inc("TcpActiveOpens")
        elif new is State.ESTABLISHED and old is State.SYN_RECEIVED and \
                attached.listener is not None:
            counters.inc("TcpPassiveOpens")
        elif new is State.CLOSED and old in (State.SYN_SENT, State.SYN_RECEIVED):
            counters.inc("TcpAttemptFails")
        elif new is State.CLOSED and old in _ESTABLISHED_LIKE:
            counters.inc("TcpEstabResets")  # tcp_set_state: ESTABLISHED/CLOSE_WAIT -> CLOSE
        elif new is State.TIME_WAIT:
            self._not_busy(attached.key)
        elif new is State.LISTEN and old is State.SYN_RECEIVED:
            counters.inc("TcpAttemptFails")  # a RST killed a half-open child
            self._forget(attached)
        if new is State.TIME_WAIT:
            counters.inc("TcpExtTW")
            if attached.binding is not None:
                attached.binding.time_wait = True

    def _closed(self, attached: Attached) -> None:
        self._forget(attached)
        if attached.listener is not None:
            attached.listener.child_gone(attached)

    def forget(self, attached: Attached) -> None:
        """A connection that never started (a deferred Fast Open connect() closed
        before any write) leaves the table."""
        self._forget(attached)

    def _forget(self, attached: Attached) -> None:
        """The connection is gone: out of the table; its port is free once no socket
        holds it either."""
        if self.conns.get(attached.key) is attached:
            del self.conns[attached.key]
            self._not_busy(attached.key)
        attached.deadline = None
        if attached.listener is not None:
            attached.listener.syn_queue.discard(attached)
        binding = attached.binding
        owner = attached.sock
        if binding is not None and (owner is None or owner.closed or binding.by_connect) \
                and (attached.listener is None or binding is not attached.listener.binding):
            self.host.ports.release(binding)
            if owner is not None and owner.binding is binding:
                owner.binding = None

    # -- output ------------------------------------------------------------------------

    def output_segment(self, seg: TCPSegment, local: str, remote: str, *,
                       control: bool = False) -> None:
        """Send ``seg``; ``control``: on behalf of no connection (Linux's per-netns
        control socket, ``ip_send_unicast_reply``)."""
        counters = self.host.counters
        gso = seg.gso_size
        # Linux counts a GSO packet as the segments it becomes (tcp_skb_pcount).
        counters.inc("TcpOutSegs", -(-len(seg.payload) // gso) if gso else 1)
        if seg.flags & RST:
            counters.inc("TcpOutRsts")
        self.host.ip_output(local, remote, PROTO_TCP, seg, always_df=control)

    def send_reset(self, seg: TCPSegment, local: str, remote: str) -> None:
        """RFC 9293 §3.5.2: a RST for a segment that matches no connection."""
        reply = reset_for(seg)
        if reply is not None:
            self.output_segment(reply, local, remote, control=True)

    # -- input -------------------------------------------------------------------------

    def input(self, src: str, dst: str, payload: bytes | memoryview, src_packed: bytes,
              dst_packed: bytes, now: float, skb: tuple[int, int] | None = None, *,
              checksum_trusted: bool = False) -> None:
        """A TCP segment for one of our addresses (Linux ``tcp_v4_rcv``); ``skb``: the
        truesize and gso_size the device gave it, if it says; ``checksum_trusted``: the
        device vouches for the checksum (``skb_csum_unnecessary``)."""
        counters = self.host.counters
        try:
            seg = parse_tcp(payload, None if checksum_trusted
                            else pseudo_header(src_packed, dst_packed, PROTO_TCP))
        except MalformedPacket as exc:
            counters.inc("TcpInErrs")
            if isinstance(exc, BadChecksum):
                counters.inc("TcpInCsumErrors")
            self.host.drop(f"TCP: {exc}")
            return
        counters.inc("TcpInSegs")
        if skb is not None:
            seg.truesize, seg.gso_size = skb
        attached = self.conns.get((dst, seg.dst_port, src, seg.src_port))
        if attached is not None:
            listener = attached.listener
            conn = attached.conn
            if listener is not None and conn.state is State.SYN_RECEIVED and \
                    seg.flags & ACK and not seg.flags & (RST | SYN) and \
                    listener.accept_queue_full():
                # tcp_check_req: the child cannot be queued; drop the ACK and let the
                # SYN-ACK be retransmitted (tcp_abort_on_overflow=0).
                counters.inc("TcpExtListenOverflows")
                counters.inc("TcpExtListenDrops")
                if self.host.sysctl["net.ipv4.tcp_abort_on_overflow"]:
                    conn.abort(now)
                    self.service(attached)
                return
            conn.on_segment(seg, now)
            self.service(attached)
            return
        listener = self.find_listener(dst, seg.dst_port, src, seg.src_port)
        if listener is not None:
            listener.on_segment(seg, (dst, seg.dst_port), (src, seg.src_port), now)
            return
        if not seg.flags & RST:
            self.send_reset(seg, dst, src)

    def orphans_sending(self) -> bool:
        """Has a connection its application closed still data or a FIN unacknowledged?
        The kernel goes on sending those after the process exits; a tcpkit host ends
        with its process, which therefore waits for them first."""
        return any(a.conn.orphan and a.conn.snd_una < a.conn.write_seq
                   for a in self.conns.values())

    def find_listener(self, address: str, port: int, remote: str,
                      remote_port: int) -> Listener | None:
        group = self.listeners.get((address, port)) or self.listeners.get(("0.0.0.0", port))
        if not group:
            return None
        if len(group) == 1:
            return group[0]
        # SO_REUSEPORT: a hash of the 4-tuple picks one listener of the group.
        return group[hash((address, port, remote, remote_port)) % len(group)]

    def icmp_error(self, key: Key, quoted_seq: int, err: int | None, mtu: int,
                   now: float, *, revert_backoff: bool = False) -> None:
        """An ICMP error quoting our segment of ``key``: ``err`` for unreachable and
        time exceeded, or a next-hop ``mtu`` for fragmentation needed; network and host
        unreachable may ``revert_backoff`` (RFC 6069)."""
        attached = self.conns.get(key)
        if attached is None:
            self.host.counters.inc("IcmpInErrors")
            return
        conn = attached.conn
        handled = (conn.on_mtu_reduced(mtu, quoted_seq, now) if err is None
                   else conn.on_icmp_error(err, quoted_seq, now, revert_backoff=revert_backoff))
        if not handled and conn.state not in (State.CLOSED, State.TIME_WAIT):
            self.host.counters.inc("TcpExtOutOfWindowIcmps")
        self.service(attached)

    # -- timers ------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        timers = self._timers
        while timers and timers[0][2].deadline != timers[0][0]:
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def on_timer(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            deadline, _, attached = heapq.heappop(timers)
            if attached.deadline != deadline:
                continue
            attached.deadline = None
            attached.conn.on_timer(now)
            self.service(attached)

    def crash(self) -> None:
        """The host lost power: every connection vanishes without a segment."""
        self.conns.clear()
        self.busy_toward.clear()
        self.listeners.clear()
        self._timers.clear()

"""A host: interfaces, routes, neighbours, IPv4 in and out, ICMP, and TCP on top.

A host is driven like a connection (sans-IO, with time injected): a link hands it
packets with :meth:`Host.receive`, a driver calls :meth:`Host.on_timer` at
:meth:`Host.next_deadline`, and sockets (:meth:`Host.socket`) make the user calls. The
host reads its clock through the ``clock`` function it was given — a simulation's
virtual clock or the real one — and sends through each interface's ``transmit``.

Loopback traffic (127.0.0.0/8 and the host's own addresses) is queued and delivered when
the current call returns (:meth:`Host.settle`), the way Linux's loopback hands packets
to the receive path after the sender's call, so one connection's output is never
processed in the middle of another's.
"""

from __future__ import annotations

import errno
import heapq
import ipaddress
import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tcpkit.stack.fastopen_cache import FastOpenCache
from tcpkit.stack.forward import forward
from tcpkit.stack.fragments import Reassembler, fragment
from tcpkit.stack.icmp_ratelimit import IcmpRateLimit
from tcpkit.stack.mib import Counters
from tcpkit.stack.ports import PortTable
from tcpkit.stack.routes import Interface, RouteTable
from tcpkit.stack.sysctl import Sysctls
from tcpkit.stack.tcp_layer import TcpLayer
from tcpkit.tcp.isn import HostSecrets
from tcpkit.wire import icmp
from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.errors import MalformedPacket
from tcpkit.wire.ipv4 import FLAG_DF, PROTO_ICMP, PROTO_TCP, IPv4Header, parse_ipv4
from tcpkit.wire.tcp import TCPSegment

if TYPE_CHECKING:
    from tcpkit.stack.sock import TcpSock
    from tcpkit.tcp.events import StateChanged

LOOPBACK_MTU = 65536
IP_MAX_MTU = 0xFFFF

# Linux icmp_err_convert[]: destination-unreachable code -> errno (net/ipv4/icmp.c).
UNREACH_ERRNO = {
    0: errno.ENETUNREACH, 1: errno.EHOSTUNREACH, 2: errno.ENOPROTOOPT,
    3: errno.ECONNREFUSED, 4: errno.EMSGSIZE, 5: errno.EOPNOTSUPP, 6: errno.ENETUNREACH,
    7: errno.EHOSTDOWN, 8: errno.ENONET, 9: errno.ENETUNREACH, 10: errno.EHOSTUNREACH,
    11: errno.ENETUNREACH, 12: errno.EHOSTUNREACH, 13: errno.EHOSTUNREACH,
    14: errno.EHOSTUNREACH, 15: errno.EHOSTUNREACH,
}
PMTU_EXPIRES = 600.0  # net.ipv4.route.mtu_expires
ICMP_TOS = 0xC0  # IPTOS_PREC_INTERNETCONTROL, which Linux icmp_send gives its errors


@dataclass(slots=True)
class _Neighbour:
    """An ARP entry: INCOMPLETE while probing (packets wait), then REACHABLE, or FAILED."""

    state: str = "INCOMPLETE"
    probes: int = 0
    waiting: list[tuple[bytes, IPv4Header, TCPSegment | None]] = field(default_factory=list)
    queued: int = 0  # truesize of the waiting packets


def _truesize(packet: bytes) -> int:
    """Linux SKB_TRUESIZE of the frame: data, Ethernet header, sk_buff and shared info
    (256 + 320 bytes on x86-64), which makes 212992 bytes hold 101 full frames."""
    return len(packet) + 14 + 576


class Host:
    """One TCP/IP host (see the module docstring)."""

    def __init__(self, name: str = "host", *, seed: int | None = None,
                 clock: Callable[[], float] | None = None,
                 sysctl: Sysctls | None = None) -> None:
        self.name = name
        self.rng = random.Random(seed)
        self.secrets = HostSecrets(self.rng.randbytes(32)) if seed is not None \
            else HostSecrets()
        self.clock: Callable[[], float] = clock or (lambda: 0.0)
        self.sysctl = sysctl or Sysctls()
        self.counters = Counters()
        self.routes = RouteTable()
        self.interfaces: dict[str, Interface] = {}
        self._local: set[str] = set()  # our addresses: looked up for every packet
        self.ports = PortTable(self.rng)
        self.fastopen_cache = FastOpenCache()  # tcp_metrics: lost at a reboot
        self.tcp = TcpLayer(self)
        # Read through self.tcp at each call: a reboot replaces the TCP layer.
        self.counters.gauge("TcpCurrEstab", lambda: self.tcp.current_established())  # noqa: PLW0108
        self.fragments = Reassembler(self.sysctl["net.ipv4.ipfrag_time"],
                                     self.sysctl["net.ipv4.ipfrag_high_thresh"])
        self.drops: deque[str] = deque(maxlen=100)  # why recent packets were dropped
        self.down = False  # crashed: no power until reboot()
        self._neighbours: dict[tuple[str, str], _Neighbour] = {}
        # Path MTUs learned from ICMP, by destination: (mtu, expires, locked).
        self._pmtu: dict[str, tuple[int, float, bool]] = {}
        self.rejecting: int | None = None  # see reject()
        # Called with (4-tuple, StateChanged, now) as connections change state (the lab's
        # state timelines); kept across reboots.
        self.state_watchers: list[Callable[[tuple[str, int, str, int], StateChanged, float],
                                           None]] = []
        self.icmp_limit = IcmpRateLimit(self.sysctl.connection.hz)
        self._backlog: deque[bytes] = deque()
        self._settling = False
        self._timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._order = itertools.count()
        self._ip_id = self.rng.randrange(1 << 16)
        self.add_interface("lo", "127.0.0.1/8", mtu=LOOPBACK_MTU)

    def __repr__(self) -> str:
        addresses = ", ".join(f"{i.name} {i.address}/{i.prefix}"
                              for i in self.interfaces.values())
        return f"<Host {self.name}: {addresses}>"

    @property
    def now(self) -> float:
        return self.clock()

    # -- configuration -----------------------------------------------------------------

    def add_interface(self, name: str, address: str, *, mtu: int = 1500) -> Interface:
        """``ip addr add <address>/<prefix> dev <name>``; adds the connected route."""
        if name in self.interfaces:
            raise ValueError(f"{self.name} already has an interface {name!r}")
        iface_net = ipaddress.IPv4Interface(address)
        interface = Interface(name, str(iface_net.ip), iface_net.network.prefixlen, mtu)
        if name == "lo":
            interface.transmit = self._loopback_transmit
        self.interfaces[name] = interface
        self._local.add(interface.address)
        self.routes.add(str(iface_net.network), interface)
        return interface

    def set_qdisc_limit(self, name: str, limit: int | None) -> None:
        """``tc qdisc add dev <name> root pfifo limit <limit>`` (None: ``tc qdisc del``).
        With limit 0 the device refuses every packet: TCP connections learn it as they
        send (local congestion), everything else is dropped."""
        if limit is not None and limit < 0:
            raise ValueError(f"a qdisc limit is a number of packets, not {limit}")
        self.interfaces[name].qdisc_limit = limit
        self.tcp.watch_device_queues()

    def device_refuses(self, destination: str) -> bool:
        """Would the device a packet to ``destination`` leaves by refuse it now?"""
        if self.is_local(destination):
            return False
        try:
            return self.routes.lookup(destination).interface.refuses
        except OSError:
            return False

    def add_route(self, network: str, *, via: str | None = None,
                  dev: str | None = None) -> None:
        """``ip route add <network> [via <gateway>] [dev <interface>]``; ``default`` is
        0.0.0.0/0."""
        network = "0.0.0.0/0" if network == "default" else network
        if dev is not None:
            interface = self.interfaces[dev]
        elif via is not None:
            interface = self.routes.lookup(via).interface
        else:
            raise ValueError("a route needs a gateway (via=) or a device (dev=)")
        self.routes.add(network, interface, via)

    def addresses(self) -> list[str]:
        return [i.address for i in self.interfaces.values()]

    def is_local(self, address: str) -> bool:
        return address in self._local or self.is_loopback(address)

    @staticmethod
    def is_loopback(address: str) -> bool:
        return address.startswith("127.")

    def source_for(self, destination: str) -> str:
        """The source address of a connection to ``destination`` (the route's
        interface); OSError(ENETUNREACH) without a route."""
        if self.is_loopback(destination):
            return destination if destination in self._local else "127.0.0.1"
        if destination in self._local:
            return destination
        return self.routes.lookup(destination).interface.address

    def path_mtu(self, destination: str) -> int:
        """The MTU towards ``destination``: the route's, or less if ICMP said so."""
        if self.is_local(destination):
            # Linux caps a route's MTU at IP_MAX_MTU (a datagram's largest size): over
            # loopback (MTU 65536) the MSS is 65495, not 65496.
            return min(self.interfaces["lo"].mtu, IP_MAX_MTU)
        try:
            mtu = self.routes.lookup(destination).interface.mtu
        except OSError:
            return 1500
        learned = self._pmtu.get(destination)
        if learned is not None and learned[1] > self.now:
            mtu = min(mtu, learned[0])
        return mtu

    def learn_path_mtu(self, destination: str, mtu: int, now: float) -> int:
        """ICMP said ``mtu`` is the most that reaches ``destination``: remember it for
        ``net.ipv4.route.mtu_expires`` and return the path MTU now in force (Linux
        ``__ip_rt_update_pmtu``). It only ever goes down; below
        ``net.ipv4.route.min_pmtu`` (552) it stops at that floor and is locked: no
        further ICMP moves it, and datagrams go without DF so that routers fragment
        them (RFC 1191 §7's defence against forged tiny MTUs)."""
        current = self.path_mtu(destination)
        if self._locked(destination, now):
            return current
        floor = self.sysctl["net.ipv4.route.min_pmtu"]
        locked = mtu < floor
        if locked:
            mtu = min(current, floor)
        if mtu >= current and not locked:
            return current
        self._pmtu[destination] = (mtu, now + PMTU_EXPIRES, locked)
        return mtu

    def _locked(self, destination: str, now: float | None = None) -> bool:
        """Is the path MTU to ``destination`` at its floor and locked (no DF)? The
        clock is read only when something was learned: this runs for every datagram."""
        learned = self._pmtu.get(destination)
        if learned is None or not learned[2]:
            return False
        return learned[1] > (self.now if now is None else now)

    def socket(self) -> TcpSock:
        from tcpkit.stack.sock import TcpSock  # noqa: PLC0415 (sock imports host types)
        if self.down:
            raise OSError(errno.ENETDOWN, f"host {self.name} is down")
        return TcpSock(self)

    # -- timers ------------------------------------------------------------------------

    def call_later(self, delay: float, callback: Callable[[float], None]) -> None:
        heapq.heappush(self._timers, (self.now + delay, next(self._order), callback))

    def next_deadline(self) -> float | None:
        tcp = self.tcp.next_deadline()
        own = self._timers[0][0] if self._timers else None
        frag = self.fragments.next_deadline()
        times = [t for t in (tcp, own, frag) if t is not None]
        return min(times) if times else None

    def on_timer(self, now: float) -> None:
        if self.down:
            return
        while self._timers and self._timers[0][0] <= now:
            _, _, callback = heapq.heappop(self._timers)
            callback(now)
        if self.fragments.expire(now):
            self.counters.inc("IpReasmTimeout")
            self.counters.inc("IpReasmFails")
        self.tcp.on_timer(now)
        self.settle()

    def reject(self, code: int | None) -> None:
        """A firewall rule on input: every TCP segment for us is answered with an ICMP
        destination unreachable of ``code`` instead of being delivered, as
        ``nft add rule ... ip protocol tcp reject with icmp type ...`` does on Linux
        (``nf_send_unreach``). ``None`` lifts the rule."""
        if code is not None and not 0 <= code <= icmp.NR_UNREACH:
            raise ValueError(f"ICMP destination unreachable code {code} is not in 0..15")
        self.rejecting = code

    # -- power -------------------------------------------------------------------------

    def crash(self) -> None:
        """Power off: every connection, listener, queue and timer is gone, silently."""
        self.down = True
        self.tcp.crash()
        self.ports = PortTable(self.rng)
        self._neighbours.clear()
        self.icmp_limit = IcmpRateLimit(self.sysctl.connection.hz)
        self._backlog.clear()
        self._timers.clear()
        self.fragments = Reassembler(self.fragments.timeout, self.fragments.limit)

    def reboot(self) -> None:
        """Power on again with empty tables (and a new secret, as after a boot)."""
        self.crash()
        self.secrets = HostSecrets(self.rng.randbytes(32))
        self.fastopen_cache = FastOpenCache()
        self.tcp = TcpLayer(self)
        self.down = False

    # -- output ------------------------------------------------------------------------

    def ip_output(self, src: str, dst: str, protocol: int, seg: TCPSegment | bytes, *,
                  tos: int = 0, always_df: bool = False) -> None:
        """Send one datagram (Linux ``ip_queue_xmit``): route, header, neighbour. TCP
        sets DF (path MTU discovery, RFC 1191) unless the path's MTU is locked, or
        always with ``always_df`` (Linux's control socket, which answers for no
        connection, is ``IP_PMTUDISC_DO``); ICMP never does (``IP_PMTUDISC_DONT``).
        A TCP segment towards a device that offloads (``Interface.transmit_tcp``) leaves
        with its checksum for the device to finish, and a GSO one (``gso_size``) whole,
        for the device to cut."""
        if self.down:
            return
        df = FLAG_DF if always_df or (protocol == PROTO_TCP and not self._locked(dst)) else 0
        header = IPv4Header(src=src, dst=dst, protocol=protocol, tos=tos,
                            ttl=self.sysctl["net.ipv4.ip_default_ttl"],
                            identification=self._next_ip_id(), flags=df)
        self.counters.inc("IpOutRequests")
        if self.is_local(dst):
            self.interfaces["lo"].transmit(header.packet(self._transport(header, seg)), dst)
            return
        try:
            route = self.routes.lookup(dst)
        except OSError:
            self.counters.inc("IpOutNoRoutes")
            return
        interface = route.interface
        if not interface.up:
            self.drop(f"{interface.name} is down")
            return
        if interface.refuses:
            self.drop(f"{interface.name}'s queueing discipline is full")
            return
        mtu = self.path_mtu(dst) if dst in self._pmtu else interface.mtu
        offload = interface.transmit_tcp
        if offload is not None and isinstance(seg, TCPSegment):
            tcp_header = seg.header(pseudo_header(header.src_packed, header.dst_packed,
                                                  PROTO_TCP), offload=True)
            size = len(tcp_header) + len(seg.payload)
            ip_header = header.build(size)
            # A GSO packet's segments fit: its gso_size is the MSS, which follows the
            # path MTU. A lone segment too big goes the slow way (fragments, or a drop).
            if seg.gso_size or len(ip_header) + size <= mtu:
                offload(ip_header + tcp_header, seg.payload, len(tcp_header), seg.gso_size)
                return
        payload = self._transport(header, seg)
        packet = header.packet(payload)
        next_hop = self.routes.next_hop(route, dst)
        if len(packet) > mtu:
            self.fragment_output(interface, next_hop, header, payload, mtu)
            return
        self.link_output(interface, next_hop, packet, header,
                         seg if isinstance(seg, TCPSegment) else None)

    @staticmethod
    def _transport(header: IPv4Header, seg: TCPSegment | bytes) -> bytes:
        if isinstance(seg, bytes):
            return seg
        return seg.build(pseudo_header(header.src_packed, header.dst_packed, header.protocol))

    def tso_toward(self, destination: str) -> bool:
        """Does the device towards ``destination`` cut TCP super-segments itself?"""
        if self.is_local(destination):
            return False
        try:
            return self.routes.lookup(destination).interface.transmit_tcp is not None
        except OSError:
            return False

    def fragment_output(self, interface: Interface, next_hop: str, header: IPv4Header,
                        payload: bytes, mtu: int) -> None:
        """A datagram too big for ``mtu``: in fragments if DF is clear (Linux
        ``ip_do_fragment``), else dropped (``IpFragFails``; a router then answers with
        fragmentation needed, a local sender gets EMSGSIZE)."""
        if header.dont_fragment:
            self.counters.inc("IpFragFails")
            self.drop(f"IP: {len(payload)} bytes with DF do not fit MTU {mtu}")
            return
        pieces = fragment(header, payload, mtu)
        self.counters.inc("IpFragOKs")
        self.counters.inc("IpFragCreates", len(pieces))
        for piece in pieces:
            self.link_output(interface, next_hop, piece, header)

    def _next_ip_id(self) -> int:
        self._ip_id = (self._ip_id + 1) & 0xFFFF
        return self._ip_id

    def _loopback_transmit(self, packet: bytes, next_hop: str) -> None:
        del next_hop
        self._backlog.append(packet)

    def settle(self) -> None:
        """Deliver what was sent over loopback (and what that sends, and so on)."""
        if self._settling:
            return
        self._settling = True
        try:
            backlog = self._backlog
            lo = self.interfaces["lo"]
            while backlog:
                self.receive(backlog.popleft(), lo)
        finally:
            self._settling = False

    # -- neighbours (ARP, RFC 826; Linux neigh_resolve_output) ---------------------------

    def link_output(self, interface: Interface, next_hop: str, packet: bytes,
                    header: IPv4Header, seg: TCPSegment | None = None) -> None:
        """Hand ``packet`` to ``interface`` for ``next_hop``, once ARP has found it."""
        solicit = getattr(interface.transmit, "solicit", None)
        if solicit is None:  # a point-to-point link: no neighbours to find
            interface.transmit(packet, next_hop)
            return
        key = (interface.name, next_hop)
        entry = self._neighbours.get(key)
        if entry is not None and entry.state == "REACHABLE":
            interface.transmit(packet, next_hop)
            return
        if entry is None or entry.state == "FAILED":
            entry = self._neighbours[key] = _Neighbour()
            self._probe(interface, next_hop, entry, solicit)
        # Linux __neigh_event_send: the queue is bounded by truesize, oldest out first.
        limit = self.sysctl["net.ipv4.neigh.default.unres_qlen_bytes"]
        size = _truesize(packet)
        while entry.waiting and entry.queued + size > limit:
            entry.queued -= _truesize(entry.waiting.pop(0)[0])
            self.drop("neighbour queue full (unres_qlen_bytes)")
        entry.waiting.append((packet, header, seg))
        entry.queued += size

    def _probe(self, interface: Interface, next_hop: str, entry: _Neighbour,
               solicit: Callable[[str], None]) -> None:
        entry.probes += 1
        solicit(next_hop)
        wait = self.sysctl["net.ipv4.neigh.default.retrans_time_ms"] / 1000

        def timeout(now: float) -> None:
            if entry.state != "INCOMPLETE" or self._neighbours.get(
                    (interface.name, next_hop)) is not entry:
                return
            if entry.probes < self.sysctl["net.ipv4.neigh.default.mcast_solicit"]:
                self._probe(interface, next_hop, entry, solicit)
                return
            self._neighbour_failed(entry, now)

        self.call_later(wait, timeout)

    def _neighbour_failed(self, entry: _Neighbour, now: float) -> None:
        """No answer: FAILED. Each waiting packet is reported to its sender as a host
        unreachable (Linux ``ipv4_link_failure`` sends the ICMP to ourselves)."""
        entry.state = "FAILED"
        waiting, entry.waiting, entry.queued = entry.waiting, [], 0
        for _, header, seg in waiting:
            if seg is not None:
                key = (header.src, seg.src_port, header.dst, seg.dst_port)
                self.tcp.icmp_error(key, seg.seq, errno.EHOSTUNREACH, 0, now)

    def neighbour_found(self, interface: Interface, address: str) -> None:
        """The link says ``address`` is on ``interface``'s link: it answered our ARP
        request, or sent us one."""
        if self.down:
            return
        entry = self._neighbours.get((interface.name, address))
        if entry is None:
            # Learned from the peer's own request (Linux arp_process: neigh_event_ns).
            entry = self._neighbours[(interface.name, address)] = _Neighbour()
        entry.state = "REACHABLE"
        waiting, entry.waiting, entry.queued = entry.waiting, [], 0
        for packet, _, _ in waiting:
            interface.transmit(packet, address)

    # -- input -------------------------------------------------------------------------

    def drop(self, reason: str) -> None:
        self.drops.append(reason)

    def receive(self, packet: bytes | memoryview, interface: Interface, *,
                checksum_trusted: bool = False, gso_size: int = 0) -> None:
        """An IPv4 datagram from ``interface`` (Linux ``ip_rcv``, ``ip_local_deliver``).
        A malformed one is counted and dropped, never raised. A device that offloads
        says the transport checksum needs no check (``checksum_trusted``: CHECKSUM_PARTIAL
        or CHECKSUM_UNNECESSARY) and what size of segments a super-segment was made of
        (``gso_size``). ``packet`` may be a view: TCP keeps its payload as one when it
        is a view of bytes (:mod:`tcpkit.wire.frozen`), and copies it otherwise; the
        rest take bytes."""
        if self.down or not interface.up:
            return
        counters = self.counters
        counters.inc("IpInReceives")
        try:
            header, payload = parse_ipv4(packet)
        except MalformedPacket as exc:
            counters.inc("IpInHdrErrors")
            self.drop(f"IP: {exc}")
            return
        now = self.now
        if not self.is_local(header.dst):
            if self.sysctl["net.ipv4.ip_forward"]:
                forward(self, header, bytes(packet), bytes(payload), now)
                return
            counters.inc("IpInAddrErrors")
            self.drop(f"IP: {header.dst} is not ours")
            return
        if header.is_fragment:
            counters.inc("IpReasmReqds")
            result = self.fragments.add(header, bytes(payload), now)
            if result is None:
                return
            if isinstance(result, str):
                counters.inc("IpReasmFails")
                self.drop(f"IP: {result}")
                return
            counters.inc("IpReasmOKs")
            header, payload = result
        if self.rejecting is not None and header.protocol == PROTO_TCP:
            # The input hook runs on the reassembled datagram, before delivery.
            self.send_icmp_error(header, header.packet(bytes(payload)), icmp.DEST_UNREACHABLE,
                                 self.rejecting, now)
            return
        counters.inc("IpInDelivers")
        if header.protocol == PROTO_TCP:
            rx = interface.rx_skb
            skb = rx(len(packet)) if rx else None
            if gso_size:
                skb = (skb[0] if skb else 0, gso_size)
            self.tcp.input(header.src, header.dst, payload, header.src_packed,
                           header.dst_packed, now, skb, checksum_trusted=checksum_trusted)
        elif header.protocol == PROTO_ICMP:
            self._icmp_input(header, bytes(payload), now)
        else:
            counters.inc("IpInUnknownProtos")
        self.settle()

    def send_icmp_error(self, header: IPv4Header, quoted: bytes, icmp_type: int, code: int,
                        now: float, *, next_hop_mtu: int = 0) -> None:
        """Answer the datagram ``quoted`` (parsed as ``header``) with an ICMP error (Linux
        ``icmp_send``: rate limited per destination, :mod:`tcpkit.stack.icmp_ratelimit`;
        from the address it was sent to if that is ours, else from our address towards
        its source, as a router's errors are)."""
        counters = self.counters
        if not self.is_local(header.src) and not self.icmp_limit.allow(
                header.src, icmp_type, code, now,
                ratelimit_ms=self.sysctl["net.ipv4.icmp_ratelimit"],
                ratemask=self.sysctl["net.ipv4.icmp_ratemask"]):
            counters.inc("IcmpOutRateLimitHost")
            return
        if icmp_type == icmp.TIME_EXCEEDED:
            message = icmp.ICMPMessage.time_exceeded(code, quoted)
            counters.inc("IcmpOutTimeExcds")
        else:
            message = icmp.ICMPMessage.destination_unreachable(code, quoted, next_hop_mtu)
            counters.inc("IcmpOutDestUnreachs")
        try:
            source = header.dst if self.is_local(header.dst) else self.source_for(header.src)
        except OSError:
            counters.inc("IpOutNoRoutes")
            return
        counters.inc("IcmpOutMsgs")
        self.ip_output(source, header.src, PROTO_ICMP, message.build(),
                       tos=ICMP_TOS | (header.tos & 0x1E))

    def _icmp_input(self, header: IPv4Header, payload: bytes, now: float) -> None:
        counters = self.counters
        try:
            message = icmp.parse_icmp(payload)
        except MalformedPacket as exc:
            counters.inc("IcmpInErrors")
            self.drop(f"ICMP: {exc}")
            return
        counters.inc("IcmpInMsgs")
        if message.type == icmp.ECHO_REQUEST:
            reply = icmp.ICMPMessage.echo_reply(message.identifier, message.sequence,
                                                message.body)
            self.counters.inc("IcmpOutMsgs")
            self.ip_output(header.dst, header.src, PROTO_ICMP, reply.build(), tos=header.tos)
            return
        if message.type not in (icmp.DEST_UNREACHABLE, icmp.TIME_EXCEEDED,
                                icmp.PARAMETER_PROBLEM):
            return
        try:
            quoted, transport = message.quoted_ipv4()
        except MalformedPacket:
            counters.inc("IcmpInErrors")
            return
        if quoted.protocol != PROTO_TCP or len(transport) < 8:
            return
        sport = int.from_bytes(transport[0:2], "big")
        dport = int.from_bytes(transport[2:4], "big")
        seq = int.from_bytes(transport[4:8], "big")
        key = (quoted.src, sport, quoted.dst, dport)
        if message.type == icmp.DEST_UNREACHABLE:
            counters.inc("IcmpInDestUnreachs")
            if message.code == icmp.FRAGMENTATION_NEEDED:
                # An MTU of 0 (a pre-RFC 1191 router) lands on the locked floor.
                mtu = self.learn_path_mtu(quoted.dst, message.next_hop_mtu, now)
                self.tcp.icmp_error(key, seq, None, mtu, now)
                return
            err = UNREACH_ERRNO.get(message.code)
            if err is None:
                return
        elif message.type == icmp.TIME_EXCEEDED:
            err = errno.EHOSTUNREACH
        else:
            err = errno.EPROTO
        # RFC 6069: net and host unreachable say the path is down, not congested; the
        # retransmission backoff may be undone (Linux tcp_v4_err -> tcp_ld_RTO_revert).
        revert = message.type == icmp.DEST_UNREACHABLE and \
            message.code in (icmp.NET_UNREACHABLE, icmp.HOST_UNREACHABLE)
        self.tcp.icmp_error(key, seq, err, 0, now, revert_backoff=revert)


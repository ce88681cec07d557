"""Two worlds where the same failure story can run: the kernel's (two network namespaces
joined by a veth pair, the actors as threads moved into their host's namespace, real time)
and tcpkit's (two simulated hosts joined by a cable, the actors as simulation actors,
virtual time). A story only uses the :class:`World` surface, so one body runs in both.

Host ``a`` is 192.0.2.1, host ``b`` 192.0.2.2, on 192.0.2.0/24 with no other route; or,
in a routed world, ``b`` is 198.51.100.2 and a router (192.0.2.254, 198.51.100.254) sits
between them, whose link towards ``b`` may have a smaller MTU.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket as stdlib
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from ipaddress import ip_address
from types import ModuleType
from typing import Any, BinaryIO, Protocol

import tcpkit.socket
from tcpkit.lab.netns import ROUTER_A, ROUTER_B, Namespace, VethPair
from tcpkit.lab.netstat import snapshot
from tcpkit.links import sim
from tcpkit.links.netns import entered
from tcpkit.wire import icmp
from tcpkit.wire.checksum import internet_checksum

A, B = "192.0.2.1", "192.0.2.2"
B_ROUTED = "198.51.100.2"  # b's address behind the router
# ss's state filter names where they differ from the names its table shows.
SS_FILTER_NAMES = {"established": "estab", "listening": "listen", "closed": "unconn"}
# nft's names for ICMP destination unreachable codes (``reject with icmp type ...``).
REJECT_CODES = {"net-unreachable": icmp.NET_UNREACHABLE,
                "host-unreachable": icmp.HOST_UNREACHABLE,
                "port-unreachable": icmp.PORT_UNREACHABLE,
                "admin-prohibited": icmp.ADMIN_PROHIBITED}
CLONE_NEWNET = 0x40000000


def nft(ns: Namespace, rules: str) -> None:
    """Apply nftables ``rules`` (``nft -f`` syntax) in ``ns``."""
    subprocess.run(ns.exec("nft", "-f", "-"), input=rules.encode(), check=True)


def ss_count(ns: Namespace, state: str) -> int:
    """``ss -Htan state STATE | wc -l`` in ``ns`` (ss's state names: fin-wait-1, ...)."""
    out = subprocess.run(ns.exec("ss", "-Htan", "state", state),
                         capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


def kernel_sysctl(ns: Namespace, name: str, value: object) -> None:
    if isinstance(value, tuple):  # ip_local_port_range: "low high"
        value = " ".join(str(v) for v in value)
    ns.sysctl(name, value)


def kernel_counter(ns: Namespace, name: str) -> int:
    """An ``nstat`` counter (``TcpCurrEstab``) of ``ns``."""
    text = subprocess.run(ns.exec("cat", "/proc/net/snmp", "/proc/net/netstat"),
                          capture_output=True, text=True, check=True).stdout.splitlines()
    for names, values in zip(text[::2], text[1::2], strict=True):
        group, *fields = names.split()
        for field, value in zip(fields, values.split()[1:], strict=True):
            if group[:-1] + field == name:
                return int(value)
    raise KeyError(name)


def kernel_crash(ns: Namespace, kept: list[Any]) -> None:
    """``ns``'s host loses power: nothing goes in or out any more, and the sockets
    ``kept`` vanish without a segment (closed with SO_LINGER 0 behind a firewall that
    drops the RST)."""
    nft(ns, "add table inet tkdown\n"
        "add chain inet tkdown in { type filter hook input priority 0; }\n"
        "add chain inet tkdown out { type filter hook output priority 0; }\n"
        "add rule inet tkdown in drop\nadd rule inet tkdown out drop\n")
    for sock in kept:
        if sock.fileno() >= 0:
            sock.setsockopt(stdlib.SOL_SOCKET, stdlib.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()


def kernel_reboot(ns: Namespace, kept: list[Any]) -> None:
    """``ns``'s host comes back with no connections: the sockets are gone and it
    answers again (a RST for anything of the old connections)."""
    kernel_crash(ns, kept)
    time.sleep(0.01)  # the dropped RSTs are out of the way
    nft(ns, "delete table inet tkdown\n")


def run_actors(actors: list[tuple[str, Callable[[], None]]],
               enter: Callable[[str], contextlib.AbstractContextManager[Any]], timeout: float,
               *, fatal: type[BaseException] | None = None) -> None:
    """Each actor in a thread of its own, inside ``enter(side)`` (its host's namespace,
    its socket module); wait up to ``timeout`` seconds for all, then raise the first
    error one ended with. An error of type ``fatal`` is raised as soon as it happens:
    the other actors may wait forever for what that one would have done."""
    errors: list[BaseException] = []

    def body(side: str, actor: Callable[[], None]) -> None:
        try:
            with enter(side):
                actor()
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=pair, daemon=True) for pair in actors]
    for thread in threads:
        thread.start()
    end = time.monotonic() + timeout
    while any(thread.is_alive() for thread in threads):
        if fatal is not None and any(isinstance(exc, fatal) for exc in errors):
            break
        if time.monotonic() > end:
            raise RuntimeError(f"an actor still runs after {timeout} s")
        time.sleep(0.01)
    if errors:
        first = next((exc for exc in errors if fatal is not None and isinstance(exc, fatal)),
                     errors[0])
        raise first


class World(Protocol):
    @property
    def sk(self) -> ModuleType: ...  # the socket module the actors use
    @property
    def server(self) -> str: ...  # b's address

    def spawn(self, side: str, actor: Callable[[], None]) -> None: ...
    def run(self, timeout: float) -> None: ...
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...
    def unplug(self) -> None: ...
    def replug(self) -> None: ...
    def reject(self, kind: str | None) -> None: ...
    def sysctl(self, side: str, name: str, value: object) -> None: ...
    def keep(self, sock: Any, side: str = "a") -> None: ...
    def crash(self, side: str) -> None: ...
    def inject(self, side: str, packets: list[bytes]) -> None: ...
    def route(self, side: str, network: str, via: str) -> None: ...
    def count_sockets(self, side: str, state: str) -> int: ...
    def lose(self, length: int, times: int) -> None: ...
    def reboot(self, side: str) -> None: ...
    def counter(self, side: str, name: str) -> int: ...
    def set_router_mtu(self, mtu: int) -> None: ...


class KernelWorld:
    """Linux: namespaces ``a`` and ``b``; static neighbours so that unplugging the cable
    does not fail the ARP entries (KERNEL_LAB.md)."""

    sk = stdlib

    def __init__(self, *, routed: bool = False) -> None:
        self.pair = VethPair.create(routed=routed)
        self.pair.static_neighbours()
        self._actors: list[tuple[str, Callable[[], None]]] = []
        self._kept: list[tuple[str, Any]] = []
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._rejecter: _Rejecter | None = None

    @property
    def server(self) -> str:
        return self.pair.b_addr

    def set_router_mtu(self, mtu: int) -> None:
        self.pair.set_router_mtu(mtu)

    def _ns(self, side: str) -> Namespace:
        """The namespace of ``side``: ``a``, ``b``, or ``r`` for the router."""
        ns = {"a": self.pair.a, "b": self.pair.b, "r": self.pair.router}[side]
        if ns is None:
            raise ValueError("there is no router in this world")
        return ns

    def spawn(self, side: str, actor: Callable[[], None]) -> None:
        self._actors.append((side, actor))

    def _enter(self, side: str) -> None:
        """Move the calling thread (only it) into the side's network namespace."""
        fd = os.open(f"/var/run/netns/{self._ns(side).name}", os.O_RDONLY)
        try:
            if self._libc.setns(fd, CLONE_NEWNET) != 0:
                code = ctypes.get_errno()
                raise OSError(code, f"setns: {os.strerror(code)}")
        finally:
            os.close(fd)

    def run(self, timeout: float) -> None:
        run_actors(self._actors, lambda side: entered(self._ns(side).name), timeout)

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def unplug(self) -> None:
        """The cable is cut beyond ``a``'s switch port. In a routed world the router
        drops everything it would forward, and both hosts' transmissions leave them as
        on a real cut. Otherwise ``b`` drops every IP packet in and out (nftables):
        faithful for ``a``, but ``b``'s own sends then fail locally (EPERM from the
        output hook), which its TCP treats as a local failure — data it sends is never
        counted as sent and only zero-window-style probes follow — so a story where
        ``b`` sends into the cut must be routed. Setting the veth down would do the
        same to ``a``."""
        if self.pair.router is not None:
            self.nft("add table inet tkcut\n"
                     "add chain inet tkcut through { type filter hook forward priority 0; }\n"
                     "add rule inet tkcut through drop\n", "r")
            return
        rules = ("add table inet tkcut\n"
                 "add chain inet tkcut in { type filter hook input priority 0; }\n"
                 "add chain inet tkcut out { type filter hook output priority 0; }\n"
                 "add rule inet tkcut in drop\n"
                 "add rule inet tkcut out drop\n")
        self.nft(rules)

    def replug(self) -> None:
        self.nft("delete table inet tkcut\n", "r" if self.pair.router is not None else "b")

    def nft(self, rules: str, side: str = "b") -> None:
        """Apply nftables ``rules`` in ``side``'s namespace (``r``: the router's)."""
        nft(self._ns(side), rules)

    def lose(self, length: int, times: int) -> None:
        """The network loses the first ``times`` datagrams of ``length`` bytes from
        ``a`` to ``b``: nftables at ``b``'s input, after ``a``'s capture, with a limit
        whose burst is spent by them."""
        self.nft("add table inet tklose\n"
                 "add chain inet tklose in { type filter hook input priority -10; }\n"
                 f"add rule inet tklose in ip saddr {A} ip length {length} "
                 f"limit rate 1/hour burst {times} packets drop\n")

    def count_sockets(self, side: str, state: str) -> int:
        return ss_count(self._ns(side), state)

    def route(self, side: str, network: str, via: str) -> None:
        """``ip route add NETWORK via VIA`` on ``side``."""
        self._ns(side).ip("route", "add", network, "via", via)

    def inject(self, side: str, packets: list[bytes]) -> None:
        """Send whole IPv4 datagrams (forged sources allowed) from ``side`` through a
        raw socket, as an attacker's tool does; from the calling actor's thread, which
        is in some namespace: the raw socket is opened in ``side``'s."""
        done: list[BaseException] = []

        def send() -> None:
            try:
                self._enter(side)
                with stdlib.socket(stdlib.AF_INET, stdlib.SOCK_RAW,
                                   stdlib.IPPROTO_RAW) as raw:
                    for packet in packets:
                        raw.sendto(packet, (stdlib.inet_ntoa(packet[16:20]), 0))
            except BaseException as exc:  # re-raised in the caller's thread
                done.append(exc)
        thread = threading.Thread(target=send)
        thread.start()
        thread.join()
        if done:
            raise done[0]

    def crash(self, side: str) -> None:
        kernel_crash(self._ns(side), [sock for owner, sock in self._kept if owner == side])

    def reboot(self, side: str) -> None:
        kernel_reboot(self._ns(side), [sock for owner, sock in self._kept if owner == side])

    def reject(self, kind: str | None) -> None:
        """A firewall next to ``b`` answers every TCP segment for it with an ICMP
        destination unreachable of ``kind`` (nft's name: host-unreachable, ...), half a
        millisecond later, as on a cable; None: no more.

        Not ``nft ... reject`` on ``b`` itself: over a veth the ICMP comes back within the
        sender's own system call, while its socket is locked, and Linux then keeps it as
        a soft error only (LockDroppedIcmps). No real path is that short."""
        if self._rejecter is not None:
            self._rejecter.stop()
            self._rejecter = None
            self.nft("delete table inet tkreject\n")
        if kind is None:
            return
        rules = ("add table inet tkreject\n"
                 "add chain inet tkreject in { type filter hook input priority 0; }\n"
                 "add rule inet tkreject in ip protocol tcp drop\n")
        self.nft(rules)
        self._rejecter = _Rejecter(self, REJECT_CODES[kind])

    def sysctl(self, side: str, name: str, value: object) -> None:
        kernel_sysctl(self._ns(side), name, value)

    def keep(self, sock: Any, side: str = "a") -> None:
        self._kept.append((side, sock))

    def counter(self, side: str, name: str) -> int:
        return kernel_counter(self._ns(side), name)

    def close(self) -> None:
        if self._rejecter is not None:
            self._rejecter.stop()
        for _, sock in self._kept:
            sock.close()
        self.pair.delete()


class _Rejecter:
    """A thread in ``b``'s namespace that sees each TCP datagram ``a`` sends (a packet
    socket taps the veth before nftables drops it) and answers it from ``b`` with an
    ICMP destination unreachable quoting its IP header and first 8 bytes (RFC 792)."""

    def __init__(self, world: KernelWorld, code: int) -> None:
        self._code = code
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._world = world
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the ICMP rejecter did not start")

    def _run(self) -> None:
        self._world._enter("b")
        tap = stdlib.socket(stdlib.AF_PACKET, stdlib.SOCK_DGRAM, stdlib.htons(0x0800))
        tap.bind((self._world.pair.b_if, 0))
        tap.settimeout(0.05)
        out = stdlib.socket(stdlib.AF_INET, stdlib.SOCK_RAW, stdlib.IPPROTO_ICMP)
        self._ready.set()
        with tap, out:
            while not self._stop.is_set():
                try:
                    packet, (_, _, pkttype, *_) = tap.recvfrom(65535)
                except TimeoutError:
                    continue
                if pkttype == stdlib.PACKET_OUTGOING or packet[9] != stdlib.IPPROTO_TCP:
                    continue
                quoted = packet[:(packet[0] & 0x0F) * 4 + 8]
                body = struct.pack("!BBHI", 3, self._code, 0, 0) + quoted
                message = body[:2] + struct.pack("!H", internet_checksum(body)) + body[4:]
                time.sleep(0.0005)
                out.sendto(message, (stdlib.inet_ntoa(packet[12:16]), 0))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


class SimWorld:
    """tcpkit: two simulated hosts on a cable of 0.5 ms, or two of 0.25 ms with a
    router between them; the capture is on ``a``'s cable."""

    sk = tcpkit.socket

    def __init__(self, seed: int = 1, *, capture: BinaryIO | None = None,
                 names: tuple[str, str] = ("a", "b"), routed: bool = False) -> None:
        self.net = net = sim.Network(seed)
        self.server = B_ROUTED if routed else B
        self.hosts = {"a": net.add_host(names[0], f"{A}/24"),
                      "b": net.add_host(names[1], f"{self.server}/24")}
        a, b = self.hosts["a"], self.hosts["b"]
        pairs = [(a, A, b, self.server)]
        self.router = None
        if not routed:
            self.link = self.far_link = net.link(a, b, delay=0.0005)
        else:
            self.router = router = net.add_host("router", f"{ROUTER_A}/24", f"{ROUTER_B}/24")
            router.sysctl["net.ipv4.ip_forward"] = 1
            a.add_route("default", via=ROUTER_A)
            b.add_route("default", via=ROUTER_B)
            self.link = net.link(a, router.interfaces["eth0"], delay=0.00025)
            self.far_link = net.link(router.interfaces["eth1"], b, delay=0.00025)
            pairs = [(a, A, router, ROUTER_A), (router, ROUTER_B, b, self.server)]
        if capture is not None:
            self.link.capture(capture)
        # The kernel world's static neighbours.
        for one, one_addr, other, other_addr in pairs:
            for here, there in ((one, other_addr), (other, one_addr)):
                interface = next(i for i in here.interfaces.values()
                                 if not i.loopback and ip_address(there) in i.network)
                here.neighbour_found(interface, there)

    def spawn(self, side: str, actor: Callable[[], None]) -> None:
        self.net.spawn(self.hosts[side], actor)

    def run(self, timeout: float) -> None:
        self.net.run(until=timeout, actors_only=True)
        if self.net.unfinished():
            raise RuntimeError(f"simulated actors still run after {timeout} s: "
                                 f"{self.net.unfinished()}")

    def now(self) -> float:
        return self.net.now

    def sleep(self, seconds: float) -> None:
        sim.sleep(seconds)

    def unplug(self) -> None:
        if self.router is not None:
            self.far_link.unplug()  # beyond the router, as the kernel world's cut
            return
        # At the server's end, where the kernel world's firewall drops: what the server
        # sends meanwhile never reaches the client's side of the cable or its capture.
        self.far_link.unplug(self.hosts["b"])

    def replug(self) -> None:
        self.far_link.replug()

    def set_router_mtu(self, mtu: int) -> None:
        if self.router is None:
            raise ValueError("there is no router between a and b")
        self.router.interfaces["eth1"].mtu = mtu

    def reject(self, kind: str | None) -> None:
        # The kernel world's firewall answers every segment: no rate limit here either.
        self.hosts["b"].sysctl["net.ipv4.icmp_ratelimit"] = 0
        self.hosts["b"].reject(None if kind is None else REJECT_CODES[kind])

    def sysctl(self, side: str, name: str, value: object) -> None:
        self.hosts[side].sysctl[name] = value

    def keep(self, sock: Any, side: str = "a") -> None:
        del sock, side  # the simulated host holds it until the network is closed

    def route(self, side: str, network: str, via: str) -> None:
        self.hosts[side].add_route(network, via=via)

    def lose(self, length: int, times: int) -> None:
        left = times

        def drop(packet: bytes) -> bool:
            nonlocal left
            if not left or packet[12:16] != stdlib.inet_aton(A) or len(packet) != length:
                return False
            left -= 1
            return True
        self.link.faults.drop = drop

    def count_sockets(self, side: str, state: str) -> int:
        rows = snapshot([self.hosts[side]], self.net.now)
        wanted = SS_FILTER_NAMES.get(state.lower(), state.lower())
        return sum(1 for row in rows if row.state.lower() == wanted)

    def inject(self, side: str, packets: list[bytes]) -> None:
        host = self.hosts[side]
        interface = host.interfaces["eth0"]
        for packet in packets:
            destination = stdlib.inet_ntoa(packet[16:20])
            route = host.routes.lookup(destination)
            interface.transmit(packet, host.routes.next_hop(route, destination))

    def crash(self, side: str) -> None:
        self.hosts[side].crash()

    def reboot(self, side: str) -> None:
        self.hosts[side].reboot()

    def counter(self, side: str, name: str) -> int:
        return self.hosts[side].counters[name]

    def close(self) -> None:
        self.net.close()

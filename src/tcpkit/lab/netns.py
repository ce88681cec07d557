"""Network namespaces, veth pairs and tcpdump captures for tests that talk to the kernel.

Names carry the test process id so parallel runs never collide, and everything created
is deleted afterwards. Addresses are TEST-NET (RFC 5737) and documentation IPv6 (RFC 3849).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tcpkit.wire.errors import MalformedPacket
from tcpkit.wire.pcap import read_pcap

_counter = itertools.count()


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@dataclass
class Namespace:
    name: str

    @classmethod
    def create(cls) -> Namespace:
        name = f"tk{os.getpid()}n{next(_counter)}"
        _run("ip", "netns", "add", name)
        ns = cls(name)
        ns.ip("link", "set", "lo", "up")
        return ns

    def ip(self, *args: str) -> None:
        _run("ip", "-n", self.name, *args)

    def exec(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def python(self, script: str, *args: str, timeout: float = 60) -> str:
        """Run a Python script inside the namespace; its stdout, or an error with stderr."""
        done = subprocess.run(self.exec(sys.executable, "-c", script, *args),
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode:
            raise RuntimeError(f"script failed in {self.name}:\n{done.stderr}")
        return done.stdout

    def sysctl(self, name: str, value: object) -> None:
        _run(*self.exec("sysctl", "-qw", f"{name}={value}"))

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)

    @contextmanager
    def capture(self, interface: str, path: Path, snaplen: int = 262144) -> Iterator[None]:
        """tcpdump on ``interface`` into ``path`` while the block runs."""
        proc = subprocess.Popen(
            self.exec("tcpdump", "-Z", "root", "-U", "--immediate-mode", "-s", str(snaplen),
                      "-i", interface,
                      "-w", str(path)),
            stderr=subprocess.PIPE, text=True,
        )
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # tcpdump says "listening on" once the socket is live
            seen.append(line)
            if "listening on" in line:
                break
        else:
            raise RuntimeError(f"tcpdump did not start: {''.join(seen)}")
        start = self.packets(interface)
        try:
            yield
        finally:
            # tcpdump loses what it has not read from its socket when it is stopped, and
            # on a loaded machine it can lag by more than the settle time: wait until the
            # file holds as many packets as crossed the interface.
            # Packets still on their way when the block ends (the ACK of a FIN sent as
            # the last actor returned) cross a moment later: count once it is quiet.
            crossed = self.packets(interface)
            quiet_by = time.monotonic() + 2.0
            while time.monotonic() < quiet_by:
                time.sleep(0.05)
                now = self.packets(interface)
                if now == crossed:
                    break
                crossed = now
            want = crossed - start
            deadline = time.monotonic() + 5.0
            while _records(path) < want and time.monotonic() < deadline:
                time.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=10)

    def packets(self, interface: str) -> int:
        """Packets a capture on the interface sees: received and sent, or on the loopback
        (whose every packet is both), sent."""
        out = subprocess.run(["ip", "-n", self.name, "-s", "-j", "link", "show", interface],
                             capture_output=True, text=True, check=True).stdout
        stats = json.loads(out)[0]["stats64"]
        sent = int(stats["tx"]["packets"])
        return sent if interface == "lo" else sent + int(stats["rx"]["packets"])


def _records(path: Path) -> int:
    """The complete packets a capture file being written holds so far."""
    count = 0
    try:
        with path.open("rb") as stream:
            for _ in read_pcap(stream):
                count += 1
    except (OSError, MalformedPacket):  # not created yet, or a record half written
        pass
    return count


def _veth(one: Namespace, one_if: str, other: Namespace, other_if: str) -> None:
    _run("ip", "link", "add", one_if, "netns", one.name, "type", "veth",
         "peer", "name", other_if, "netns", other.name)


def _mac(ns: Namespace, ifname: str) -> str:
    out = subprocess.run(["ip", "-n", ns.name, "-o", "link", "show", ifname],
                         capture_output=True, text=True, check=True).stdout
    return out.split("link/ether ")[1].split()[0]


# A router's addresses when there is one: on a's subnet, and on b's.
ROUTER_A, ROUTER_B = "192.0.2.254", "198.51.100.254"


@dataclass
class VethPair:
    """Namespaces ``a`` and ``b`` joined by a veth (a_if, b_if), or, with ``router``, by
    a third namespace that routes between 192.0.2.0/24 and 198.51.100.0/24 over two
    veths (a_if-ra, rb-b_if)."""

    a: Namespace
    b: Namespace
    a_addr: str = "192.0.2.1"
    b_addr: str = "192.0.2.2"
    a_addr6: str = "2001:db8::1"
    b_addr6: str = "2001:db8::2"
    a_if: str = "va"
    b_if: str = "vb"
    router: Namespace | None = None

    @classmethod
    def create(cls, *, routed: bool = False) -> VethPair:
        a, b = Namespace.create(), Namespace.create()
        if not routed:
            pair = cls(a, b)
            _veth(a, pair.a_if, b, pair.b_if)
        else:
            pair = cls(a, b, b_addr="198.51.100.2", b_addr6="2001:db8:1::2",
                       router=Namespace.create())
            r = pair.router
            assert r is not None
            _veth(a, pair.a_if, r, "ra")
            _veth(r, "rb", b, pair.b_if)
            for ifname, v4, v6 in (("ra", ROUTER_A, "2001:db8::fe"),
                                   ("rb", ROUTER_B, "2001:db8:1::fe")):
                r.ip("addr", "add", f"{v4}/24", "dev", ifname)
                r.ip("addr", "add", f"{v6}/64", "dev", ifname, "nodad")
                r.ip("link", "set", ifname, "up")
                _run(*r.exec("ethtool", "-K", ifname, "tx", "off"))
            r.sysctl("net.ipv4.ip_forward", 1)
        for ns, ifname, v4, v6 in ((a, pair.a_if, pair.a_addr, pair.a_addr6),
                                   (b, pair.b_if, pair.b_addr, pair.b_addr6)):
            ns.ip("addr", "add", f"{v4}/24", "dev", ifname)
            ns.ip("addr", "add", f"{v6}/64", "dev", ifname, "nodad")
            ns.ip("link", "set", ifname, "up")
            # Software checksums: a capture then shows the checksum that went on the wire,
            # not the pseudo-header sum that checksum offload leaves in place.
            _run(*ns.exec("ethtool", "-K", ifname, "tx", "off"))
        if routed:
            a.ip("route", "add", "default", "via", ROUTER_A)
            b.ip("route", "add", "default", "via", ROUTER_B)
        return pair

    def _links(self) -> list[tuple[Namespace, str, Namespace, str]]:
        """Each veth's two ends: (namespace, interface) twice."""
        if self.router is None:
            return [(self.a, self.a_if, self.b, self.b_if)]
        return [(self.a, self.a_if, self.router, "ra"), (self.router, "rb", self.b, self.b_if)]

    def static_neighbours(self) -> None:
        """Without them an unplugged or blackholed peer's ARP entry fails and the next
        connect after replugging gets EHOSTUNREACH for a while (KERNEL_LAB.md)."""
        address = {self.a_if: self.a_addr, self.b_if: self.b_addr, "ra": ROUTER_A,
                   "rb": ROUTER_B}  # interface names are unique across the namespaces
        for one, one_if, other, other_if in self._links():
            for here, here_if, there, there_if in ((one, one_if, other, other_if),
                                                   (other, other_if, one, one_if)):
                here.ip("neigh", "replace", address[there_if], "lladdr",
                        _mac(there, there_if), "dev", here_if, "nud", "permanent")

    def set_router_mtu(self, mtu: int) -> None:
        """The MTU of the router's link towards ``b`` (its end only: ``b`` still
        announces its own MSS, so only the router knows the path is narrower)."""
        if self.router is None:
            raise ValueError("there is no router between a and b")
        self.router.ip("link", "set", "rb", "mtu", str(mtu))

    def offloads_off(self) -> None:
        """One wire segment per TCP segment, as tcpkit sends them."""
        for one, one_if, other, other_if in self._links():
            for ns, ifname in ((one, one_if), (other, other_if)):
                _run(*ns.exec("ethtool", "-K", ifname, "gso", "off", "gro", "off",
                              "tso", "off"))

    def delete(self) -> None:
        self.a.delete()
        self.b.delete()
        if self.router is not None:
            self.router.delete()

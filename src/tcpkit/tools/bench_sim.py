"""The simulator suite: whole connections on simulated hosts, and what idle ones cost.

* **connection rate**: connections opened, used (100 bytes each way) and closed per
  second of wall time, two hosts on a simulated cable; driven from the hosts' socket
  layer with 100 connections in flight, and by actors (plain blocking ``tcpkit.socket``
  code, one connection at a time). Reference: the same loop of blocking stdlib calls on
  Linux's loopback in the same run.
* **memory per idle connection**: what the Python heap grows by (``tracemalloc``) per
  established socket after a request and a reply, everything its host holds for it
  included (connection, socket, binding, tables). Reference: the kernel's own
  ``struct tcp_sock`` slab object, read from /proc/slabinfo when it is readable.
* **many connections**: open N established connections (100,000 by default) between two
  hosts in one process, then check a sample still carries data; the time it took and
  the process's resident memory.
"""

from __future__ import annotations

import gc
import os
import random
import resource
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import tcpkit.socket as kit_socket
from tcpkit.links.sim import Network
from tcpkit.stack.host import Host
from tcpkit.stack.sock import TcpSock

SERVER = "192.0.2.2"
PORTS = (80, 81, 82, 83)  # four services: 4 x 28k ephemeral ports for 100k connections
REQUEST = b"q" * 100
REPLY = b"r" * 100
IN_FLIGHT = 100
STEP = 0.005  # virtual seconds per phase: five round trips on a 1 ms cable


class _Pair:
    """Two simulated hosts on one cable, the server listening on :data:`PORTS`."""

    def __init__(self) -> None:
        self.net = Network(1)
        self.client: Host = self.net.add_host("client", "192.0.2.1/24")
        self.server: Host = self.net.add_host("server", f"{SERVER}/24")
        self.net.link(self.client, self.server, delay=0.0005)
        for host, peer in ((self.client, SERVER), (self.server, "192.0.2.1")):
            host.neighbour_found(host.interfaces["eth0"], peer)  # no ARP in the figures
        self.listeners = []
        for port in PORTS:
            srv = self.server.socket()
            srv.bind(("0.0.0.0", port))
            srv.listen(4096)
            self.listeners.append(srv)

    def step(self) -> None:
        self.net.run(until=self.net.now + STEP)

    def open(self, count: int, port: int) -> tuple[list[TcpSock], list[TcpSock]]:
        """``count`` established connections to ``port``: (client ends, server ends)."""
        clients = []
        for _ in range(count):
            sock = self.client.socket()
            with suppress(BlockingIOError):  # EINPROGRESS: the SYN is out
                sock.connect((SERVER, port))
            clients.append(sock)
        self.step()
        listener = self.listeners[PORTS.index(port)]
        servers = []
        while listener.readable():
            servers.append(listener.accept()[0])
        for sock in clients:
            sock.finish_connect()
        if len(servers) != count:
            raise RuntimeError(f"{count - len(servers)} connections were not accepted")
        return clients, servers

    def exchange(self, clients: list[TcpSock], servers: list[TcpSock]) -> None:
        for sock in clients:
            sock.send(REQUEST)
        self.step()
        for sock in servers:
            if sock.recv(1000) != REQUEST:
                raise RuntimeError("a request was lost")
            sock.send(REPLY)
        self.step()
        for sock in clients:
            if sock.recv(1000) != REPLY:
                raise RuntimeError("a reply was lost")


def hosts_rate(total: int) -> float:
    """Connections per second through the hosts' socket layer, IN_FLIGHT at a time."""
    pair = _Pair()
    start = time.perf_counter()
    done = 0
    while done < total:
        clients, servers = pair.open(min(IN_FLIGHT, total - done), PORTS[0])
        pair.exchange(clients, servers)
        for sock in clients:
            sock.close()
        pair.step()
        for sock in servers:
            sock.recv(1000)  # the FIN
            sock.close()
        pair.step()
        done += len(clients)
    return total / (time.perf_counter() - start)


def actors_rate(total: int) -> float:
    """Connections per second made by blocking actor code, one at a time."""
    pair = _Pair()
    for srv in pair.listeners:
        srv.close()

    def server() -> None:
        listener = kit_socket.create_server(("0.0.0.0", 80))
        for _ in range(total):
            conn, _ = listener.accept()
            conn.recv(1000)
            conn.sendall(REPLY)
            conn.recv(1000)
            conn.close()

    def client() -> None:
        for _ in range(total):
            conn = kit_socket.create_connection((SERVER, 80))
            conn.sendall(REQUEST)
            conn.recv(1000)
            conn.close()

    pair.net.spawn(pair.server, server)
    pair.net.spawn(pair.client, client)
    start = time.perf_counter()
    pair.net.run(actors_only=True)
    elapsed = time.perf_counter() - start
    pair.net.close()
    return total / elapsed


def kernel_rate(total: int) -> float | None:
    """The same blocking loop on Linux's loopback (a server thread)."""
    try:
        listener = socket.create_server(("127.0.0.1", 0))
    except OSError:
        return None
    port = listener.getsockname()[1]

    def server() -> None:
        with listener:
            for _ in range(total):
                conn, _ = listener.accept()
                with conn:
                    conn.recv(1000)
                    conn.sendall(REPLY)
                    conn.recv(1000)

    thread = threading.Thread(target=server)
    thread.start()
    start = time.perf_counter()
    for _ in range(total):
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(REQUEST)
            conn.recv(1000)
    elapsed = time.perf_counter() - start
    thread.join()
    return total / elapsed


@contextmanager
def _heap_growth() -> Iterator[list[int]]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    grown: list[int] = []
    try:
        yield grown
    finally:
        gc.collect()
        grown.append(tracemalloc.get_traced_memory()[0] - before)
        tracemalloc.stop()


def idle_memory(count: int) -> float:
    """Heap bytes per idle established socket (both ends of ``count`` connections)."""
    pair = _Pair()
    pair.open(1, PORTS[0])  # first-use allocations (tables, caches) stay out
    held = []
    with _heap_growth() as grown:
        for _ in range(count // IN_FLIGHT):
            clients, servers = pair.open(IN_FLIGHT, PORTS[0])
            pair.exchange(clients, servers)
            held += clients + servers
        pair.step()
    return grown[0] / len(held)


def kernel_tcp_sock_size() -> int | None:
    """The kernel's TCP socket object (``struct tcp_sock``) size from /proc/slabinfo."""
    try:
        with open("/proc/slabinfo") as slabinfo:
            for line in slabinfo:
                fields = line.split()
                if fields and fields[0] == "TCP":
                    return int(fields[3])
    except OSError:
        return None
    return None


def _rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def many_connections(total: int) -> list[str]:
    """Open ``total`` connections and keep them; check a sample still works."""
    rss_before = _rss_bytes()
    pair = _Pair()
    start = time.perf_counter()
    ends: list[tuple[TcpSock, TcpSock]] = []
    batch = 1000
    last_report = start
    for port in PORTS:
        while len(ends) < total * (PORTS.index(port) + 1) // len(PORTS):
            clients, servers = pair.open(min(batch, total - len(ends)), port)
            ends += zip(clients, servers, strict=True)
            if time.perf_counter() - last_report > 10:
                last_report = time.perf_counter()
                print(f"  ... {len(ends):,} connections open", flush=True)
    opened = time.perf_counter() - start
    sample = random.Random(1).sample(ends, min(1000, len(ends)))
    pair.exchange([c for c, _ in sample], [s for _, s in sample])
    established = len(pair.client.tcp.conns)
    rss = _rss_bytes() - rss_before
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return [f"  {established:,} connections held ({established * 2:,} sockets), opened in "
            f"{opened:.1f} s ({established / opened:,.0f}/s); a sample of {len(sample):,} "
            f"exchanged data afterwards",
            f"  resident memory grew by {rss / 2**20:,.0f} MiB ({rss / established / 2:,.0f} "
            f"bytes per socket, interpreter overhead included); peak RSS "
            f"{peak / 2**20:,.0f} MiB"]


def run_suite(quick: bool) -> list[str]:
    lines = ["connection rate (open, 100 bytes each way, close), simulated 1 ms cable"]
    total = 300 if quick else 5000
    hosts = hosts_rate(total)
    actors = actors_rate(total // 5)
    kernel = kernel_rate(total)
    lines.append(f"  {'hosts, 100 in flight':28} {hosts:10,.0f} connections/s")
    lines.append(f"  {'actors, blocking, 1 at a time':28} {actors:10,.0f} connections/s")
    if kernel is None:
        lines.append("  kernel loopback               (unavailable)")
    else:
        lines.append(f"  {'kernel loopback, blocking':28} {kernel:10,.0f} connections/s "
                     f"(hosts at {hosts / kernel * 100:.0f}% of it)")
    count = 400 if quick else 4000
    per_socket = idle_memory(count)
    kernel_size = kernel_tcp_sock_size()
    lines.append("memory per idle established socket, after a request and a reply")
    lines.append(f"  tcpkit {per_socket:8,.0f} bytes (Python heap, all host records included)")
    lines.append("  kernel " + (f"{kernel_size:8,} bytes (struct tcp_sock slab object; "
                                 f"tcpkit at {per_socket / kernel_size:.1f}x)"
                                 if kernel_size else "   (unreadable /proc/slabinfo)"))
    many = 4000 if quick else 100_000
    lines.append(f"many connections: {many:,} between two simulated hosts")
    lines += many_connections(many)
    return lines

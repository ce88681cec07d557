"""A rootless real link: two tcpkit hosts joined by a UDP tunnel, one IP packet per datagram.

A TUN device (:mod:`tcpkit.links.tun`) needs root, or at least ``CAP_NET_ADMIN``; an
ordinary UDP socket needs nothing. :class:`UdpLink` gives a host's interface a UDP socket
and a peer endpoint: every IPv4 packet the host sends to the interface leaves as the
payload of one datagram to the peer, and every datagram from the peer is handed to the
host as a packet that arrived on the interface. Two tcpkit hosts in two processes, or on
two machines, can so talk TCP to each other through the kernel's UDP without privileges.

The payload is tcpkit's IP packet unchanged, with no header of ours before it, so
``tcpdump -i lo udp port N`` (or ``-i eth0`` between machines) shows the tunnel, and
Wireshark's "Decode As" (or ``tshark -d udp.port==N,ip``) dissects the inner TCP.

The tunnel is point to point: the interface has no neighbours and does no ARP (its
``transmit`` has no ``solicit``). The peer is given, or learned from the first datagram
that arrives, whatever it holds (a server waiting for its client); after that, datagrams
from any other address are dropped and counted (:attr:`UdpLink.strangers`). There is no
offload: the host sends packets of at most the interface's MTU, one ``sendto`` each, and
computes every checksum itself, as on a plain Ethernet device. The MTU is the inner one
(1500 by default, so MSS 1460); the datagrams are 28 bytes larger (IP and UDP headers),
which loopback (MTU 65536) carries whole and most real paths fragment or refuse: give
``mtu=1472`` on a path of 1500.

A packet that cannot be sent (no peer is known yet; sendto fails: the socket buffer is
full, no route, the link was closed) is lost, as on a wire, and counted
(:attr:`UdpLink.write_errors`, with a reason in ``host.drops``); the error never reaches
the TCP engine, which retransmits as it would after any loss. The socket is not
connected, so the kernel reports no ICMP port unreachable (ECONNREFUSED) from a peer that
went away: its packets just vanish. The socket buffers are set to a few megabytes (as far
as ``net.core.rmem_max`` / ``wmem_max`` allow, beyond them with ``CAP_NET_ADMIN``) so that
a bulk transfer seldom overflows the receiving socket while the reader thread waits for
the runtime's lock; when it does, the kernel drops the datagram (``RcvbufErrors`` in
``/proc/net/snmp``) and TCP recovers as from any loss.

Threads as in :class:`~tcpkit.links.tun.TunLink`: one reader thread waits on the socket
(and on a pipe that :meth:`UdpLink.close` writes to), reads whatever is queued (up to a
batch) and delivers it under the runtime's lock; the host sends from whichever thread
holds the lock.
"""

from __future__ import annotations

import contextlib
import errno
import socket

from tcpkit.links.reader import LinkReader
from tcpkit.socket.runtime import RealTimeRuntime
from tcpkit.stack.host import Host
from tcpkit.stack.routes import Interface

READ_SIZE = 0x10000  # larger than any UDP payload: a datagram is never truncated
SOCKET_BUFFER = 4 << 20  # bytes asked for SO_RCVBUF and SO_SNDBUF

# Endpoints as recvfrom reports them: (host, port) for IPv4, (host, port, flow, scope)
# for IPv6; only host and port are compared.
Endpoint = tuple[str, int]


def _resolve(endpoint: tuple[str, int], family: int) -> Endpoint:
    """``endpoint`` with a numeric address, as recvfrom will report the peer."""
    host, port = endpoint
    info = socket.getaddrinfo(host, port, family, socket.SOCK_DGRAM, socket.IPPROTO_UDP,
                              socket.AI_NUMERICSERV)
    address = info[0][4]
    return str(address[0]), int(address[1])


def _set_buffer(sock: socket.socket, option: int, forced: int | None, size: int) -> None:
    """Best effort: ask for ``size`` bytes, beyond the sysctl limit when allowed."""
    if forced is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, forced, size)
            return
        except OSError:
            pass  # EPERM without CAP_NET_ADMIN: the option capped by the sysctl
    with contextlib.suppress(OSError):  # else the default buffer; the link still works
        sock.setsockopt(socket.SOL_SOCKET, option, size)


class UdpLink:
    """A host's interface on a UDP tunnel, driven in real time (module docstring)."""

    def __init__(self, runtime: RealTimeRuntime, host: Host, *, address: str,
                 local: tuple[str, int], peer: tuple[str, int] | None = None,
                 mtu: int = 1500, interface: str = "udp0") -> None:
        self.runtime = runtime
        self.host = host
        self.name = interface
        self.received = 0  # datagrams from the peer, handed to the host
        self.malformed = 0  # of those, not an IPv4 packet at a glance (the host drops them)
        self.strangers = 0  # datagrams from another address than the peer's, dropped
        self.write_errors = 0  # packets lost because sendto failed or no peer was known
        family = socket.getaddrinfo(local[0], local[1], 0, socket.SOCK_DGRAM,
                                    socket.IPPROTO_UDP, socket.AI_PASSIVE)[0][0]
        self._peer: Endpoint | None = None if peer is None else _resolve(peer, family)
        sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            _set_buffer(sock, socket.SO_RCVBUF, getattr(socket, "SO_RCVBUFFORCE", None),
                        SOCKET_BUFFER)
            _set_buffer(sock, socket.SO_SNDBUF, getattr(socket, "SO_SNDBUFFORCE", None),
                        SOCKET_BUFFER)
            sock.bind(local)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        with runtime.lock:
            try:
                self.interface: Interface = host.add_interface(interface, address, mtu=mtu)
            except BaseException:
                sock.close()
                raise
            self.interface.transmit = self._transmit
        self._reader = LinkReader(runtime, sock.fileno(), self._read, self._deliver_all,
                                  f"tcpkit-{interface}")

    @property
    def local_address(self) -> Endpoint:
        """The UDP endpoint the link's socket is bound to (the port chosen if 0 was)."""
        address = self.sock.getsockname()
        return str(address[0]), int(address[1])

    @property
    def peer(self) -> Endpoint | None:
        """The UDP endpoint packets go to: given, learned, or None (not yet known)."""
        return self._peer

    # -- to the peer -------------------------------------------------------------------

    def _transmit(self, packet: bytes, next_hop: str) -> None:
        del next_hop  # point to point: no neighbours
        peer = self._peer
        if peer is None:
            self.write_errors += 1
            self.host.drop(f"{self.name}: no peer yet")
            return
        try:
            self.sock.sendto(packet, peer)
        except OSError as exc:
            # EAGAIN/ENOBUFS (buffer full), ECONNREFUSED (an ICMP port unreachable came
            # back), ENETUNREACH, EMSGSIZE, EBADF after close(): the packet is lost as on
            # a real wire, and TCP finds out the way it always does.
            self.write_errors += 1
            self.host.drop(f"{self.name}: sendto: {exc.strerror or exc}")

    # -- from the peer -----------------------------------------------------------------

    def _read(self) -> tuple[bytes, Endpoint] | None:
        try:
            data, source = self.sock.recvfrom(READ_SIZE)
        except BlockingIOError:
            raise
        except OSError as exc:
            if exc.errno == errno.EBADF:
                raise EOFError from None
            # ECONNREFUSED and the like: an ICMP error about an earlier sendto, reported
            # once; what is queued is read after the next poll.
            return None
        return data, (source[0], source[1])

    def _deliver_all(self, batch: list[tuple[bytes, Endpoint]]) -> None:
        for item in batch:
            self._deliver(item)

    def _deliver(self, item: tuple[bytes, Endpoint]) -> None:
        data, source = item
        peer = self._peer
        if peer is None:
            self._peer = peer = source  # a server learns its client from the first datagram
        elif source != peer:
            self.strangers += 1
            self.host.drop(f"{self.name}: datagram from {source[0]}:{source[1]}, "
                           f"not the peer {peer[0]}:{peer[1]}")
            return
        self.received += 1
        if not data or data[0] >> 4 != 4:
            self.malformed += 1  # still the host's to count (IpInHdrErrors) and drop
        self.host.receive(data, self.interface)

    def close(self) -> None:
        """Stop reading, take the interface down and close the socket."""
        if self._reader.stopping:
            return
        self._reader.stop()
        with self.runtime.lock:
            self.interface.up = False
        self.sock.close()

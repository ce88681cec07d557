"""A real link: a tcpkit host behind a Linux TUN device, the kernel on the other side.

:class:`TunDevice` opens ``/dev/net/tun`` (drivers/net/tun.c) for IP packets without
the packet-information prefix (``IFF_TUN|IFF_NO_PI``) and, unless told not to, with a
virtio-net header before each packet (``IFF_VNET_HDR``) and the offloads
``TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6`` (``TUNSETOFFLOAD``). With them:

* the kernel hands us super-segments of up to 64 KB (its TSO, undone by nobody) whose
  checksums are partial: the stack takes them whole and checks no checksum;
* we hand it super-segments the same way (:attr:`Interface.transmit_tcp`): the kernel
  finishes the checksum and cuts them into ``gso_size`` segments, so a 64 KB send
  costs one write and no checksum in Python.

This is what wireguard-go and gVisor's netstack do to go from ~2 to 10+ Gbit/s. Where
the device refuses the offloads (an old kernel, a device opened elsewhere without the
header), :meth:`TunDevice.open` falls back to plain packets and says so in ``offload``.
Plain packets still do not cost TCP one pass per segment: the link cuts its GSO packets
(software GSO, as Linux does at the door of a device without TSO) and merges the
segments of a read batch (software GRO, as a NIC driver does); see :mod:`tcpkit.wire.gso`.

:class:`TunLink` attaches a host's interface to a device under a
:class:`~tcpkit.socket.runtime.RealTimeRuntime`: one reader thread waits on the device,
reads whatever is queued (up to a batch) and delivers it under the runtime's lock.
What the host sends is queued and written by whichever thread lets the lock go
(:class:`~tcpkit.socket.runtime.RealTimeRuntime`'s flush), in order: a write runs the
kernel's side of the packet inline, and outside the lock the other thread can meanwhile
process what arrived. The queue leaves in io_uring batches where the kernel allows them
(:mod:`tcpkit.links.uring`): one system call for a 64 KB GSO packet's 45 segments, the
GIL released all along, where one ``writev`` each made the threads take turns.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import threading
from dataclasses import dataclass

from tcpkit.links.netns import TunNamespace, entered, exists
from tcpkit.links.read_pool import ReadPool
from tcpkit.links.reader import LinkReader, Wrap
from tcpkit.links.uring import BatchWriter
from tcpkit.socket.runtime import RealTimeRuntime
from tcpkit.stack.host import Host
from tcpkit.stack.routes import Interface
from tcpkit.wire import virtio_net
from tcpkit.wire.errors import MalformedPacket
from tcpkit.wire.gso import coalesce_tcp, segment_tcp
from tcpkit.wire.virtio_net import HEADER_LEN, NO_OFFLOAD

TUNSETIFF = 0x400454CA  # _IOW('T', 202, int)
TUNSETOFFLOAD = 0x400454D0  # _IOW('T', 208, unsigned int)
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
TUN_F_TSO6 = 0x04

_IFREQ = struct.Struct("16sH22x")  # struct ifreq: ifr_name, ifr_flags, padding
READ_SIZE = HEADER_LEN + 0x10000  # the largest GSO packet (64 KB) and its header
_SLOT_BYTES = 2 << 20  # what the io_uring slots may take


def _attach(name: str, vnet_hdr: int) -> int:
    """A fresh descriptor on TUN device ``name`` (TUNSETIFF works once per descriptor),
    with the offloads when ``vnet_hdr`` is IFF_VNET_HDR."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, _IFREQ.pack(name.encode(), IFF_TUN | IFF_NO_PI | vnet_hdr))
        if vnet_hdr:
            fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
    except OSError:
        os.close(fd)
        raise
    return fd


@dataclass
class TunDevice:
    """An open TUN device (see the module docstring)."""

    fd: int
    name: str
    offload: bool  # IFF_VNET_HDR with checksum and TSO offloads

    @classmethod
    def open(cls, name: str, *, netns: str | None = None, offload: bool = True) -> TunDevice:
        """Attach to TUN device ``name`` (created if missing, in namespace ``netns``)."""
        if len(name.encode()) > 15 or not name:
            raise ValueError(f"bad device name {name!r} (1 to 15 bytes)")
        with entered(netns):
            if offload:
                try:
                    return cls(_attach(name, IFF_VNET_HDR), name, True)
                except OSError:
                    pass  # no vnet header or offloads here: plain packets
            try:
                return cls(_attach(name, 0), name, False)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot attach to TUN device {name!r}: "
                              f"{exc.strerror}") from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class TunLink:
    """A host's interface on a TUN device, driven in real time (module docstring)."""

    def __init__(self, runtime: RealTimeRuntime, host: Host, device: TunDevice, *,
                 address: str, mtu: int = 1500, interface: str = "tun0",
                 wrap: Wrap | None = None) -> None:
        """``wrap``: see :class:`~tcpkit.links.reader.LinkReader`."""
        self.runtime = runtime
        self.host = host
        self.device = device
        self.received = 0  # packets read from the device
        self.malformed = 0  # unreadable virtio-net headers, dropped
        self.write_errors = 0
        self._queued: list[list[bytes | memoryview]] = []
        self._writing = threading.Lock()  # one writer at a time keeps the order
        # One io_uring batch per flush (links/uring), each slot an MTU-sized packet;
        # 1024 of them at MTU 1500, fewer for a larger MTU: about 2 MB of slots (the
        # kernel rounds the count up to a power of two).
        slot = (HEADER_LEN + mtu + 63) & ~63
        self._writer = BatchWriter(device.fd, slot_size=slot,
                                   entries=max(8, min(1024, _SLOT_BYTES // slot)))
        with runtime.lock:
            runtime.flushers.append(self.flush)
            self.interface: Interface = host.add_interface(interface, address, mtu=mtu)
            self.interface.transmit = self._transmit
            # Without offloads the link cuts GSO packets itself, as Linux's software
            # GSO does for a device without TSO: the engine still sends 64 KB at once.
            self.interface.transmit_tcp = (self._transmit_tcp if device.offload
                                           else self._segment_tcp)
        self._pool = ReadPool(device.fd, READ_SIZE)
        self._reader = LinkReader(runtime, device.fd, self._read, self._deliver,
                                  f"tcpkit-{device.name}", wrap)

    # -- to the kernel -----------------------------------------------------------------

    def _write(self, parts: list[bytes | memoryview]) -> None:
        self._queued.append(parts)

    def flush(self) -> None:
        """Write what was queued, in order. A thread that finds another writing leaves
        its packets to it: the writer looks again before it leaves."""
        while self._queued:
            if not self._writing.acquire(blocking=False):
                return
            try:
                while self._queued:
                    # Swapped, not copied: a packet queued meanwhile lands in one list
                    # or the other, and either is written.
                    batch, self._queued = self._queued, []
                    for code in self._writer.write(batch):
                        self._write_failed(code)
            finally:
                self._writing.release()

    @property
    def writes(self) -> str:
        """How packets reach the device: in io_uring batches, or one ``writev`` each
        and why."""
        broken = self._writer.broken
        return "io_uring batches" if broken is None else f"one writev per packet ({broken})"

    def _write_failed(self, code: int) -> None:
        # EIO: the device went down; EAGAIN cannot happen (tun never blocks a writer);
        # ECANCELED: an earlier packet of its io_uring batch failed. The packet is
        # lost as on a real wire.
        self.write_errors += 1
        self.host.drop(f"{self.device.name}: write: {os.strerror(code)}")

    def _transmit(self, packet: bytes, next_hop: str) -> None:
        del next_hop  # point to point: no neighbours
        self._write([NO_OFFLOAD, packet] if self.device.offload else [packet])

    def _transmit_tcp(self, headers: bytes, payload: bytes | memoryview, tcp_header_len: int,
                      gso_size: int) -> None:
        ip_header_len = len(headers) - tcp_header_len
        self._write([virtio_net.tcp_offload(ip_header_len, tcp_header_len, gso_size),
                     headers, payload])

    def _segment_tcp(self, headers: bytes, payload: bytes | memoryview, tcp_header_len: int,
                     gso_size: int) -> None:
        for head, piece in segment_tcp(headers, payload, tcp_header_len,
                                       gso_size or max(len(payload), 1)):
            self._write([head, piece])

    # -- from the kernel ---------------------------------------------------------------

    def _read(self) -> bytes | memoryview:
        try:
            return self._pool.read()
        except OSError as exc:
            if exc.errno == errno.EBADFD:  # the device was deleted with its namespace
                raise EOFError from None
            raise

    def _deliver(self, batch: list[bytes | memoryview]) -> None:
        self.received += len(batch)
        if self.device.offload:
            for data in batch:
                self._deliver_offloaded(data)
            return
        # A plain device: what one batch holds is merged (coalesce_tcp), as a NIC
        # driver's GRO does, on as in Linux. Its reads are bytes unless the MTU is
        # beyond the pool's COPY_BELOW.
        for packet, gso_size, verified in coalesce_tcp([bytes(p) for p in batch]):
            self.host.receive(packet, self.interface, checksum_trusted=verified,
                              gso_size=gso_size)

    def _deliver_offloaded(self, data: bytes | memoryview) -> None:
        try:
            header = virtio_net.parse_virtio_net(data)
        except MalformedPacket as exc:
            self.malformed += 1
            self.host.drop(f"{self.device.name}: {exc}")
            return
        self.host.receive(memoryview(data)[HEADER_LEN:], self.interface,
                          checksum_trusted=header.checksum_trusted,
                          gso_size=header.gso_size if header.gso_type else 0)

    def close(self) -> None:
        """Stop reading, take the interface down and close the device."""
        self._reader.stop()
        # Letting the lock go writes what was sent before (runtime.flush, while this
        # link is still among the flushers): it is on its way, as on a real wire.
        with self.runtime.lock:
            self.interface.up = False
            self.interface.transmit_tcp = None
        with self.runtime.lock:
            self.runtime.flushers.remove(self.flush)
        with self._writing:
            self._writer.close()
        self.device.close()


class TunHost:
    """A real-time tcpkit host behind TUN device ``namespace.device``, with the kernel
    on the other side in ``namespace``: what serve, fetch, the lab's TUN world, the
    benchmark and the tests each stand on. The namespace is created if it is not there,
    and then deleted by :meth:`close`."""

    def __init__(self, namespace: TunNamespace, *, address: str, offload: bool = True,
                 wrap: Wrap | None = None) -> None:
        self.namespace = namespace
        self.owns_namespace = not exists(namespace.name)
        if self.owns_namespace:
            namespace.up()
        self.runtime = RealTimeRuntime()
        self.host = self.runtime.add_host(Host("tcpkit"))
        try:
            device = TunDevice.open(namespace.device, netns=namespace.name, offload=offload)
            self.link = TunLink(self.runtime, self.host, device, address=address,
                                mtu=namespace.mtu, interface=namespace.device, wrap=wrap)
        except BaseException:
            self.runtime.stop()
            if self.owns_namespace:
                namespace.down()
            raise

    @property
    def device(self) -> TunDevice:
        return self.link.device

    def close(self) -> None:
        self.link.close()
        self.runtime.stop()
        if self.owns_namespace:
            self.namespace.down()

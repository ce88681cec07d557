"""TunLink's write queue: packets sent under the runtime's lock are written after it is
let go, by whichever thread lets it go, and must leave in the order they were sent,
none lost, however the threads race. A SOCK_SEQPACKET pair stands in for the device:
it keeps packet boundaries and order as /dev/net/tun does."""

from __future__ import annotations

import socket
import struct
import threading

from tcpkit.links.tun import TunDevice, TunLink
from tcpkit.socket.runtime import RealTimeRuntime
from tcpkit.stack import Host

THREADS = 4
EACH = 2000


def test_packets_leave_in_the_order_they_were_sent_from_any_thread() -> None:
    ours, device_side = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    runtime = RealTimeRuntime()
    host = runtime.add_host(Host("h"))
    link = TunLink(runtime, host, TunDevice(ours.detach(), "fake0", False),
                   address="192.0.2.2/24")
    got: list[int] = []

    def collect() -> None:
        while len(got) < THREADS * EACH:
            got.append(struct.unpack("!I", device_side.recv(64)[:4])[0])

    reader = threading.Thread(target=collect)
    reader.start()
    counter = [0]

    def send() -> None:
        for _ in range(EACH):
            with runtime.lock:  # the order of sending is the order under the lock
                n = counter[0]
                counter[0] += 1
                link.interface.transmit(struct.pack("!I", n) + bytes(60), "192.0.2.1")

    senders = [threading.Thread(target=send) for _ in range(THREADS)]
    try:
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        reader.join(timeout=30)
        assert got == list(range(THREADS * EACH))
        assert link.write_errors == 0
    finally:
        link.close()
        runtime.stop()
        device_side.close()

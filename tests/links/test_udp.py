"""The UDP tunnel link: two tcpkit hosts joined through the kernel's UDP on loopback,
in two processes (a bulk transfer each way) and in one (half-close, garbage, strangers,
lost packets that must never raise into the stack)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tcpkit.socket as tsocket
from tcpkit.links.udp import UdpLink
from tcpkit.socket import runtime as rt
from tcpkit.socket.runtime import RealTimeRuntime
from tcpkit.stack import Host

ROOT = Path(__file__).resolve().parents[2]
MEGABYTES = 200  # each way


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


class Side:
    """A runtime of its own with one host on a UDP link."""

    def __init__(self, name: str, address: str, peer: tuple[str, int] | None) -> None:
        self.runtime = RealTimeRuntime()
        self.host = self.runtime.add_host(Host(name))
        self.link = UdpLink(self.runtime, self.host, address=address,
                            local=("127.0.0.1", 0), peer=peer)

    def socket(self) -> tsocket.socket:
        with rt.using(self.runtime, self.host):
            return tsocket.socket()

    def close(self) -> None:
        self.link.close()
        self.runtime.stop()


@pytest.fixture
def pair() -> Iterator[tuple[Side, Side]]:
    """a (198.51.100.1) waits for its peer; b (198.51.100.2) is told where a is."""
    a = Side("a", "198.51.100.1/24", None)
    b = Side("b", "198.51.100.2/24", a.link.local_address)
    yield a, b
    b.close()
    a.close()


def test_bulk_transfer_between_two_processes() -> None:
    """200 MB each way over one connection between hosts in two processes."""
    command = [sys.executable, "-m", "tests.links.udp_peer"]
    server = subprocess.Popen([*command, "server", str(MEGABYTES)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("port "), first
        client = subprocess.run([*command, "client", str(MEGABYTES), first.split()[1]],
                                cwd=ROOT, capture_output=True, text=True, timeout=300,
                                check=False)
        assert client.returncode == 0, client.stderr
        rest, _ = server.communicate(timeout=60)
        assert server.returncode == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    c: dict[str, Any] = json.loads(client.stdout.splitlines()[-1])
    s: dict[str, Any] = json.loads(rest.splitlines()[-1])
    size = MEGABYTES << 20
    assert c["sent"]["bytes"] == s["received"]["bytes"] == size
    assert c["sent"]["sha256"] == s["received"]["sha256"]
    assert s["sent"]["bytes"] == c["received"]["bytes"] == size
    assert s["sent"]["sha256"] == c["received"]["sha256"]
    assert c["link"]["strangers"] == s["link"]["strangers"] == 0
    for label, receiver, sender in (("client -> server", s, c), ("server -> client", c, s)):
        seconds = receiver["received"]["seconds"]
        print(f"\nUDP tunnel {label}: {MEGABYTES} MiB in {seconds:.2f} s = "
              f"{size * 8 / seconds / 1e9:.3f} Gbit/s "
              f"(sender retransmitted {sender['retransmits']} segments; "
              f"link write errors {sender['link']['write_errors']})")


def test_connection_half_close_and_garbage(pair: tuple[Side, Side]) -> None:
    a, b = pair
    listener = a.socket()
    listener.bind(("198.51.100.1", 7))
    listener.listen(1)
    accepted: list[tsocket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
    thread.start()
    client = b.socket()
    client.settimeout(5)
    client.connect(("198.51.100.1", 7))
    thread.join(5)
    server = accepted[0]
    server.settimeout(5)
    assert a.link.peer == b.link.local_address  # learned from the SYN
    assert server.getpeername() == ("198.51.100.2", client.getsockname()[1])

    client.sendall(b"hello")
    assert server.recv(100) == b"hello"

    # Garbage from the peer's own UDP endpoint (the link's socket is a plain one).
    before = a.link.received
    errors = a.host.counters["IpInHdrErrors"]
    for junk in (b"", b"\x00" * 20, b"garbage that is no IP packet", b"\x45" + b"\xff" * 59):
        b.link.sock.sendto(junk, a.link.local_address)
    wait_until(lambda: a.link.received >= before + 4)
    assert a.link.malformed == 3  # the last one looks like IPv4 until its header is read
    assert a.host.counters["IpInHdrErrors"] == errors + 4
    assert a.link.strangers == 0

    # The connection did not notice: both ways, then a half-close each way.
    server.sendall(b"world")
    assert client.recv(100) == b"world"
    client.shutdown(socket.SHUT_WR)
    assert server.recv(100) == b""  # EOF, and the server may still send
    server.sendall(b"after your FIN" * 1000)
    received = b""
    while len(received) < 14000:
        data = client.recv(65536)
        assert data
        received += data
    assert received == b"after your FIN" * 1000
    server.close()
    assert client.recv(100) == b""
    client.close()
    listener.close()
    assert a.link.write_errors == b.link.write_errors == 0


def test_datagrams_from_strangers_are_dropped(pair: tuple[Side, Side]) -> None:
    a, b = pair
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        stranger.bind(("127.0.0.1", 0))
        # b was given its peer: anyone else is a stranger from the start.
        stranger.sendto(b"\x45" + bytes(39), b.link.local_address)
        wait_until(lambda: b.link.strangers == 1)
        assert b.link.received == 0
        assert "not the peer" in b.host.drops[-1]
        # a learns b from the first datagram; after that the stranger is one too.
        listener = a.socket()
        listener.bind(("198.51.100.1", 9))
        listener.listen(1)
        client = b.socket()
        client.settimeout(5)
        client.connect(("198.51.100.1", 9))
        listener.settimeout(5)
        server, _ = listener.accept()  # the handshake's last ACK has arrived
        assert a.link.peer == b.link.local_address
        received = a.link.received
        stranger.sendto(b"\x45" + bytes(39), a.link.local_address)
        wait_until(lambda: a.link.strangers == 1)
        assert a.link.received == received
        assert "not the peer" in a.host.drops[-1]
        server.close()
        client.close()
        listener.close()
    finally:
        stranger.close()


def test_lost_packets_never_raise_into_the_stack(pair: tuple[Side, Side]) -> None:
    a, b = pair
    # a knows no peer yet: its SYN is dropped, counted, and connect() times out.
    client = a.socket()
    client.settimeout(0.3)
    with pytest.raises(TimeoutError):
        client.connect(("198.51.100.2", 9))
    assert a.link.write_errors >= 1
    assert "no peer yet" in a.host.drops[-1]
    client.close()
    # b's peer port closes: sendto fails or the datagram vanishes, never an exception.
    a.link.close()
    b_client = b.socket()
    b_client.settimeout(0.3)
    with pytest.raises(TimeoutError):
        b_client.connect(("198.51.100.1", 9))
    b_client.close()
    # After close(), the link's interface is down and its socket closed: still no raise.
    b.link.close()
    with b.runtime.lock:
        b.link.interface.transmit(b"\x45" + bytes(39), "198.51.100.1")
    assert b.link.write_errors >= 1

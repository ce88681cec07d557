"""tcpkit and the Linux kernel over a real TUN device, each side a real endpoint.

Every test makes its own namespace (the kernel's side) and host (tcpkit's side) and
deletes them. The kernel's programs are Python scripts run in the namespace; tcpkit's
use ``tcpkit.socket``. With and without the virtio-net offloads where the path differs.
"""

from __future__ import annotations

import errno
import hashlib
import select
import socket as stdlib_socket
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tcpkit.socket as tsocket
from tests.conftest import require_root
from tests.links.tun_world import KERNEL, TCPKIT, TunWorld, tun_world

BLOCK = bytes(range(256)) * 4096  # 1 MiB, the same pattern the kernel's scripts send


def pattern(n: int) -> bytes:
    return (BLOCK * (n // len(BLOCK) + 1))[:n]


@pytest.fixture(params=[True, False], ids=["offload", "plain"])
def world(request: pytest.FixtureRequest) -> Iterator[TunWorld]:
    require_root()
    with tun_world(offload=request.param) as w:
        yield w


@pytest.fixture
def fast() -> Iterator[TunWorld]:
    """With offloads: the tests where packet sizes do not matter."""
    require_root()
    with tun_world() as w:
        yield w


def _drain(conn: tsocket.socket) -> tuple[int, str]:
    digest = hashlib.sha256()
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = 0
    while True:
        n = conn.recv_into(buf)
        if not n:
            return total, digest.hexdigest()
        digest.update(view[:n])
        total += n


def test_offload_is_negotiated(world: TunWorld) -> None:
    """With offloads the device cuts GSO packets; without, the link does (software GSO,
    checked by the kernel's checksums in the bulk tests below): TCP builds them either
    way, as Linux's does."""
    link = world.link
    expected = link._transmit_tcp if world.device.offload else link._segment_tcp
    assert link.interface.transmit_tcp == expected
    assert world.host.tso_toward("192.0.2.1")
    # Writes leave in io_uring batches (links/uring) wherever the kernel allows it.
    disabled = Path("/proc/sys/kernel/io_uring_disabled")
    if not disabled.exists() or disabled.read_text().strip() == "0":
        assert link.writes == "io_uring batches"
    else:
        assert link.writes.startswith("one writev per packet (io_uring: ")


def test_kernel_client_sends_bulk_to_tcpkit(world: TunWorld) -> None:
    size = (200 if world.device.offload else 40) << 20
    with tsocket.create_server((TCPKIT, 5001)) as listener:
        kernel = world.kernel("""
            s = socket.create_connection(("192.0.2.2", 5001))
            names = dict(peer=s.getpeername(), me=s.getsockname())
            data, size = pattern(1 << 20), int(sys.argv[1])
            start, sent = time.monotonic(), 0
            while sent < size:
                s.sendall(data); sent += len(data)
            s.shutdown(socket.SHUT_WR)
            reply = s.recv(100)
            report(sent=sent, seconds=time.monotonic() - start, reply=reply.decode(), **names)
        """, str(size))
        conn, peer = listener.accept()
        assert peer[0] == KERNEL
        with conn:
            start = time.monotonic()
            total, digest = _drain(conn)
            seconds = time.monotonic() - start
            conn.sendall(digest.encode())
        said = kernel.line()
    assert total == size == said["sent"]
    assert digest == hashlib.sha256(pattern(size)).hexdigest() == said["reply"]
    assert said["peer"] == [TCPKIT, 5001] and said["me"] == [KERNEL, peer[1]]
    print(f"kernel -> tcpkit, offload {world.device.offload}: "
          f"{size * 8 / seconds / 1e9:.2f} Gbit/s")


def test_tcpkit_client_sends_bulk_to_kernel(world: TunWorld) -> None:
    size = (200 if world.device.offload else 40) << 20
    kernel = world.kernel("""
        listener = socket.create_server(("0.0.0.0", 5002))
        report(listening=True)
        conn, peer = listener.accept()
        digest, total = hashlib.sha256(), 0
        buf = bytearray(1 << 20)
        while n := conn.recv_into(buf):
            digest.update(memoryview(buf)[:n]); total += n
        conn.sendall(b"bye")
        report(total=total, sha256=digest.hexdigest(), peer=peer)
    """)
    kernel.line()
    start = time.monotonic()
    with tsocket.create_connection((KERNEL, 5002)) as conn:
        data = pattern(1 << 20)
        for _ in range(size >> 20):
            conn.sendall(data)
        conn.shutdown(stdlib_socket.SHUT_WR)
        assert conn.recv(10) == b"bye"
        assert conn.recv(10) == b""
        said = kernel.line()
    seconds = time.monotonic() - start
    assert said["total"] == size
    assert said["sha256"] == hashlib.sha256(pattern(size)).hexdigest()
    assert said["peer"][0] == TCPKIT
    print(f"tcpkit -> kernel, offload {world.device.offload}: "
          f"{size * 8 / seconds / 1e9:.2f} Gbit/s")


def test_half_close_both_ways(fast: TunWorld) -> None:
    """Each side shuts down writing first once; the other still sends its answer."""
    with tsocket.create_server((TCPKIT, 5003)) as listener:
        kernel = fast.kernel("""
            s = socket.create_connection(("192.0.2.2", 5003))
            s.sendall(b"question"); s.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := s.recv(100):
                answer += chunk
            report(answer=answer.decode())
        """)
        conn, _ = listener.accept()
        with conn:
            question = b""
            while chunk := conn.recv(100):
                question += chunk
            conn.sendall(b"answer to " + question)
        assert kernel.line() == {"answer": "answer to question"}
    kernel = fast.kernel("""
        listener = socket.create_server(("0.0.0.0", 5004))
        report(listening=True)
        conn, _ = listener.accept()
        question = b""
        while chunk := conn.recv(100):
            question += chunk
        conn.sendall(b"kernel got " + question); conn.close()
        report(done=True)
    """)
    kernel.line()
    with tsocket.create_connection((KERNEL, 5004)) as conn:
        conn.sendall(b"hello")
        conn.shutdown(stdlib_socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(100):
            answer += chunk
    assert answer == b"kernel got hello"
    kernel.line()


def test_close_with_unread_data_resets_the_kernel(fast: TunWorld) -> None:
    """RFC 9293 §3.10.4 / Linux tcp_close: unread data at close() means RST, and the
    kernel's next read fails with ECONNRESET."""
    with tsocket.create_server((TCPKIT, 5005)) as listener:
        kernel = fast.kernel("""
            s = socket.create_connection(("192.0.2.2", 5005))
            s.sendall(b"x" * 1000)
            report(sent=True)
            try:
                got = s.recv(100)
                report(result=repr(got))
            except OSError as exc:
                report(result=errno.errorcode[exc.errno])
        """)
        conn, _ = listener.accept()
        kernel.line()
        _wait_readable(conn)
        conn.close()
        assert kernel.line() == {"result": "ECONNRESET"}
    assert fast.host.counters["TcpOutRsts"] >= 1


def test_kernel_close_with_unread_data_resets_tcpkit(fast: TunWorld) -> None:
    kernel = fast.kernel("""
        listener = socket.create_server(("0.0.0.0", 5006))
        report(listening=True)
        conn, _ = listener.accept()
        while not conn.recv(1, socket.MSG_PEEK):
            pass
        conn.close()
        report(closed=True)
    """)
    kernel.line()
    with tsocket.create_connection((KERNEL, 5006)) as conn:
        conn.sendall(b"y" * 1000)
        kernel.line()
        with pytest.raises(ConnectionResetError) as caught:
            while conn.recv(100):
                pass  # pragma: no cover - nothing is sent
    assert caught.value.errno == errno.ECONNRESET


def test_so_linger_zero_aborts(fast: TunWorld) -> None:
    with tsocket.create_server((TCPKIT, 5007)) as listener:
        kernel = fast.kernel("""
            s = socket.create_connection(("192.0.2.2", 5007))
            report(connected=True)
            try:
                report(result=repr(s.recv(100)))
            except OSError as exc:
                report(result=errno.errorcode[exc.errno])
        """)
        conn, _ = listener.accept()
        kernel.line()
        conn.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
        conn.close()
        assert kernel.line() == {"result": "ECONNRESET"}


def test_refused_both_ways(fast: TunWorld) -> None:
    kernel = fast.kernel("""
        try:
            socket.create_connection(("192.0.2.2", 9), timeout=5)
            report(result="connected")
        except OSError as exc:
            report(result=errno.errorcode[exc.errno])
    """)
    assert kernel.line() == {"result": "ECONNREFUSED"}
    with pytest.raises(ConnectionRefusedError):
        tsocket.create_connection((KERNEL, 9), timeout=5)


def _wait_readable(conn: tsocket.socket, timeout: float = 5) -> None:
    readable, _, _ = select.select([conn], [], [], timeout)
    assert readable, "nothing arrived"


def test_tcpkit_keepalive_finds_the_kernel_gone(fast: TunWorld) -> None:
    """The half-open connection only keepalive finds: the kernel's device goes down, so
    nothing comes back; idle 1 s, interval 1 s, 2 probes: ETIMEDOUT after ~3 s."""
    kernel = fast.kernel("""
        listener = socket.create_server(("0.0.0.0", 5008))
        report(listening=True)
        conn, _ = listener.accept()
        time.sleep(30)
    """)
    kernel.line()
    with tsocket.create_connection((KERNEL, 5008)) as conn:
        conn.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE, 1)
        conn.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_KEEPIDLE, 1)
        conn.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_KEEPINTVL, 1)
        conn.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_KEEPCNT, 2)
        time.sleep(2.5)  # the kernel answers the first probes
        assert fast.host.counters["TcpExtTCPKeepAlive"] >= 1
        subprocess.run(["ip", "-n", fast.ns.name, "link", "set", fast.ns.device, "down"],
                       check=True)
        start = time.monotonic()
        with pytest.raises(TimeoutError) as caught:
            conn.recv(100)
        waited = time.monotonic() - start
    assert caught.value.errno == errno.ETIMEDOUT
    print(f"tcpkit's keepalive gave up {waited:.2f} s after the kernel went away")


def test_kernel_keepalive_against_tcpkit(fast: TunWorld) -> None:
    """tcpkit answers the kernel's keepalive probes; unplugged, it no longer does, and
    the kernel's recv fails with ETIMEDOUT."""
    with tsocket.create_server((TCPKIT, 5009)) as listener:
        kernel = fast.kernel("""
            s = socket.create_connection(("192.0.2.2", 5009))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
            report(connected=True)
            s.settimeout(3.5)
            try:
                s.recv(1)
            except TimeoutError:
                report(alive_after=3.5)
            s.settimeout(None)
            report(unplug=True)
            start = time.monotonic()
            try:
                s.recv(1)
                report(result="data")
            except OSError as exc:
                report(result=errno.errorcode[exc.errno], waited=time.monotonic() - start)
        """)
        conn, _ = listener.accept()
        with conn:
            kernel.line()
            assert kernel.line() == {"alive_after": 3.5}  # probes were answered
            assert kernel.line() == {"unplug": True}
            fast.link.interface.up = False
            said = kernel.line()
    assert said["result"] == "ETIMEDOUT"
    print(f"the kernel's keepalive gave up after {said['waited']:.2f} s")


def test_slow_reader_makes_the_kernel_probe_a_zero_window(fast: TunWorld) -> None:
    size = 8 << 20
    with tsocket.create_server((TCPKIT, 5010)) as listener:
        kernel = fast.kernel("""
            def win_probes():
                out = subprocess.run(["nstat", "-az", "TcpExtTCPWinProbe"],
                                     capture_output=True, text=True).stdout
                return int(out.split()[-2]) if "TcpExtTCPWinProbe" in out else 0
            import subprocess
            before = win_probes()
            s = socket.create_connection(("192.0.2.2", 5010))
            s.sendall(pattern(int(sys.argv[1])))
            s.close()
            report(probes=win_probes() - before)
        """, str(size))
        conn, _ = listener.accept()
        with conn:
            time.sleep(1.5)  # the window fills and stays shut: the kernel probes it
            total, digest = _drain(conn)
        said = kernel.line()
    assert total == size and digest == hashlib.sha256(pattern(size)).hexdigest()
    assert said["probes"] >= 1


def test_slow_kernel_reader_makes_tcpkit_probe(fast: TunWorld) -> None:
    size = 8 << 20
    kernel = fast.kernel("""
        listener = socket.create_server(("0.0.0.0", 5011))
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        report(listening=True)
        conn, _ = listener.accept()
        time.sleep(1.5)
        digest, total = hashlib.sha256(), 0
        while chunk := conn.recv(1 << 20):
            digest.update(chunk); total += len(chunk)
        report(total=total, sha256=digest.hexdigest())
    """)
    kernel.line()
    with tsocket.create_connection((KERNEL, 5011)) as conn:
        conn.sendall(pattern(size))
    said = kernel.line()
    assert said == {"total": size, "sha256": hashlib.sha256(pattern(size)).hexdigest()}
    assert fast.host.counters["TcpExtTCPWinProbe"] >= 1

"""The simulated network: determinism, faults, and failure stories in virtual time with
plain blocking socket code. The stories the kernel can tell in the same run (SYN retries,
no route, dead neighbour, keepalive with short timers, ...) are compared with it in
tests/socket/test_fault_semantics.py; these are the ones it cannot (two hours of
keepalive defaults, a host that reboots)."""

from __future__ import annotations

import errno
import hashlib
import io
import subprocess

import pytest

import tcpkit.socket as socket  # noqa: PLR0402 (the drop-in spelling users write)
from tcpkit.links.sim import Faults, Network, SimulationError, sleep
from tests.conftest import require_tool, two_hosts

PAYLOAD = bytes(range(256)) * 2000


def transfer_story(seed: int, loss: float = 0.05) -> tuple[bytes, dict[str, object]]:
    out: dict[str, object] = {}
    with Network(seed) as net:
        a = net.add_host("client", "192.0.2.1/24")
        b = net.add_host("server", "192.0.2.2/24")
        link = net.link(a, b, delay=0.005, faults=Faults(loss=loss, duplicate=0.01,
                                                           reorder=0.02))
        capture = io.BytesIO()
        link.capture(capture)

        def server() -> None:
            srv = socket.create_server(("0.0.0.0", 80))
            conn, _ = srv.accept()
            data = bytearray()
            while chunk := conn.recv(65536):
                data += chunk
            conn.sendall(hashlib.sha256(data).digest())
            conn.close()

        def client() -> None:
            sleep(0.1)
            conn = socket.create_connection(("192.0.2.2", 80))
            conn.sendall(PAYLOAD)
            conn.shutdown(socket.SHUT_WR)
            out["digest"] = conn.recv(100)
            conn.close()
            out["time"] = net.now

        net.spawn(b, server)
        net.spawn(a, client)
        net.run()
    return capture.getvalue(), out


def test_same_seed_same_pcap_bytes() -> None:
    first, out = transfer_story(11)
    second, _ = transfer_story(11)
    other, _ = transfer_story(12)
    assert out["digest"] == hashlib.sha256(PAYLOAD).digest()
    assert first == second
    assert first != other


def test_tcpdump_reads_the_capture(tmp_path: object) -> None:
    tcpdump = require_tool("tcpdump")
    data, _ = transfer_story(3, loss=0.0)
    path = f"{tmp_path}/sim.pcap"
    with open(path, "wb") as f:
        f.write(data)
    result = subprocess.run([tcpdump, "-nn", "-r", path], capture_output=True, text=True,
                            check=True)
    lines = result.stdout.splitlines()
    assert "Flags [S]" in lines[0] and "192.0.2.1" in lines[0]
    assert any("Flags [F.]" in line for line in lines)


def test_keepalive_finds_an_unplugged_peer() -> None:
    seen: dict[str, object] = {}
    with Network(1) as net:
        a, b, link = two_hosts(net)

        def server() -> None:
            srv = socket.create_server(("0.0.0.0", 80))
            conn, _ = srv.accept()
            sleep(10_000)

        def client() -> None:
            conn = socket.create_connection(("192.0.2.2", 80))
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            link.unplug()  # type: ignore[attr-defined]
            start = net.now
            try:
                conn.recv(10)
            except OSError as exc:
                seen["errno"] = exc.errno
            seen["after"] = net.now - start

        net.spawn(b, server)
        net.spawn(a, client)
        net.run(until=20_000)
    assert seen["errno"] == errno.ETIMEDOUT
    # Linux defaults: 7200 s idle, then 9 probes 75 s apart; Linux's timer wheel (and
    # tcpkit's copy of it) fires a long timer late by at most 1/8 of its length.
    assert 7875 <= seen["after"] <= 7875 * 1.125  # type: ignore[operator]


def test_peer_rebooted_resets_the_connection() -> None:
    seen: list[object] = []
    with Network(2) as net:
        a, b, _ = two_hosts(net)

        def server() -> None:
            srv = socket.create_server(("0.0.0.0", 80))
            srv.accept()
            sleep(100)

        def client() -> None:
            conn = socket.create_connection(("192.0.2.2", 80))
            sleep(1)
            net.reboot(b)  # type: ignore[arg-type]
            seen.append(conn.send(b"hello?"))
            try:
                conn.recv(10)
            except OSError as exc:
                seen.append(exc.errno)
            seen.append(conn.recv(10))

        net.spawn(b, server)
        net.spawn(a, client)
        net.run(until=50)
    assert seen == [6, errno.ECONNRESET, b""]


def test_deadlock_is_reported() -> None:
    with Network(5) as net:
        a, _, _ = two_hosts(net)

        def lonely() -> None:
            srv = socket.create_server(("0.0.0.0", 80))
            srv.accept()

        net.spawn(a, lonely)  # type: ignore[arg-type]
        with pytest.raises(SimulationError, match="lonely"):
            net.run()


def test_actor_errors_propagate() -> None:
    with Network(6) as net:
        a, _, _ = two_hosts(net)

        def broken() -> None:
            raise ValueError("inside the story")

        net.spawn(a, broken)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="inside the story"):
            net.run()


def test_unplugging_an_end_that_is_not_on_the_link_is_refused() -> None:
    with Network(seed=1) as net:
        a = net.add_host("a", "192.0.2.1/24")
        b = net.add_host("b", "192.0.2.2/24")
        stranger = net.add_host("c", "192.0.2.3/24")
        link = net.link(a, b)
        with pytest.raises(ValueError, match="not plugged into"):
            link.unplug(stranger)
        link.unplug(b)  # b's end only: a's packets are still captured, b's are not sent
        assert link.unplugged_end is not None and link.unplugged_end.host is b
        link.replug()
        assert link.unplugged_end is None and link.plugged

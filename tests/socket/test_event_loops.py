"""Event-loop programs written for the stdlib run unchanged on tcpkit: a selectors echo
server (the pattern of the ``selectors`` documentation) and asyncio streams. Each program
runs on the kernel and on tcpkit in the same test and both transcripts must be equal."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import selectors
import socket as stdlib
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import tcpkit.asyncio
import tcpkit.socket
from tcpkit.socket import runtime
from tcpkit.stack import Host

MESSAGES = [b"hello", b"x" * 3000, b"", b"last line"]


@pytest.fixture
def fresh_host() -> Iterator[Host]:
    """A real-time tcpkit host of its own, current in this thread and in the loop's."""
    rt = runtime.RealTimeRuntime()
    host = rt.add_host(Host("tcpkit"))
    token = runtime.use(rt, host)
    yield host
    runtime._current.reset(token)
    rt.stop()


def selectors_echo_server(sk: ModuleType, clients: int) -> tuple[int, Callable[[], int]]:
    """A single-threaded echo server on a selector; returns its port and a function that
    serves until ``clients`` connections came and went, returning the bytes echoed."""
    sel = selectors.DefaultSelector()
    server = sk.socket()
    server.setsockopt(sk.SOL_SOCKET, sk.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.setblocking(False)
    sel.register(server, selectors.EVENT_READ, data=None)

    def serve() -> int:
        echoed = finished = 0
        while finished < clients:
            for key, _ in sel.select(timeout=10):
                if key.data is None:
                    conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, data=b"")
                    continue
                conn = key.fileobj
                data = conn.recv(4096)  # type: ignore[union-attr]
                if data:
                    conn.sendall(data)  # type: ignore[union-attr]
                    echoed += len(data)
                else:
                    sel.unregister(conn)
                    conn.close()  # type: ignore[union-attr]
                    finished += 1
        sel.unregister(server)
        server.close()
        sel.close()
        return echoed

    return server.getsockname()[1], serve


def blocking_client(sk: ModuleType, port: int, out: list[Any]) -> None:
    with sk.create_connection(("127.0.0.1", port), timeout=10) as cli:
        for message in MESSAGES:
            if not message:
                continue
            cli.sendall(message)
            got = b""
            while len(got) < len(message):
                got += cli.recv(65536)
            out.append(got == message)
        cli.shutdown(sk.SHUT_WR)
        out.append(cli.recv(10))


def run_selectors_story(sk: ModuleType) -> list[Any]:
    port, serve = selectors_echo_server(sk, clients=3)
    results: list[list[Any]] = [[], [], []]
    threads = [threading.Thread(target=_in_context(blocking_client), args=(sk, port, out))
               for out in results]
    for thread in threads:
        thread.start()
    echoed = serve()
    for thread in threads:
        thread.join(10)
    return [echoed, *results]


def _in_context(function: Callable[..., None]) -> Callable[..., None]:
    """Run ``function`` in a thread with the caller's current tcpkit host."""
    context = contextvars.copy_context()
    return lambda *args: context.run(function, *args)


async def asyncio_story(streams: Any, payload: bytes) -> list[Any]:
    """An echo server and a client on asyncio streams (``streams`` is ``asyncio`` or
    ``tcpkit.asyncio``): lines, a large payload that needs flow control, write_eof."""
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await streams.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await streams.open_connection("127.0.0.1", port)
    seen: list[Any] = [writer.get_extra_info("peername") == ("127.0.0.1", port)]
    writer.write(b"first line\nsecond line\n")
    seen += [await reader.readline(), await reader.readline()]

    async def send_all() -> None:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()

    sender = asyncio.create_task(send_all())
    echoed = await reader.read(-1)
    await sender
    seen += [len(echoed), hashlib.sha256(echoed).hexdigest() == hashlib.sha256(payload)
             .hexdigest(), reader.at_eof()]
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    return seen


def test_selectors_echo_server_runs_unchanged(fresh_host: Host) -> None:
    kernel = run_selectors_story(stdlib)
    ours = run_selectors_story(tcpkit.socket)
    assert ours == kernel
    assert fresh_host.counters["TcpPassiveOpens"] == 3
    assert kernel[0] == sum(map(len, MESSAGES)) * 3


def test_asyncio_streams_run_unchanged(fresh_host: Host) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: the writer must wait for drain
    kernel = asyncio.run(asyncio_story(asyncio, payload))
    ours = asyncio.run(asyncio_story(tcpkit.asyncio, payload))
    assert ours == kernel
    assert fresh_host.counters["TcpActiveOpens"] == 1
    assert fresh_host.counters["TcpInSegs"] > len(payload) // 65483
    assert kernel[-3] == len(payload)


def test_asyncio_client_against_blocking_tcpkit_server(fresh_host: Host) -> None:
    """The client side alone: asyncio code talks to a plain threaded tcpkit server."""
    port, serve = selectors_echo_server(tcpkit.socket, clients=1)
    served: list[int] = []
    thread = threading.Thread(target=_in_context(lambda: served.append(serve())))
    thread.start()

    async def client() -> bytes:
        reader, writer = await tcpkit.asyncio.open_connection("localhost", port)
        writer.write(b"over tcpkit\n")
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return line

    assert asyncio.run(client()) == b"over tcpkit\n"
    thread.join(10)
    assert served == [len(b"over tcpkit\n")]


def test_open_connection_to_closed_port_raises_like_asyncio(fresh_host: Host) -> None:
    def closed_port(sk: ModuleType) -> int:
        s = sk.socket()
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        s.close()
        return port

    async def attempt(streams: Any, port: int) -> str:
        try:
            await streams.open_connection("127.0.0.1", port)
        except OSError as exc:
            return type(exc).__name__ + f" errno={exc.errno}"
        return "connected"

    kernel = asyncio.run(attempt(asyncio, closed_port(stdlib)))
    ours = asyncio.run(attempt(tcpkit.asyncio, closed_port(tcpkit.socket)))
    assert ours == kernel == "ConnectionRefusedError errno=111"

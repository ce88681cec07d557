"""``tcpkit serve [echo|discard|http DIR] --link tun|udp``: a server on a tcpkit host that
real programs reach over a real link.

On ``--link tun`` (root), tcpkit is 192.0.2.2 behind a TUN device in a network namespace
and the kernel is 192.0.2.1; the command prints how to reach it, for instance::

    tcpkit serve http ./site --link tun          # then, in another shell:
    ip netns exec tcpkit curl -o /dev/null http://192.0.2.2/big.iso

On ``--link udp`` the other side is another tcpkit process (``tcpkit fetch --link udp``).
``echo`` (port 7) sends back what it reads (RFC 862), ``discard`` (port 9) reads and drops
(RFC 863), ``http`` (port 80) serves the files under DIR. Each connection gets a line when
it ends: bytes each way, time, rate, and how it ended. Ctrl-C stops.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tcpkit.tools import links
from tcpkit.tools.http import serve_http

PORTS = {"echo": 7, "discard": 9, "http": 80}
CHUNK = 1 << 18


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", nargs="?", default="echo", choices=tuple(PORTS),
                        help="what to serve (default echo)")
    parser.add_argument("root", nargs="?", type=Path, metavar="DIR",
                        help="http: the directory to serve")
    parser.add_argument("--port", type=int, default=None,
                        help="TCP port (default: 7 echo, 9 discard, 80 http)")
    parser.add_argument("--count", type=int, default=None, metavar="N",
                        help="stop after N connections have ended")
    links.add_link_arguments(parser, udp_address="198.51.100.2/24", listens=True)


def _rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes * 8 / seconds / 1e9:.2f} Gbit/s" if seconds > 0 else "-"


def _serve_stream(conn: Any, peer: tuple[str, int], echo: bool, done: threading.Semaphore,
                  out: Any) -> None:
    received = sent = 0
    start = time.monotonic()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    how = "closed by the peer"
    try:
        with conn:
            while True:
                n = conn.recv_into(buf)
                if not n:
                    break
                received += n
                if echo:
                    conn.sendall(view[:n])
                    sent += n
    except OSError as exc:
        how = f"{type(exc).__name__}: {exc}"
    seconds = time.monotonic() - start
    print(f"{peer[0]}:{peer[1]}: read {received} B, sent {sent} B in {seconds:.3f} s "
          f"({_rate(received, seconds)}); {how}", file=out, flush=True)
    done.release()


def run(args: argparse.Namespace) -> int:
    if args.service == "http" and args.root is None:
        print("tcpkit serve: http needs a DIR to serve", file=sys.stderr)
        return 2
    if args.service != "http" and args.root is not None:
        print(f"tcpkit serve: {args.service} takes no DIR", file=sys.stderr)
        return 2
    if args.service == "http" and args.count is not None:
        print("tcpkit serve: --count is for echo and discard", file=sys.stderr)
        return 2
    if args.root is not None and not args.root.is_dir():
        print(f"tcpkit serve: {args.root} is not a directory", file=sys.stderr)
        return 2
    port = PORTS[args.service] if args.port is None else args.port
    if not 1 <= port <= 65535:
        print(f"tcpkit serve: port {port} is outside 1..65535", file=sys.stderr)
        return 2
    try:
        with links.attached(args) as on:
            import tcpkit.socket as tsocket  # noqa: PLC0415 (after the host is current)

            listener = tsocket.create_server((on.address, port), backlog=128)
            print(f"tcpkit serving {args.service} on {on.address}:{port} "
                  f"({on.description})", flush=True)
            print(f"try: {_example(on, args.service, port)}", flush=True)
            if args.service == "http":
                serve_http(listener, args.root, log=lambda line: print(line, flush=True))
                return 0
            return _accept_loop(listener, args.service == "echo", args.count)
    except (ValueError, OSError) as exc:
        return links.failed("serve", exc)


def _accept_loop(listener: Any, echo: bool, count: int | None) -> int:
    done = threading.Semaphore(0)
    started = 0
    with listener:
        while count is None or started < count:
            conn, peer = listener.accept()
            started += 1
            threading.Thread(target=_serve_stream, args=(conn, peer, echo, done, sys.stdout),
                             daemon=True).start()
    for _ in range(started):
        done.acquire()
    return 0


def _example(on: links.Attached, service: str, port: int) -> str:
    url = f"http://{on.address}:{port}/"
    if on.udp_endpoint is not None:
        peer = f"--link udp --udp-peer {on.udp_endpoint[0]}:{on.udp_endpoint[1]}"
        if service == "http":
            return f"tcpkit fetch {url} {peer}"
        return f"a tcpkit host on the tunnel ({peer}) connecting to {on.address}:{port}"
    command = f"curl -o /dev/null {url}" if service == "http" else f"nc {on.address} {port}"
    return f"ip netns exec {on.netns} {command}"

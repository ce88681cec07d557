"""One tcpkit host on a UDP tunnel, in a process of its own (test_udp's bulk transfer).

``python -m tests.links.udp_peer server MEGABYTES`` binds 127.0.0.1:0, prints
``port N``, learns its peer from the first datagram, accepts one connection on
198.51.100.1:5001, receives until EOF, then sends MEGABYTES back and closes.

``python -m tests.links.udp_peer client MEGABYTES PORT`` tunnels to 127.0.0.1:PORT,
connects from 198.51.100.2, sends MEGABYTES, shuts down its sending side and receives
until EOF.

Each prints one JSON line at the end: the sha256 and length of what it sent and of
what it received, the seconds each took, and the link's counters.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import sys
import time
from typing import Any

import tcpkit.socket as tsocket
from tcpkit.links.udp import UdpLink
from tcpkit.socket import runtime as rt
from tcpkit.socket.runtime import RealTimeRuntime
from tcpkit.stack import Host

SERVER = "198.51.100.1"
CLIENT = "198.51.100.2"
PORT = 5001
CHUNK = 1 << 20


def _chunks(megabytes: int, seed: int) -> list[bytes]:
    """MEGABYTES one-megabyte chunks, each a different slice of one random block (so
    that a megabyte delivered out of place changes the hash)."""
    block = random.Random(seed).randbytes(CHUNK + 4096)
    return [block[(i * 4093) % 4096:][:CHUNK] for i in range(megabytes)]


def _send(sock: Any, megabytes: int, seed: int) -> dict[str, Any]:
    digest = hashlib.sha256()
    start = time.monotonic()
    for chunk in _chunks(megabytes, seed):
        digest.update(chunk)
        sock.sendall(chunk)
    return {"sha256": digest.hexdigest(), "bytes": megabytes * CHUNK,
            "seconds": time.monotonic() - start}


def _receive(sock: Any) -> dict[str, Any]:
    digest = hashlib.sha256()
    total = 0
    start: float | None = None
    while True:
        data = sock.recv(1 << 18)
        if not data:
            break
        if start is None:
            start = time.monotonic()
        digest.update(data)
        total += len(data)
    seconds = 0.0 if start is None else time.monotonic() - start
    return {"sha256": digest.hexdigest(), "bytes": total, "seconds": seconds}


def main(argv: list[str]) -> None:
    role, megabytes = argv[0], int(argv[1])
    runtime = RealTimeRuntime()
    host = runtime.add_host(Host(role))
    rt.use(runtime, host)
    if role == "server":
        link = UdpLink(runtime, host, address=f"{SERVER}/24", local=("127.0.0.1", 0))
        listener = tsocket.socket()
        listener.bind((SERVER, PORT))
        listener.listen(1)
        print(f"port {link.local_address[1]}", flush=True)
        conn, _ = listener.accept()
        received = _receive(conn)
        sent = _send(conn, megabytes, seed=2)
        conn.close()
        listener.close()
    else:
        link = UdpLink(runtime, host, address=f"{CLIENT}/24", local=("127.0.0.1", 0),
                       peer=("127.0.0.1", int(argv[2])))
        conn = tsocket.socket()
        conn.settimeout(30)
        conn.connect((SERVER, PORT))
        conn.settimeout(None)
        sent = _send(conn, megabytes, seed=1)
        conn.shutdown(socket.SHUT_WR)
        received = _receive(conn)
        conn.close()
    # Let the last ACKs and FINs cross before the link goes.
    time.sleep(0.2)
    link.close()
    runtime.stop()
    print(json.dumps({"sent": sent, "received": received,
                      "link": {"received": link.received, "malformed": link.malformed,
                               "strangers": link.strangers,
                               "write_errors": link.write_errors},
                      "retransmits": host.counters["TcpRetransSegs"]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

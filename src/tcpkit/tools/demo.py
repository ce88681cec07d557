"""The headline demo: the RST after close() with unread data, on the simulated network.

A client sends an HTTP request with a body; the server reads only the request line,
answers "400 Bad Request" and closes. The unread body makes the server's stack send a
RST instead of a FIN (RFC 2525 §2.17, Linux ``tcp_close``): the client reads the answer
that arrived before it, and then, where a FIN would have given it an end of file, its
recv() fails with ECONNRESET. Two hosts, a 10 ms cable, plain blocking socket code,
virtual time; the cable's capture is printed as ``tcpdump -n -ttttt`` prints it, then
what each program saw. ``--pcap FILE`` also writes the capture.
"""

from __future__ import annotations

import argparse
import io
import sys

import tcpkit.socket as socket  # noqa: PLR0402 (the drop-in spelling users write)
from tcpkit.links.sim import Network, sleep
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.tcpdump import Formatter, TimeFormat

REQUEST = (b"POST /upload HTTP/1.1\r\nHost: 192.0.2.2\r\nContent-Length: 2000\r\n\r\n"
           + b"x" * 2000)
ANSWER = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pcap", metavar="FILE", help="also write the capture to FILE")


def story() -> tuple[bytes, list[str]]:
    """Run the story; the capture (pcap bytes) and what the programs saw."""
    seen: list[str] = []
    capture = io.BytesIO()
    with Network(seed=1) as net:
        client_host = net.add_host("client", "192.0.2.1/24")
        server_host = net.add_host("server", "192.0.2.2/24")
        net.link(client_host, server_host, delay=0.005).capture(capture)

        def say(who: str, what: str) -> None:
            seen.append(f"  {net.now * 1000:7.1f} ms  {who:6}  {what}")

        def server() -> None:
            listener = socket.create_server(("0.0.0.0", 80))
            conn, peer = listener.accept()
            say("server", f"accept() -> a connection from {peer[0]}")
            line = conn.recv(23)
            say("server", f"recv(23) -> {line!r}; the rest stays unread")
            conn.sendall(ANSWER)
            say("server", "sendall(b'HTTP/1.1 400 Bad Request...')")
            conn.close()
            say("server", "close() with unread data: a RST goes out, not a FIN")

        def client() -> None:
            sleep(0.001)
            conn = socket.create_connection(("192.0.2.2", 80))
            say("client", "connect() -> connected")
            conn.sendall(REQUEST)
            say("client", f"sendall({len(REQUEST)} bytes of request)")
            sleep(0.1)  # busy elsewhere; the answer and the RST arrive meanwhile
            for _ in range(2):
                try:
                    data = conn.recv(4096)
                    say("client", f"recv() -> {data[:24]!r}...")
                except OSError as exc:
                    say("client", f"recv() -> {type(exc).__name__}: [Errno {exc.errno}] "
                                  f"{exc.strerror}")

        net.spawn(server_host, server)
        net.spawn(client_host, client)
        net.run(until=5)
    return capture.getvalue(), seen


def run(args: argparse.Namespace) -> int:
    pcap, seen = story()
    print("The RST after close() with unread data, on tcpkit's simulated network: a client")
    print("POSTs 2000 bytes; the server reads only the request line, answers 400 and")
    print("closes. On the cable (tcpdump -n -ttttt):")
    print()
    formatter = Formatter(time_format=TimeFormat.SINCE_FIRST)
    for packet in open_capture(io.BytesIO(pcap)):
        print(formatter.line(packet))
    print()
    print("What the programs saw (virtual time):")
    print("\n".join(seen))
    print()
    print("The server closed with bytes it never read, so its stack reset the connection")
    print("(RFC 2525 §2.17; Linux does the same) instead of ending it with a FIN. The client")
    print("still reads what arrived before the RST, then gets ECONNRESET where it expected")
    print("an end of file; a client still sending its body sees the reset on send() (or")
    print("EPIPE) and often never reads the answer. The fix is on the server: read the")
    print("whole request (or shutdown(SHUT_WR) and drain) before close().")
    if args.pcap:
        try:
            with open(args.pcap, "wb") as out:
                out.write(pcap)
        except OSError as exc:
            print(f"tcpkit demo: cannot write {args.pcap}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"\nWrote the capture to {args.pcap}: try tcpdump -n -ttttt -r {args.pcap}")
    return 0

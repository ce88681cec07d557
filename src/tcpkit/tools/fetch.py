"""``tcpkit fetch URL --link tun|udp``: download over HTTP/1.1 with tcpkit's TCP.

On ``--link tun`` (root) tcpkit is 192.0.2.2 behind a TUN device and the kernel 192.0.2.1,
so it fetches from a real server on the kernel's side::

    ip netns exec tcpkit python3 -m http.server 8000 --bind 192.0.2.1 &
    tcpkit fetch http://192.0.2.1:8000/big.iso --link tun -o big.iso

(after ``tcpkit netns up tcpkit``, so the namespace outlives each command). On ``--link
udp`` it fetches from ``tcpkit serve http DIR --link udp``. It prints the status, the
size, the time, the rate and the body's SHA-256; the body goes to ``-o FILE`` (default:
nowhere). The exit status is 0 for a 2xx answer, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import BinaryIO

from tcpkit.tools import links
from tcpkit.tools.http import HttpError, fetch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="http://IPv4-ADDRESS[:PORT]/PATH")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="write the body to FILE (default: count it, keep nothing)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds without progress before giving up (default 30)")
    links.add_link_arguments(parser, udp_address="198.51.100.1/24", listens=False)


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def run(args: argparse.Namespace) -> int:
    try:
        with contextlib.ExitStack() as stack:
            out: BinaryIO
            if args.output is None:
                out = _Discard()  # type: ignore[assignment]
            else:
                out = stack.enter_context(args.output.open("wb"))
            on = stack.enter_context(links.attached(args))
            import tcpkit.socket as tsocket  # noqa: PLC0415 (after the host is current)

            print(f"tcpkit fetch from {on.address} ({on.description})", file=sys.stderr)
            start = time.monotonic()
            result = fetch(args.url, socket_module=tsocket, out=out, timeout=args.timeout)
            seconds = time.monotonic() - start
    except (ValueError, HttpError, OSError) as exc:
        return links.failed("fetch", exc)
    rate = result.length * 8 / seconds / 1e9 if seconds > 0 else 0.0
    print(f"{result.status} {result.reason}: {result.length} bytes in {seconds:.3f} s "
          f"({rate:.2f} Gbit/s), sha256 {result.sha256}")
    return 0 if 200 <= result.status < 300 else 1

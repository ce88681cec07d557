"""The ``--link`` options that ``tcpkit serve`` and ``tcpkit fetch`` share: a real-time
tcpkit host attached to a TUN device (the kernel on the other side, in a namespace) or
to a UDP tunnel (another tcpkit process on the other side)."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from tcpkit.links.netns import DEVICE, KERNEL_ADDRESS, TunNamespace
from tcpkit.links.tun import TunHost
from tcpkit.links.udp import UdpLink
from tcpkit.socket import runtime as socket_runtime
from tcpkit.socket.runtime import RealTimeRuntime
from tcpkit.stack.host import Host

DEFAULT_NETNS = "tcpkit"
TUN_ADDRESS = "192.0.2.2/24"
UDP_PORT = 7400
ORPHAN_GRACE = 10.0  # seconds the command waits, at most, for closed connections to finish


@dataclass
class Attached:
    """A host on a link: who it is and how to reach the other side."""

    runtime: RealTimeRuntime
    host: Host
    address: str  # the host's own IP address
    description: str  # for people: the link and its settings
    netns: str | None  # tun: where programs on the kernel's side run
    udp_endpoint: tuple[str, int] | None  # udp: where the other tcpkit process sends


def failed(command: str, exc: Exception) -> int:
    """Say what went wrong in one line and return the exit status: 2 for bad arguments
    (ValueError), 1 for what the system or the peer refused."""
    print(f"tcpkit {command}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
    return 2 if isinstance(exc, ValueError) else 1


def endpoint(text: str) -> tuple[str, int]:
    """``IP:PORT`` as argparse reads it."""
    address, sep, port = text.rpartition(":")
    try:
        if not sep:
            raise ValueError
        ipaddress.IPv4Address(address)
        number = int(port)
        if not 0 <= number <= 65535:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not IPv4-ADDRESS:PORT") from None
    return address, number


def add_link_arguments(parser: argparse.ArgumentParser, *, udp_address: str,
                       listens: bool) -> None:
    group = parser.add_argument_group("link")
    group.add_argument("--link", choices=("tun", "udp"), default="tun",
                       help="tun: the kernel on the other side (root); udp: a tunnel to "
                       "another tcpkit process (no root) (default tun)")
    group.add_argument("--netns", default=DEFAULT_NETNS, metavar="NAME",
                       help="tun: the namespace of the device; made and deleted by this "
                       f"command unless 'tcpkit netns up NAME' made it (default {DEFAULT_NETNS})")
    group.add_argument("--no-offload", dest="offload", action="store_false",
                       help="tun: plain packets, no checksum or segmentation offload")
    group.add_argument("--mtu", type=int, default=1500, help="the link's MTU (default 1500)")
    group.add_argument("--address", default=None,
                       help=f"tcpkit's address (default {TUN_ADDRESS} on tun, "
                       f"{udp_address} on udp)")
    group.add_argument("--udp-listen", type=endpoint,
                       default=("127.0.0.1", UDP_PORT if listens else 0), metavar="IP:PORT",
                       help="udp: the local UDP endpoint "
                       f"(default 127.0.0.1:{UDP_PORT if listens else 'any'})")
    group.add_argument("--udp-peer", type=endpoint, default=None if listens else
                       ("127.0.0.1", UDP_PORT), metavar="IP:PORT",
                       help="udp: the other end's UDP endpoint (default: "
                       + ("learned from the first datagram)" if listens
                          else f"127.0.0.1:{UDP_PORT})"))
    parser.set_defaults(udp_address=udp_address)


def _let_orphans_finish(runtime: RealTimeRuntime, host: Host) -> None:
    """What the application wrote and closed must still reach the peer: wait (a while)
    for every closed connection to have it acknowledged before the link goes down."""
    with runtime.lock:
        runtime.wait(lambda: not host.tcp.orphans_sending(), ORPHAN_GRACE)


@contextlib.contextmanager
def attached(args: argparse.Namespace) -> Iterator[Attached]:
    """The host on the link ``args`` name, torn down (namespace included, if this made
    it) when the block ends. Becomes the current host of ``tcpkit.socket``."""
    if not 68 <= args.mtu <= 65535:
        raise ValueError(f"MTU {args.mtu} is outside 68..65535")
    with contextlib.ExitStack() as stack:
        if args.link == "tun":
            address = args.address or TUN_ADDRESS
            tun = TunHost(TunNamespace(args.netns, DEVICE, KERNEL_ADDRESS, args.mtu),
                          address=address, offload=args.offload)
            stack.callback(tun.close)
            runtime, host = tun.runtime, tun.host
            description = (f"TUN {DEVICE} in namespace {args.netns}, MTU {args.mtu}, "
                           f"offload {'on' if tun.device.offload else 'off'}")
            netns, udp_endpoint = args.netns, None
        else:
            address = args.address or args.udp_address
            runtime = RealTimeRuntime()
            stack.callback(runtime.stop)
            host = runtime.add_host(Host("tcpkit"))
            link = UdpLink(runtime, host, address=address, local=args.udp_listen,
                           peer=args.udp_peer, mtu=args.mtu)
            stack.callback(link.close)
            bound = link.local_address
            description = f"UDP tunnel on {bound[0]}:{bound[1]}, MTU {args.mtu}"
            netns, udp_endpoint = None, bound
        stack.callback(_let_orphans_finish, runtime, host)  # before the link goes
        ip = str(ipaddress.IPv4Interface(address).ip)
        stack.enter_context(socket_runtime.using(runtime, host))
        yield Attached(runtime, host, ip, description, netns, udp_endpoint)

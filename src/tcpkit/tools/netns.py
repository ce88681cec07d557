"""``tcpkit netns up|down NAME``: the network namespace a TUN link talks to the kernel in.

``up`` creates namespace NAME with a TUN device (tk0 by default) holding the kernel's
address (192.0.2.1/24 by default). ``tcpkit serve --link tun --netns NAME`` and ``tcpkit
fetch --link tun --netns NAME`` then attach tcpkit to the device as 192.0.2.2, and programs
run on the kernel's side with ``ip netns exec NAME ...``. ``down`` deletes it all. Both
need root. Without ``up``, serve and fetch make a namespace of their own and delete it
when they stop.
"""

from __future__ import annotations

import argparse

from tcpkit.links.netns import DEVICE, KERNEL_ADDRESS, TunNamespace
from tcpkit.tools.links import failed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("up", "down"), help="create or delete")
    parser.add_argument("name", metavar="NAME", help="the namespace's name")
    parser.add_argument("--device", default=DEVICE, help=f"TUN device name (default {DEVICE})")
    parser.add_argument("--address", default=KERNEL_ADDRESS,
                        help=f"the kernel's address on it (default {KERNEL_ADDRESS})")
    parser.add_argument("--mtu", type=int, default=1500, help="the device's MTU (default 1500)")


def run(args: argparse.Namespace) -> int:
    try:
        ns = TunNamespace(args.name, args.device, args.address, args.mtu)
        if args.action == "up":
            ns.up()
            print(f"namespace {ns.name}: {ns.device} {ns.kernel_address}, MTU {ns.mtu}; "
                  f"the kernel's side: ip netns exec {ns.name} COMMAND")
        else:
            ns.down()
            print(f"namespace {ns.name} deleted")
    except (ValueError, OSError) as exc:
        return failed("netns", exc)
    return 0

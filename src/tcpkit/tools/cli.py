"""``tcpkit``: the command line entry point.

Each subcommand lives in its own module with two functions, ``add_arguments(parser)``
and ``run(args) -> int`` (the exit status). Usage errors exit with status 2 through
argparse, as every Unix tool does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from tcpkit import __version__
from tcpkit.tools import bench, demo, explain, fetch, netns, netstat, scenario, serve, trace
from tcpkit.tools.packetdrill import cli as packetdrill

COMMANDS: dict[str, tuple[ModuleType, str]] = {
    "demo": (demo, "show a TCP conversation as tcpdump would print it"),
    "trace": (trace, "print a pcap or pcapng file exactly as 'tcpdump -n -r' does"),
    "scenario": (scenario, "the failure lab: list, show, run and verify TCP failure stories"),
    "netstat": (netstat, "a scenario's sockets at a moment of its run, as ss shows them"),
    "explain": (explain, "what a socket error (ECONNRESET, EPIPE, ...) means and what to do"),
    "bench": (bench, "measure tcpkit's hot paths against references run alongside"),
    "packetdrill": (packetdrill, "play packetdrill TCP scripts against tcpkit"),
    "serve": (serve, "serve echo, discard or HTTP on a tcpkit host behind TUN or a UDP tunnel"),
    "fetch": (fetch, "download a URL over HTTP/1.1 with tcpkit, behind TUN or a UDP tunnel"),
    "netns": (netns, "create or delete the network namespace of tcpkit's TUN device"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tcpkit",
        description="A TCP/IP stack in Python, faithful to RFC 9293 and to Linux, "
        "and a lab that shows how TCP connections fail.",
    )
    parser.add_argument("--version", action="version", version=f"tcpkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, summary) in COMMANDS.items():
        command = sub.add_parser(name, help=summary, description=module.__doc__)
        module.add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = COMMANDS[args.command][0]
    try:
        status: int = module.run(args)
    except BrokenPipeError:
        # The reader went away (tcpkit trace big.pcap | head): stop quietly, as tcpdump does.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Measure tcpkit's hot paths, each beside a reference measured in the same run.

Timings are never asserted anywhere: this prints figures and ratios for people to read
(``make bench`` runs every suite). ``--quick`` runs each measurement briefly, to check
that the suites work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tcpkit.tools import bench_sim, bench_tcp, bench_tun, bench_wire

SUITES: dict[str, Callable[[bool], list[str]]] = {
    "wire": bench_wire.run_suite,
    "tcp": bench_tcp.run_suite,
    "sim": bench_sim.run_suite,
    "tun": bench_tun.run_suite,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suites", nargs="*", metavar="SUITE",
                        help=f"which suites to run: {', '.join(SUITES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="short runs, to check they work")
    parser.add_argument("--profile", action="store_true",
                        help="tun: profile tcpkit's threads and print where the time goes")


def run(args: argparse.Namespace) -> int:
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        print(f"tcpkit bench: no suite named {', '.join(unknown)} (have: {', '.join(SUITES)})",
              file=sys.stderr)
        return 2
    for name in args.suites or list(SUITES):
        print(f"== {name} ==")
        lines = (bench_tun.run_suite(args.quick, args.profile) if name == "tun"
                 else SUITES[name](args.quick))
        for line in lines:
            print(line, flush=True)
        print()
    return 0

"""``tcpkit netstat NAME --at T``: the sockets of a scenario's simulated run at virtual
time T (seconds since the story began), as ``ss -tano`` lists them: state, receive and
send queues, addresses and the running timer. ``--at`` may be repeated; ``--every S``
takes a table every S seconds until the story ends (progress is printed as it goes).
"""

from __future__ import annotations

import argparse
import sys

from tcpkit.lab import scenarios as _catalogue  # noqa: F401 (registers the scenarios)
from tcpkit.lab.netstat import HEADER
from tcpkit.lab.run import run_sim
from tcpkit.tools.scenario import find_scenario, parse_knobs

MAX_TABLES = 1000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("name", metavar="NAME", help="a scenario (tcpkit scenario list)")
    parser.add_argument("--at", type=float, action="append", default=[], metavar="T",
                        help="virtual time in seconds; may be repeated")
    parser.add_argument("--every", type=float, metavar="S",
                        help="a table every S seconds of virtual time")
    parser.add_argument("--seed", type=int, default=1, help="the simulation's seed")
    parser.add_argument("--set", dest="knobs", action="append", default=[],
                        metavar="KNOB=VALUE", help="turn a knob; may be repeated")


def run(args: argparse.Namespace) -> int:
    scenario = find_scenario(args.name)
    knobs = parse_knobs(scenario, args.knobs)
    times = sorted(set(args.at))
    if any(t < 0 for t in times):
        print("tcpkit netstat: --at takes a time >= 0", file=sys.stderr)
        return 2
    if args.every is not None:
        if args.every <= 0:
            print("tcpkit netstat: --every takes a positive number of seconds",
                  file=sys.stderr)
            return 2
        # The story's length is known only once played: play it once to learn it.
        length = max((c.end for c in run_sim(scenario, knobs, seed=args.seed).calls),
                     default=0.0)
        count = int(length / args.every) + 1
        if count > MAX_TABLES:
            print(f"tcpkit netstat: --every {args.every} gives {count} tables over "
                  f"{length:.0f} s; use a larger step (at most {MAX_TABLES} tables)",
                  file=sys.stderr)
            return 2
        times = sorted(set(times) | {round(i * args.every, 9) for i in range(count)})
    if not times:
        print("tcpkit netstat: say when, with --at T or --every S", file=sys.stderr)
        return 2
    outcome = run_sim(scenario, knobs, seed=args.seed, netstat_at=tuple(times))
    for when in times:
        print(f"\nAt {when:.3f} s:")
        rows = outcome.tables.get(when)
        if rows is None:
            print("  (the story was over by then)")
            continue
        print(HEADER)
        for row in rows:
            print(row.line())
        if not rows:
            print("  (no sockets)")
    return 0

"""``tcpkit scenario``: the failure lab's catalogue.

  list                     every scenario, with the article it comes from
  show NAME                what it plays and the knobs it takes
  run NAME [--seed N] [--set knob=value ...] [--pcap FILE] [--svg FILE]
                           play it on the simulated network: each program's calls with
                           their results and errno, the capture as tcpdump prints it,
                           each connection's states, and what it means; the capture
                           and a ladder diagram (SVG) go to files on request
  verify [NAME ...|--all]  play it on the kernel too (root) and compare: calls, results
                           and the segments on the cable
"""

from __future__ import annotations

import argparse
import sys

from tcpkit.lab import scenarios as _catalogue  # noqa: F401 (registers the scenarios)
from tcpkit.lab.run import Outcome, compare, run_kernel, run_sim
from tcpkit.lab.scenario import CATALOGUE, Scenario


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    actions.add_parser("list", help="every scenario")
    show = actions.add_parser("show", help="what a scenario plays and its knobs")
    show.add_argument("name")
    run = actions.add_parser("run", help="play a scenario on the simulated network")
    run.add_argument("name")
    run.add_argument("--seed", type=int, default=1, help="the simulation's seed (default 1)")
    run.add_argument("--set", dest="knobs", action="append", default=[], metavar="KNOB=VALUE",
                     help="turn a knob (see 'show'); may be repeated")
    run.add_argument("--pcap", metavar="FILE", help="also write the capture to FILE")
    run.add_argument("--svg", metavar="FILE", help="also draw the run as a ladder diagram")
    verify = actions.add_parser("verify", help="compare a scenario with the kernel (root)")
    verify.add_argument("names", nargs="*", metavar="NAME")
    verify.add_argument("--all", action="store_true", help="every scenario")


def find_scenario(name: str) -> Scenario:
    if name not in CATALOGUE:
        raise SystemExit(f"tcpkit scenario: no scenario named {name!r} "
                         "(see 'tcpkit scenario list')")
    return CATALOGUE[name]


def parse_knobs(scenario: Scenario, pairs: list[str]) -> dict[str, int]:
    values: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"tcpkit scenario: --set takes KNOB=VALUE, not {pair!r}")
        try:
            values[name] = int(value)
        except ValueError:
            raise SystemExit(f"tcpkit scenario: knob {name} takes an integer, "
                             f"not {value!r}") from None
    try:
        return scenario.settings(values)
    except ValueError as exc:
        raise SystemExit(f"tcpkit scenario: {exc}") from None


def print_outcome(outcome: Outcome) -> None:
    """Calls, trace, states and explanation, as `scenario run` and `demo` print them."""
    scenario = outcome.scenario
    print(f"{scenario.name}: {scenario.title}")
    knobs = ", ".join(f"{k}={v}" for k, v in outcome.knobs.items())
    print(f"(seed article {scenario.seed}; knobs: {knobs or 'none'})")
    print("\nWhat the programs called and got back (seconds of virtual time):")
    for call in outcome.calls:
        print(call.line())
    for note in outcome.notes:
        print(f"  ! {note}")
    print("\nOn the cable (tcpdump -n -ttttt):")
    for line in outcome.trace():
        print(line)
    print("\nConnection states:")
    for state in outcome.states:
        print(state.line())
    print("\nWhat happened:")
    print(outcome.explanation())


def write_file(path: str, data: bytes, what: str) -> bool:
    """Write ``data`` to ``path``; say so, or say why not (on stderr)."""
    try:
        with open(path, "wb") as out:
            out.write(data)
    except OSError as exc:
        print(f"tcpkit: cannot write {what} to {path}: {exc.strerror or exc}",
              file=sys.stderr)
        return False
    print(f"Wrote {what} to {path}")
    return True


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        for scenario in CATALOGUE.values():
            kernel = "" if scenario.kernel_cannot is None else "  (simulator only)"
            print(f"{scenario.name:22} [{scenario.seed}] {scenario.title}{kernel}")
        return 0
    if args.action == "show":
        scenario = find_scenario(args.name)
        print(f"{scenario.name}: {scenario.title}\nseed article: {scenario.seed}\n")
        print(scenario.description)
        print("\nknobs:" if scenario.knobs else "\nno knobs")
        for knob in scenario.knobs:
            print(f"  {knob.name}={knob.default}  {knob.help}")
        if scenario.kernel_cannot:
            print(f"\nThe kernel cannot play it: {scenario.kernel_cannot}")
        return 0
    if args.action == "run":
        scenario = find_scenario(args.name)
        outcome = run_sim(scenario, parse_knobs(scenario, args.knobs), seed=args.seed)
        print_outcome(outcome)
        print()
        for path, data, what in ((args.pcap, outcome.pcap, "the capture"),
                                 (args.svg, outcome.ladder().encode(), "the ladder diagram")):
            if path and not write_file(path, data, what):
                return 1
        return 0
    names = list(CATALOGUE) if args.all else args.names
    if not names:
        raise SystemExit("tcpkit scenario verify: name scenarios, or --all")
    scenarios = [find_scenario(name) for name in names]
    width = max(len(name) for name in names)
    print(f"{'scenario':{width}}  {'result':10} first difference (linux vs tcpkit) or reason")
    failed = 0
    for scenario in scenarios:  # one row as each finishes: the kernel runs in real time
        verdict, detail = verify(scenario)
        print(f"{scenario.name:{width}}  {verdict:10} {detail}", flush=True)
        failed += verdict in ("MISMATCH", "STALE")
    print(f"\n{len(scenarios) - failed} of {len(scenarios)} as expected", flush=True)
    return 1 if failed else 0


def verify(scenario: Scenario) -> tuple[str, str]:
    """(verdict, detail): match, MISMATCH, known (an accepted difference), STALE (an
    accepted difference that is no longer there) or simulator (the kernel cannot)."""
    if scenario.kernel_cannot:
        return "simulator", scenario.kernel_cannot
    difference = compare(run_kernel(scenario), run_sim(scenario))
    if scenario.known_difference:
        if difference is None:
            return "STALE", "marked as differing, but it matches now: remove the mark"
        return "known", f"{difference} ({scenario.known_difference})"
    return ("match", "") if difference is None else ("MISMATCH", difference)

"""``tcpkit demo``: the headline story of the failure lab, ``http-400-unread-body``.

A client POSTs 2000 bytes; the server reads only the request line, answers "400 Bad
Request" and closes. The unread body makes the server's stack send a RST instead of a
FIN (RFC 2525 §2.17, Linux ``tcp_close``): the client reads the answer that arrived
before it, and then, where a FIN would have given it an end of file, its recv() fails
with ECONNRESET. Plain blocking socket code on two simulated hosts, in virtual time;
the same story is checked against the Linux kernel by the lab's tests.

Prints each program's calls, the capture as ``tcpdump -n -ttttt`` prints it, the
connections' states and the explanation, and writes the capture (pcap) and a ladder
diagram (SVG) into ``--out DIR`` (a new temporary directory by default), or to the
files ``--pcap``/``--svg`` name.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tcpkit.lab import scenarios as _catalogue  # noqa: F401 (registers the scenarios)
from tcpkit.lab.run import run_sim
from tcpkit.lab.scenario import CATALOGUE
from tcpkit.tools.scenario import print_outcome, write_file

STORY = "http-400-unread-body"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR",
                        help="write demo.pcap and demo.svg here (default: a new temporary "
                             "directory)")
    parser.add_argument("--pcap", metavar="FILE", help="write the capture to FILE instead")
    parser.add_argument("--svg", metavar="FILE",
                        help="write the ladder diagram to FILE instead")


def run(args: argparse.Namespace) -> int:
    outcome = run_sim(CATALOGUE[STORY])
    print_outcome(outcome)
    print()
    out = Path(args.out) if args.out else None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"tcpkit demo: cannot create {out}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 1
    elif not (args.pcap and args.svg):
        out = Path(tempfile.mkdtemp(prefix="tcpkit-demo-"))
    pcap = args.pcap or str(Path(out or ".") / "demo.pcap")
    svg = args.svg or str(Path(out or ".") / "demo.svg")
    if not (write_file(pcap, outcome.pcap, "the capture")
            and write_file(svg, outcome.ladder().encode(), "the ladder diagram")):
        return 1
    print(f"\nRead the capture with: tcpdump -n -ttttt -r {pcap}   (or tcpkit trace {pcap})")
    print(f"Open the diagram in a browser: {svg}")
    print(f"More stories: tcpkit scenario list; this one again: tcpkit scenario run {STORY}")
    return 0

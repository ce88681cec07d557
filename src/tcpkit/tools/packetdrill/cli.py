"""``tcpkit packetdrill SCRIPT...``: play Google's packetdrill TCP scripts against tcpkit.

Each script (a ``.pkt`` file, or every one under a directory) runs against one tcpkit
host in virtual time and ends PASS, FAIL (the line and the first difference) or
UNSUPPORTED (what tcpkit lacks). Then: a table per folder, the reasons for UNSUPPORTED
with their counts, and, when the scripts come from a suite with a LINUX_RESULTS.tsv
(Linux's own results on this kind of machine), the two side by side. Exit status 1 if a
script FAILs, else 0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tcpkit.tools.packetdrill import suite
from tcpkit.tools.packetdrill.player import Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scripts", nargs="*", type=Path, metavar="SCRIPT",
                        help=".pkt files or directories of them")
    parser.add_argument("--suite", type=Path, metavar="DIR",
                        help="every script under DIR (a packetdrill checkout)")
    parser.add_argument("--report", type=Path, metavar="FILE",
                        help="also write the results as TSV (path, result, line, detail)")
    parser.add_argument("--quiet", action="store_true", help="only the tables")


def run(args: argparse.Namespace) -> int:
    paths = list(args.scripts) + ([args.suite] if args.suite else [])
    if not paths:
        print("tcpkit packetdrill: name scripts or directories, or --suite DIR",
              file=sys.stderr)
        return 2
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"tcpkit packetdrill: no such file or directory: {', '.join(missing)}",
              file=sys.stderr)
        return 2
    scripts = suite.find_scripts(paths)
    if not scripts:
        print("tcpkit packetdrill: no .pkt scripts there", file=sys.stderr)
        return 2
    root = suite.suite_root(paths[0] if paths[0].is_dir() else paths[0].parent)

    def progress(name: str, result: Result) -> None:
        if not args.quiet:
            print(f"{result.status:11} {name}"
                  + (f"  (line {result.line}: {result.message})" if result.line else
                     f"  ({result.message})" if result.message else ""), flush=True)

    results = suite.run(scripts, root, progress)
    print()
    print(suite.folder_table(results))
    unsupported = suite.unsupported_table(results)
    if unsupported:
        print("\nUNSUPPORTED, by what is missing:")
        print(unsupported)
    ignored = suite.ignored_table(results)
    if ignored:
        print("\nsysctls the scripts set that tcpkit does not model (no effect), by scripts:")
        print(ignored)
    if root is not None:
        print(f"\nbeside Linux ({root / suite.LINUX_RESULTS}):")
        print(suite.linux_table(results, suite.read_linux_results(root)))
    if args.report:
        args.report.write_text(suite.report_tsv(results))
        print(f"\nWrote {args.report}")
    return 1 if any(r.status == "FAIL" for r in results.values()) else 0

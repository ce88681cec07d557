"""``tcpkit explain ERROR``: what a socket error means for a TCP program, what to do,
and which of the lab's scenarios produce it.

ERROR is an errno name (ECONNRESET), its number on Linux (104) or the exception Python
raises for it (ConnectionResetError). ``tcpkit explain --list`` names them all.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from tcpkit.lab import scenarios as _catalogue  # noqa: F401 (registers the scenarios)
from tcpkit.lab.errors import NOTES, explain


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("error", nargs="?", metavar="ERROR",
                        help="ECONNRESET, 104 or ConnectionResetError")
    parser.add_argument("--list", action="store_true", help="every error it explains")


def run(args: argparse.Namespace) -> int:
    if args.list or not args.error:
        for name in NOTES:
            print(f"{name:14} {os.strerror(getattr(errno, name))}")
        return 0
    try:
        print(explain(args.error))
    except ValueError as exc:
        print(f"tcpkit explain: {exc}", file=sys.stderr)
        return 2
    return 0

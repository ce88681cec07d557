"""Print a capture file the way ``tcpdump -n -r FILE`` does, line for line.

Reads classic pcap (micro- or nanosecond, either byte order) and pcapng, from a file or
from standard input (``-``). Options mirror tcpdump's: ``-S`` for absolute sequence
numbers, ``-t``/``-tt``/``-ttt``/``-tttt``/``-ttttt`` for the timestamp style, ``--nano``
for nanosecond timestamps, ``-c N`` to stop after N packets.
"""

from __future__ import annotations

import argparse
import sys

from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.errors import MalformedPacket
from tcpkit.wire.tcpdump import Formatter, TimeFormat


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="pcap or pcapng file ('-' for standard input)")
    parser.add_argument("-S", dest="absolute", action="store_true",
                        help="print absolute, not relative, TCP sequence numbers")
    parser.add_argument("-t", dest="time_style", action="count", default=0,
                        help="-t: no timestamp; -tt: seconds since the epoch; -ttt: delta "
                        "from the previous packet; -tttt: with the date; -ttttt: delta "
                        "from the first packet")
    parser.add_argument("--nano", action="store_true", help="print nanoseconds")
    parser.add_argument("-c", dest="count", type=_positive, default=None,
                        help="stop after COUNT packets")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value}")
    return value


def run(args: argparse.Namespace) -> int:
    if args.time_style > TimeFormat.SINCE_FIRST:
        print("tcpkit trace: at most five -t (-ttttt)", file=sys.stderr)
        return 2
    formatter = Formatter(
        absolute=args.absolute, time_format=TimeFormat(args.time_style), nano=args.nano
    )
    source = sys.stdin.buffer if args.file == "-" else args.file
    out = sys.stdout
    try:
        for n, packet in enumerate(open_capture(source), start=1):
            out.write(formatter.line(packet) + "\n")
            if args.count is not None and n >= args.count:
                break
    except BrokenPipeError:
        raise
    except OSError as exc:
        out.flush()
        print(f"tcpkit trace: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except MalformedPacket as exc:
        out.flush()
        print(f"tcpkit trace: {args.file}: {exc}", file=sys.stderr)
        return 1
    out.flush()
    return 0

"""Running tcpdump on a capture and comparing its text with tcpkit's, line for line."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.tcpdump import Formatter

PLACEHOLDER = "[tcpkit:"


def tcpdump_lines(tcpdump: str, path: Path, *flags: str) -> list[str]:
    """``tcpdump -r path flags`` in UTC, one entry per packet (hex-dump continuation lines,
    which start with a tab, joined to their packet's line)."""
    done = subprocess.run([tcpdump, "-r", str(path), *flags], capture_output=True, check=False,
                          env={**os.environ, "TZ": "UTC"})
    text = done.stdout.decode("latin-1")
    packets: list[str] = []
    for line in text.split("\n")[:-1]:
        if line.startswith("\t") and packets:
            packets[-1] += "\n" + line
        else:
            packets.append(line)
    return packets


@dataclass
class Comparison:
    compared: int = 0
    placeholders: int = 0
    mismatches: list[tuple[int, str, str]] = field(default_factory=list)

    def report(self, limit: int = 8) -> str:
        lines = [f"{len(self.mismatches)} of {self.compared} lines differ from tcpdump:"]
        for index, theirs, ours in self.mismatches[:limit]:
            lines += [f"  packet {index + 1}", f"    tcpdump: {theirs}", f"    tcpkit:  {ours}"]
        return "\n".join(lines)


def compare(tcpdump: str, path: Path, formatter: Formatter, *flags: str) -> Comparison:
    """Compare tcpkit's lines for ``path`` with tcpdump's. Lines where tcpkit prints a
    placeholder (a decoder it does not have) are counted, not compared. Run under TZ=UTC."""
    theirs = tcpdump_lines(tcpdump, path, *flags)
    ours = list(formatter.lines(open_capture(path)))
    result = Comparison()
    if len(theirs) != len(ours):
        result.mismatches.append((-1, f"{len(theirs)} packets", f"{len(ours)} packets"))
    for index, (a, b) in enumerate(zip(theirs, ours, strict=False)):
        if PLACEHOLDER in b and a != b:
            result.placeholders += 1
            continue
        result.compared += 1
        if a != b:
            result.mismatches.append((index, a, b))
    return result

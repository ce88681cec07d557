"""Many scripts at once: results per script, a table per folder, the reasons scripts are
UNSUPPORTED with their counts, and the same results beside Linux's (the suite's
LINUX_RESULTS.tsv: each script run 5 times against Linux 6.18 on this kind of machine)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from tcpkit.tools.packetdrill.player import FAIL, PASS, UNSUPPORTED, Result, play_file

LINUX_RESULTS = "LINUX_RESULTS.tsv"


def find_scripts(paths: Iterable[Path]) -> list[Path]:
    """The ``.pkt`` files named, and those under the directories named, in order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.rglob("*.pkt"))
        else:
            found.append(path)
    return found


def suite_root(path: Path) -> Path | None:
    """The directory holding LINUX_RESULTS.tsv at or above ``path``, if any."""
    for candidate in [path, *path.resolve().parents]:
        if (candidate / LINUX_RESULTS).is_file():
            return candidate
    return None


def name_of(path: Path, root: Path | None) -> str:
    """A script's name as LINUX_RESULTS.tsv writes it (relative to the suite root)."""
    if root is not None:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            pass
    return str(path)


def run(scripts: list[Path], root: Path | None,
        progress: Callable[[str, Result], None] | None = None) -> dict[str, Result]:
    results: dict[str, Result] = {}
    for path in scripts:
        name = name_of(path, root)
        result = play_file(path)
        results[name] = result
        if progress is not None:
            progress(name, result)
    return results


def folder_of(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else "."


def folder_table(results: dict[str, Result]) -> str:
    """PASS/FAIL/UNSUPPORTED counts per folder."""
    counts: dict[str, Counter[str]] = {}
    for name, result in results.items():
        counts.setdefault(folder_of(name), Counter())[result.status] += 1
    lines = [f"{'folder':44} {'PASS':>5} {'FAIL':>5} {'UNSUP':>5}"]
    total: Counter[str] = Counter()
    for folder in sorted(counts):
        c = counts[folder]
        total += c
        lines.append(f"{folder:44} {c[PASS]:5} {c[FAIL]:5} {c[UNSUPPORTED]:5}")
    lines.append(f"{'all':44} {total[PASS]:5} {total[FAIL]:5} {total[UNSUPPORTED]:5}")
    return "\n".join(lines)


def unsupported_table(results: dict[str, Result]) -> str:
    """What tcpkit lacks, with how many scripts need it."""
    reasons = Counter(r.message.split("`")[0].strip() for r in results.values()
                      if r.status == UNSUPPORTED)
    return "\n".join(f"{count:5}  {reason}" for reason, count in reasons.most_common())


def ignored_table(results: dict[str, Result]) -> str:
    """The sysctls scripts set that tcpkit does not model, with how many scripts."""
    names = Counter(name for r in results.values() for name in r.ignored)
    return "\n".join(f"{count:5}  {name}" for name, count in names.most_common())


def read_linux_results(root: Path) -> dict[str, tuple[str, str]]:
    """``path -> (result, reason)`` from the suite's LINUX_RESULTS.tsv."""
    table: dict[str, tuple[str, str]] = {}
    for line in (root / LINUX_RESULTS).read_text().splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) >= 2:
            table[fields[0]] = (fields[1], fields[2] if len(fields) > 2 else "")
    return table


def linux_table(results: dict[str, Result], linux: dict[str, tuple[str, str]]) -> str:
    """Per folder: scripts Linux passes here (PASS or FLAKY), and how many of those
    tcpkit passes; then each such script tcpkit does not pass, with why; then the
    scripts Linux fails and tcpkit passes, with Linux's reason."""
    per: dict[str, list[int]] = {}
    missing: list[str] = []
    beyond: list[str] = []
    for name, result in sorted(results.items()):
        verdict, reason = linux.get(name, ("?", ""))
        if verdict not in (PASS, "FLAKY"):
            if result.status == PASS and verdict == FAIL:
                beyond.append(f"  {name}: Linux: {reason}")
            continue
        row = per.setdefault(folder_of(name), [0, 0])
        row[0] += 1
        if result.status == PASS:
            row[1] += 1
        else:
            missing.append(f"  {name}: {result}")
    lines = [f"{'folder':44} {'linux':>5} {'tcpkit':>6}"]
    for folder in sorted(per):
        linux_passes, ours = per[folder]
        lines.append(f"{folder:44} {linux_passes:5} {ours:6}")
    total = [sum(row[i] for row in per.values()) for i in (0, 1)]
    lines.append(f"{'all':44} {total[0]:5} {total[1]:6}")
    if missing:
        lines += ["", "passing on Linux, not on tcpkit:", *missing]
    if beyond:
        # Not targets; each is a place where tcpkit and Linux 6.18 differ, unless the
        # script itself is what is wrong (Linux's reason says which).
        lines += ["", "failing on Linux, passing on tcpkit:", *beyond]
    return "\n".join(lines)


def report_tsv(results: dict[str, Result]) -> str:
    lines = ["path\ttcpkit\tline\tdetail"]
    for name, result in sorted(results.items()):
        detail = result.message.replace("\t", " ").replace("\n", " ")
        lines.append(f"{name}\t{result.status}\t{result.line or ''}\t{detail}")
    return "\n".join(lines) + "\n"

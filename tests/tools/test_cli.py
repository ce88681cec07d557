"""The ``tcpkit`` command line: trace, demo, bench, and how each handles bad input."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tcpkit.wire.capture import LINKTYPE_RAW
from tcpkit.wire.pcap import PcapWriter
from tests.conftest import require_tool
from tests.wire import packetgen as gen
from tests.wire.oracle import tcpdump_lines

ENV = {**os.environ, "TZ": "UTC"}


def tcpkit(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "tcpkit", *args], capture_output=True,
                          input=stdin, env=ENV, check=False, timeout=120)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("latin-1"), done.stderr.decode())


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    rng = random.Random(11)
    path = tmp_path / "mixed.pcap"
    with PcapWriter(path, LINKTYPE_RAW) as writer:
        for i in range(300):
            writer.write_ns(gen.ipv4_packet(rng) if i % 3 else gen.ipv6_packet(rng),
                            1_700_000_000_000_000_000 + i * 7_654_321)
    return path


@pytest.mark.parametrize("flags", [(), ("-S",), ("-tt",), ("-ttttt",), ("-t", "--nano")])
def test_trace_prints_what_tcpdump_prints(capture: Path, flags: tuple[str, ...]) -> None:
    tcpdump = require_tool("tcpdump")
    done = tcpkit("trace", str(capture), *flags)
    assert done.returncode == 0, done.stderr
    # tcpdump's multi-line hex dumps come back as one entry each, as do ours.
    ours = done.stdout.replace("\n\t", "\t\t").split("\n")[:-1]
    theirs = [line.replace("\n\t", "\t\t")
              for line in tcpdump_lines(tcpdump, capture, "-n", *flags)]
    assert len(ours) == len(theirs) == 300
    compared = [(t, o) for t, o in zip(theirs, ours, strict=True) if "[tcpkit:" not in o]
    assert len(compared) > 200
    assert [o for _, o in compared] == [t for t, _ in compared]


def test_trace_reads_standard_input_and_stops_after_count(capture: Path) -> None:
    whole = tcpkit("trace", str(capture)).stdout.splitlines()
    piped = tcpkit("trace", "-", "-c", "5", stdin=capture.read_bytes())
    assert piped.returncode == 0 and piped.stdout.splitlines() == whole[:5]


def test_trace_of_a_missing_file() -> None:
    done = tcpkit("trace", "/nonexistent/x.pcap")
    assert done.returncode == 1
    assert "No such file or directory" in done.stderr and "Traceback" not in done.stderr


def test_trace_of_a_cut_file_prints_what_it_can_then_says_why(capture: Path,
                                                             tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(capture.read_bytes()[:-7])
    done = tcpkit("trace", str(cut))
    assert done.returncode == 1
    assert len(done.stdout.splitlines()) == 299
    assert "truncated record" in done.stderr and "Traceback" not in done.stderr


def test_trace_of_a_file_that_is_no_capture(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a pcap\n")
    done = tcpkit("trace", str(text))
    assert done.returncode == 1 and "not a pcap or pcapng file" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("trace",), "the following arguments are required: file"),
        (("trace", "x.pcap", "-c", "0"), "must be positive"),
        (("trace", "x.pcap", "-c", "many"), "not a number"),
        (("trace", "x.pcap", "--bogus"), "unrecognized arguments"),
        (("frobnicate",), "invalid choice"),
        ((), "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    done = tcpkit(*args)
    assert done.returncode == 2
    assert message in done.stderr


def test_too_many_t(capture: Path) -> None:
    done = tcpkit("trace", str(capture), "-tttttt")
    assert done.returncode == 2 and "at most five -t" in done.stderr


def test_help_and_version() -> None:
    assert tcpkit("--help").returncode == 0
    assert "tcpdump -n -r" in tcpkit("trace", "--help").stdout
    assert tcpkit("--version").stdout.startswith("tcpkit ")


def test_a_closed_pipe_ends_quietly(capture: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tcpkit", "trace", str(capture)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    assert proc.stdout is not None
    proc.stdout.readline()
    proc.stdout.close()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"Traceback" not in err


def test_demo_and_its_pcap_read_back_by_tcpdump(tmp_path: Path) -> None:
    done = tcpkit("demo", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if " IP " in line]
    assert "Flags [S], seq" in lines[0] and "Flags [S.]" in lines[1]
    assert any("Flags [R.]" in line for line in lines)
    assert "sock1.recv(4096) -> ECONNRESET" in done.stdout
    assert f"Wrote the capture to {tmp_path / 'demo.pcap'}" in done.stdout
    tcpdump = require_tool("tcpdump")
    assert tcpdump_lines(tcpdump, tmp_path / "demo.pcap", "-n", "-ttttt") == lines
    svg = ElementTree.parse(tmp_path / "demo.svg").getroot()  # well-formed XML
    texts = "".join(svg.itertext())
    assert "ECONNRESET" in texts and "R. " in texts


def test_demo_reports_an_unwritable_pcap(tmp_path: Path) -> None:
    done = tcpkit("demo", "--pcap", "/nonexistent/dir/demo.pcap", "--svg",
                  str(tmp_path / "demo.svg"))
    assert done.returncode == 1 and "cannot write the capture" in done.stderr
    done = tcpkit("demo", "--out", "/proc/no/such/dir")
    assert done.returncode == 1 and "cannot create" in done.stderr


def test_bench_runs_and_refuses_unknown_suites() -> None:
    done = tcpkit("bench", "--quick")
    assert done.returncode == 0, done.stderr
    assert "checksum" in done.stdout and "parse TCP/IPv4" in done.stdout
    if os.geteuid() == 0:  # the TUN suite: both directions, both modes, and the kernel's
        assert done.stdout.count("x kernel<->kernel") == 4, done.stdout
        assert "tcpkit -> kernel, offload (64 KB GSO)" in done.stdout
    else:
        assert "tun: needs root" in done.stdout
    bad = tcpkit("bench", "nonsense")
    assert bad.returncode == 2 and "no suite named nonsense" in bad.stderr

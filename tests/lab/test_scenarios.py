"""The failure lab: every scenario the kernel can play is played by both in the same run
and must agree (each program's calls and results, each side's segments); the others must
say why. Plus determinism, the catalogue's wall time, and the command line."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tcpkit.lab import scenarios  # noqa: F401 (registers the catalogue)
from tcpkit.lab.run import compare, run_kernel, run_sim
from tcpkit.lab.scenario import CATALOGUE, Scenario
from tcpkit.tools.scenario import verify
from tests.conftest import require_root, require_tool
from tests.tools.test_cli import tcpkit
from tests.wire.oracle import tcpdump_lines

ALL = list(CATALOGUE.values())


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.name)
def test_tcpkit_tells_it_as_the_kernel_does(scenario: Scenario) -> None:
    if scenario.kernel_cannot:
        assert len(scenario.kernel_cannot) > 20, "say why the kernel cannot play it"
        assert run_sim(scenario).calls
        return
    require_root()
    for tool in ("ip", "nft", "tcpdump"):
        require_tool(tool)
    kernel = run_kernel(scenario)
    ours = run_sim(scenario)
    assert kernel.calls, "the kernel's run must have happened"
    difference = compare(kernel, ours)
    if scenario.known_difference:
        assert difference is not None, "marked as differing but matches: remove the mark"
    else:
        assert difference is None


@pytest.mark.parametrize("name, knobs", [("five-primes", {"fix": 1}),
                                         ("five-primes", {"count": 5, "nonprime_at": 2}),
                                         ("rst-close-unread", {"read": 100}),
                                         ("path-mtu", {"mtu": 500}),
                                         ("client-leaves", {"read": 1}),
                                         ("nonblocking-connect", {"listening": 0}),
                                         ("time-wait-eaddrinuse", {"reuseaddr": 1}),
                                         ("port-exhaustion", {"tw_reuse": 1}),
                                         ("close-wait-leak", {"fix": 1}),
                                         ("client-vanishes", {"keepalive": 1}),
                                         ("client-vanishes", {"reply": 1}),
                                         ("server-host-dies", {"reboot": 500}),
                                         ("http-400-unread-body", {"drain": 1}),
                                         ("syn-flood", {"cookies": 1}),
                                         ("rebooting-device", {"heartbeat": 1}),
                                         ("lossy-transfer", {"lost": 0}),
                                         ("lossy-transfer", {"times": 2}),
                                         ("lossy-transfer", {"lost": 9, "times": 3})])
def test_knobs_change_the_story_alike(name: str, knobs: dict[str, int]) -> None:
    require_root()
    for tool in ("ip", "nft", "tcpdump"):
        require_tool(tool)
    scenario = CATALOGUE[name]
    assert compare(run_kernel(scenario, knobs), run_sim(scenario, knobs)) is None


def test_same_seed_same_bytes() -> None:
    for scenario in ALL:
        first, second = run_sim(scenario, seed=7), run_sim(scenario, seed=7)
        assert first.pcap == second.pcap and first.calls == second.calls
        assert first.states == second.states


def test_the_catalogue_runs_in_seconds() -> None:
    start = time.perf_counter()
    for scenario in ALL:
        run_sim(scenario)
    elapsed = time.perf_counter() - start
    print(f"\n{len(ALL)} scenarios in {elapsed:.2f} s of wall time")


def test_unknown_knobs_are_refused() -> None:
    with pytest.raises(ValueError, match="no knob 'speed'"):
        CATALOGUE["five-primes"].settings({"speed": 3})


def test_run_prints_calls_trace_states_and_explanation(tmp_path: Path) -> None:
    path = tmp_path / "primes.pcap"
    done = tcpkit("scenario", "run", "five-primes", "--pcap", str(path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "sock1.recv(100) -> ECONNRESET" in out
    assert "close() with 4 unread bytes: RST, not FIN" in out
    assert "try --set fix=1" in out
    lines = [line for line in out.splitlines() if " IP " in line]
    tcpdump = require_tool("tcpdump")
    assert tcpdump_lines(tcpdump, path, "-n", "-ttttt") == lines
    fixed = tcpkit("scenario", "run", "five-primes", "--set", "fix=1").stdout
    assert "ECONNRESET" not in fixed and "-> b''" in fixed


@pytest.mark.parametrize("args, message", [
    (("run", "nope"), "no scenario named 'nope'"),
    (("run", "five-primes", "--set", "fix"), "KNOB=VALUE"),
    (("run", "five-primes", "--set", "fix=yes"), "takes an integer"),
    (("run", "five-primes", "--set", "speed=1"), "no knob 'speed'"),
    (("run", "lossy-transfer", "--set", "times=0"), "knob times must be in 1..3, not 0"),
    (("run", "lossy-transfer", "--set", "lost=13"), "knob lost must be in 0..12, not 13"),
    (("verify",), "name scenarios, or --all"),
])
def test_bad_arguments_get_clear_errors(args: tuple[str, ...], message: str) -> None:
    done = tcpkit("scenario", *args)
    assert done.returncode != 0 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_list_and_show() -> None:
    listing = tcpkit("scenario", "list").stdout
    assert all(s.name in listing for s in ALL)
    shown = tcpkit("scenario", "show", "five-primes").stdout
    assert "nonprime_at=0" in shown and "004" in shown


def test_verify_reports_a_stale_mark_and_prints_a_table() -> None:
    require_root()
    for tool in ("ip", "nft", "tcpdump"):
        require_tool(tool)
    marked = dataclasses.replace(CATALOGUE["connect-refused"], known_difference="a test")
    assert verify(marked)[0] == "STALE"  # the mark must go once tcpkit matches
    done = tcpkit("scenario", "verify", "connect-refused", "keepalive-defaults")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[1:3]}
    assert rows == {"connect-refused": "match", "keepalive-defaults": "simulator"}


def test_ladder_diagram_draws_every_call_and_segment(tmp_path: Path) -> None:
    path = tmp_path / "ladder.svg"
    done = tcpkit("scenario", "run", "server-host-dies", "--set", "reboot=500",
                  "--svg", str(path))
    assert done.returncode == 0, done.stderr
    outcome = run_sim(CATALOGUE["server-host-dies"], {"reboot": 500})
    svg = ElementTree.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    texts = ["".join(t.itertext()) for t in svg.iter(f"{ns}text")]
    arrows = [line for line in svg.iter(f"{ns}line") if line.get("class") != "life"]
    assert len(arrows) == len(outcome.segments())
    for call in outcome.calls:
        result = "" if call.actor == "network" else call.result  # faults: no result
        assert any(result in text and call.call[:12] in text for text in texts), call
    assert any("reboots" in text for text in texts)
    assert any(a.get("class") == "rst" for a in arrows)  # the reboot's RST, in red


def test_explain_names_meaning_advice_and_the_scenarios() -> None:
    done = tcpkit("explain", "ConnectionResetError")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ECONNRESET (104): Connection reset by peer")
    assert "rst-close-unread" in done.stdout and "What to do:" in done.stdout
    assert "  write-after-rst" in tcpkit("explain", "32").stdout  # EPIPE, by number
    assert "EAGAIN (11)" in tcpkit("explain", "EWOULDBLOCK").stdout
    bad = tcpkit("explain", "ENOENT")
    assert bad.returncode == 2 and "knows no socket error 'ENOENT'" in bad.stderr
    listed = tcpkit("explain", "--list").stdout.split()
    assert {"ECONNRESET", "EPIPE", "ETIMEDOUT", "EADDRINUSE", "EINPROGRESS"} <= set(listed)


def test_netstat_lists_sockets_at_a_moment() -> None:
    done = tcpkit("netstat", "close-wait-leak", "--at", "0.2")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.startswith(("c", "s"))]
    assert [r[1] for r in rows if r[0] == "server"].count("CLOSE-WAIT") == 3
    assert [r[1] for r in rows if r[0] == "client"].count("FIN-WAIT-2") == 3
    late = tcpkit("netstat", "close-wait-leak", "--at", "99999").stdout
    assert "the story was over by then" in late
    for args, message in ((["--at", "-1"], ">= 0"), (["--every", "0"], "positive"),
                          ([], "say when"), (["--every", "0.000001"], "larger step")):
        bad = tcpkit("netstat", "close-wait-leak", *args)
        assert bad.returncode == 2 and message in bad.stderr, (args, bad.stderr)

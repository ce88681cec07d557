"""The failure lab: every scenario the kernel can play is played by both in the same run
and must agree (each program's calls and results, each side's segments); the others must
say why. Plus determinism, the catalogue's wall time, and the command line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tcpkit.lab import scenarios  # noqa: F401 (registers the catalogue)
from tcpkit.lab.run import compare, run_kernel, run_sim
from tcpkit.lab.scenario import CATALOGUE, Scenario
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
    assert compare(kernel, ours) is None


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
                                         ("server-host-dies", {"reboot": 500})])
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
    assert "sock2.recv(100) -> ECONNRESET" in out
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

"""The lab's stories told across a real TUN device: tcpkit on one side, the Linux kernel on
the other, in real time. Each story that makes sense there is played once with tcpkit as
the client and once as the server, and every program's calls must return what they
return on tcpkit's simulated network (which test_scenarios holds to the kernel's own
run). The stories that need what a TUN device cannot give (a router, forged or chosen
lost packets, ARP) must say so."""

from __future__ import annotations

import pytest

from tcpkit.lab import scenarios  # noqa: F401 (registers the catalogue)
from tcpkit.lab.run import compare_calls, run_sim, run_tun
from tcpkit.lab.scenario import CATALOGUE, Scenario
from tcpkit.lab.tun_world import NotInThisWorld
from tests.conftest import require_root, require_tool

# What each of these needs and a TUN device lacks; any other story must run.
NOT_ACROSS_TUN = {
    "syn-flood": "a route through a third host",
    "old-duplicate-syn": "forged packets",
    "lossy-transfer": "losing chosen datagrams",
    "dead-neighbour": "ARP",
    "client-vanishes": "a router",
    "fin-wait-1-pileup": "a router",
    "simultaneous-open": "a router",
    "simultaneous-close": "a router",
    "path-mtu": "a router",
}

PLAYABLE = [s for s in CATALOGUE.values() if not s.kernel_cannot]


@pytest.mark.parametrize("side", ["a", "b"], ids=["tcpkit-client", "tcpkit-server"])
@pytest.mark.parametrize("scenario", PLAYABLE, ids=lambda s: s.name)
def test_the_story_across_tun_matches(scenario: Scenario, side: str) -> None:
    require_root()
    require_tool("tcpdump")
    if scenario.name in NOT_ACROSS_TUN:
        with pytest.raises(NotInThisWorld, match=NOT_ACROSS_TUN[scenario.name]):
            run_tun(scenario, side)
        return
    ours = run_tun(scenario, side)
    assert ours.calls, "the story's programs must have run"
    difference = compare_calls(run_sim(scenario), ours)
    if scenario.known_difference:
        # Marked as timing-dependent against the kernel (the reader's merges): told,
        # not asserted, as verify does.
        print(f"{scenario.name}, tcpkit on {side}: {difference or 'same calls'}")
        return
    assert difference is None

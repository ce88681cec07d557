"""Failure stories with two hosts and a cable, told by the kernel (network namespaces,
real time) and by tcpkit (the simulated network, virtual time) in the same run: the same
return values and errno, and the slow calls take as long (within the kernel's timer-wheel
slack and its threads' scheduling)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tcpkit.lab.worlds import KernelWorld, SimWorld, World
from tests.conftest import require_root, require_tool
from tests.socket import fault_stories

Story = Callable[[World], fault_stories.Told]


def tell(world: KernelWorld | SimWorld, story: Story) -> fault_stories.Told:
    try:
        return story(world)
    finally:
        world.close()


def close_enough(kernel: float, ours: float) -> bool:
    """A jiffy (4 ms) of phase per timer, thread wake-ups, and Linux's timer wheel which
    fires a timer up to 1/8 of its length late."""
    return abs(kernel - ours) <= 0.05 + 0.13 * kernel


@pytest.mark.parametrize("story", fault_stories.STORIES, ids=lambda s: s.__name__)
def test_same_as_kernel(story: Story) -> None:
    require_root()
    require_tool("ip")
    require_tool("nft")
    kernel_seen, kernel_times = tell(KernelWorld(), story)
    ours_seen, ours_times = tell(SimWorld(), story)
    assert ours_seen == kernel_seen, f"kernel observed {kernel_seen}, tcpkit {ours_seen}"
    assert ours_times.keys() == kernel_times.keys()
    for name, kernel in kernel_times.items():
        assert close_enough(kernel, ours_times[name]), \
            f"{name}: kernel took {kernel:.3f} s, tcpkit {ours_times[name]:.3f} s"

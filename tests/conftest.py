"""Shared fixtures: external tools, root, network namespaces, captures.

Tests that need root, namespaces or a tool (tcpdump, tshark, ...) skip elsewhere with the
reason printed (pytest -ra shows it), but never under ``CI=true``: there a missing
requirement is a failure, because CI is where they must run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcpkit.lab.netns import Namespace, VethPair
from tcpkit.links.sim import Link, Network
from tcpkit.stack import Host


def two_hosts(net: Network, **link: object) -> tuple[Host, Host, Link]:
    """Hosts a (192.0.2.1) and b (192.0.2.2) on one simulated cable of 1 ms."""
    a = net.add_host("a", "192.0.2.1/24")
    b = net.add_host("b", "192.0.2.2/24")
    return a, b, net.link(a, b, delay=0.001, **link)  # type: ignore[arg-type]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this test must run in CI)")
    pytest.skip(reason)


def require_tool(name: str) -> str:
    """The path of an external tool, or skip (fail under CI) with the reason."""
    path = shutil.which(name)
    if path is None:
        _unavailable(f"{name} is not installed (make test installs it when run as root)")
    assert path is not None
    return path


def require_packetdrill_suite() -> Path:
    """Google's packetdrill scripts (read-only data beside the repository, never copied
    into it; TCPKIT_PACKETDRILL points elsewhere), or skip (fail under CI)."""
    default = Path(__file__).resolve().parents[2] / "shared" / "packetdrill"
    root = Path(os.environ.get("TCPKIT_PACKETDRILL", default))
    if not (root / "gtests").is_dir():
        _unavailable(f"the packetdrill scripts are not at {root} (set TCPKIT_PACKETDRILL)")
    return root


def require_root() -> None:
    if os.geteuid() != 0:
        _unavailable("needs root for network namespaces")


@pytest.fixture
def tcpdump() -> str:
    return require_tool("tcpdump")


@pytest.fixture
def tshark() -> str:
    return require_tool("tshark")


@pytest.fixture
def utc() -> Iterator[None]:
    """Run with TZ=UTC so tcpdump (a child) and tcpkit print the same local time."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.fixture
def veth_pair() -> Iterator[VethPair]:
    """Two namespaces joined by a veth pair, 192.0.2.1 and 192.0.2.2 (and 2001:db8::1/2),
    with checksum offload off so captured packets carry the checksums the kernel computed."""
    require_root()
    require_tool("ip")
    require_tool("ethtool")
    pair = VethPair.create()
    try:
        yield pair
    finally:
        pair.delete()


@pytest.fixture
def netns() -> Iterator[Namespace]:
    require_root()
    require_tool("ip")
    ns = Namespace.create()
    try:
        yield ns
    finally:
        ns.delete()

"""Host sysctls: values are checked as Linux's proc handlers check them; a bad one is a
ValueError (Linux: EINVAL) and the setting keeps its value."""

from __future__ import annotations

import pytest

from tcpkit.stack import Sysctls


def test_congestion_control_must_be_one_tcpkit_has() -> None:
    """A packetdrill defaults.sh asks for cubic; tcpkit has reno only: refused at once,
    not later when a connection is made with it."""
    sysctls = Sysctls()
    with pytest.raises(ValueError, match="tcp_congestion_control: invalid value 'cubic'"):
        sysctls["net.ipv4.tcp_congestion_control"] = "cubic"
    assert sysctls["net.ipv4.tcp_congestion_control"] == "reno"
    sysctls["net.ipv4.tcp_congestion_control"] = "newreno"
    assert sysctls["net.ipv4.tcp_congestion_control"] == "newreno"


@pytest.mark.parametrize("name, value", [
    ("net.ipv4.tcp_rmem", "4096 87380"),
    ("net.ipv4.tcp_recovery", "-1"),
    ("net.ipv4.tcp_min_rtt_wlen", "soon"),
])
def test_bad_values_are_refused(name: str, value: str) -> None:
    sysctls = Sysctls()
    before = sysctls[name]
    with pytest.raises(ValueError, match=name):
        sysctls[name] = value
    assert sysctls[name] == before

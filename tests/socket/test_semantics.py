"""The socket-semantics suite: every story runs on the kernel (the stdlib socket module
on loopback) and on tcpkit (``tcpkit.socket`` on a real-time loopback host) in the same
run, and both must observe the same return values and errno."""

from __future__ import annotations

import socket as stdlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tcpkit.socket
from tcpkit.socket import runtime
from tcpkit.stack import Host, Sysctls
from tests.socket import semantics

# Host settings tcpkit takes from the kernel it is compared with (measured, not assumed).
MEASURED_SYSCTLS = ["net.core.rmem_max", "net.core.wmem_max", "net.ipv4.tcp_rmem",
                    "net.ipv4.tcp_wmem", "net.core.somaxconn", "net.ipv4.tcp_syncookies",
                    "net.ipv4.tcp_tw_reuse", "net.ipv4.ip_local_port_range"]


def kernel_sysctls() -> Sysctls:
    sysctls = Sysctls()
    for name in MEASURED_SYSCTLS:
        text = (Path("/proc/sys") / name.replace(".", "/")).read_text()
        sysctls[name] = text.split() if "\t" in text else text.strip()
    return sysctls


def run_on_tcpkit(story: Callable[[ModuleType], Any]) -> Any:
    rt = runtime.RealTimeRuntime()
    host = rt.add_host(Host("tcpkit", sysctl=kernel_sysctls()))
    token = runtime.use(rt, host)
    try:
        return story(tcpkit.socket)
    finally:
        runtime._current.reset(token)
        rt.stop()


@pytest.mark.parametrize("story", semantics.STORIES, ids=lambda s: s.__name__)
def test_same_as_kernel(story: Callable[[ModuleType], Any]) -> None:
    kernel = story(stdlib)
    ours = run_on_tcpkit(story)
    assert ours == kernel, f"kernel observed {kernel}, tcpkit {ours}"

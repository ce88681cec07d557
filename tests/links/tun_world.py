"""A tcpkit host behind a TUN device and the kernel in the namespace on the other side,
for tests: the kernel's programs are Python scripts run in the namespace, which print
one JSON line of what they saw."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tcpkit.links.netns import TunNamespace
from tcpkit.links.tun import TunHost
from tcpkit.socket import runtime as socket_runtime

KERNEL = "192.0.2.1"
TCPKIT = "192.0.2.2"

# Prepended to every kernel-side script.
PRELUDE = """
import errno, hashlib, json, os, socket, struct, sys, time
def report(**kw):
    print(json.dumps(kw), flush=True)
def pattern(n):
    block = bytes(range(256)) * 4096
    return (block * (n // len(block) + 1))[:n]
"""


class Kernel:
    """A script running on the kernel's side; a thread collects what it prints."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            self._lines.put(text)
        self._lines.put(None)

    def line(self, timeout: float = 60) -> dict[str, Any]:
        """The next JSON line it prints (its stderr if it died instead)."""
        try:
            text = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            raise TimeoutError(f"kernel side said nothing in {timeout} s") from None
        if text is None:
            self.process.wait(10)
            err = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"kernel side ended: {err}")
        result: dict[str, Any] = json.loads(text)
        return result


class TunWorld:
    def __init__(self, name: str, *, offload: bool = True, mtu: int = 1500) -> None:
        self.tun = TunHost(TunNamespace(name, mtu=mtu), address=f"{TCPKIT}/24",
                           offload=offload)
        self.ns, self.device = self.tun.namespace, self.tun.device
        self.runtime, self.host, self.link = self.tun.runtime, self.tun.host, self.tun.link
        self._kernels: list[Kernel] = []

    def kernel(self, script: str, *args: str) -> Kernel:
        code = PRELUDE + textwrap.dedent(script)
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.ns.name, sys.executable, "-c", code, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        kernel = Kernel(process)
        self._kernels.append(kernel)
        return kernel

    def sysctl(self, name: str, value: object) -> None:
        subprocess.run(["ip", "netns", "exec", self.ns.name, "sysctl", "-qw",
                        f"{name}={value}"], check=True)

    def close(self) -> None:
        for kernel in self._kernels:
            if kernel.process.poll() is None:
                kernel.process.kill()
                kernel.process.wait()
            for stream in (kernel.process.stdout, kernel.process.stderr):
                if stream is not None:
                    stream.close()
        self.tun.close()


_count = iter(range(1 << 30))


@contextmanager
def tun_world(*, offload: bool = True, mtu: int = 1500) -> Iterator[TunWorld]:
    """A fresh namespace and host; tcpkit.socket makes sockets on that host."""
    world = TunWorld(f"tkt{os.getpid()}n{next(_count)}", offload=offload, mtu=mtu)
    try:
        with socket_runtime.using(world.runtime, world.host):
            yield world
    finally:
        world.close()

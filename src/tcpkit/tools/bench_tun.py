"""The TUN suite: one bulk TCP connection between tcpkit and the Linux kernel over a TUN
device, each direction, with the virtio-net offloads (64 KB super-segments, no checksums
in Python) and without (one 1500-byte packet per segment), beside the kernel talking to
itself over a veth pair (with and without TSO/GSO/GRO) in the same run. Both ends of
every transfer are Python programs moving 1 MiB writes, so the application costs the
same everywhere; figures are Gbit/s of payload at the receiver and tcpkit's ratio to
the kernel's. Needs root (namespaces); elsewhere it says so and measures nothing.

``--profile`` (``tcpkit bench tun --profile``) runs tcpkit's threads under cProfile and
prints where the time goes.
"""

from __future__ import annotations

import contextvars
import cProfile
import io
import os
import pstats
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from tcpkit.lab.netns import Namespace, VethPair
from tcpkit.links.netns import TunNamespace
from tcpkit.links.tun import TunHost
from tcpkit.socket import runtime as socket_runtime

KERNEL = "192.0.2.1"
TCPKIT = "192.0.2.2"
PORT = 5201
BLOCK = 1 << 20

SENDER = """
import socket, sys, time
host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((host, port))
data = bytes(range(256)) * 4096
for _ in range(size >> 20):
    s.sendall(data)
s.close()
"""

RECEIVER = """
import socket, sys, time
listener = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
conn, _ = listener.accept()
buf = bytearray(1 << 20)
total, start = 0, None
while n := conn.recv_into(buf):
    if start is None:
        start = time.monotonic()
    total += n
print(total, time.monotonic() - start, flush=True)
"""


def _gbits(nbytes: int, seconds: float) -> float:
    return nbytes * 8 / seconds / 1e9


def _kernel_receiver(ns: Namespace | TunNamespace, address: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable, "-c",
                                RECEIVER, address, str(PORT)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    process.stdout.readline()
    return process


def _receiver_result(process: subprocess.Popen[str]) -> tuple[int, float]:
    out, _ = process.communicate(timeout=300)
    total, seconds = out.split()
    return int(total), float(seconds)


def kernel_over_veth(size: int, offload: bool) -> float:
    """Gbit/s between two kernel namespaces over veth."""
    pair = VethPair.create()
    try:
        for ns, ifname in ((pair.a, pair.a_if), (pair.b, pair.b_if)):
            setting = "on" if offload else "off"
            subprocess.run(ns.exec("ethtool", "-K", ifname, "tx", setting, "tso", setting,
                                   "gso", setting, "gro", setting),
                           check=True, capture_output=True)
        receiver = _kernel_receiver(pair.b, pair.b_addr)
        subprocess.run(pair.a.exec(sys.executable, "-c", SENDER, pair.b_addr, str(PORT),
                                   str(size)), check=True, timeout=300)
        total, seconds = _receiver_result(receiver)
        return _gbits(total, seconds)
    finally:
        pair.delete()


class _Profiles:
    """cProfile in each thread that runs tcpkit code, merged at the end."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def wrap(self, function: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            profile = cProfile.Profile()
            with self._lock:
                self.profiles.append(profile)
            profile.runcall(function)
        return run

    def report(self, limit: int = 25) -> list[str]:
        if not self.profiles:
            return []
        out = io.StringIO()
        stats = pstats.Stats(self.profiles[0], stream=out)
        for profile in self.profiles[1:]:
            stats.add(profile)
        stats.sort_stats("tottime").print_stats(limit)
        return out.getvalue().splitlines()


def tcpkit_over_tun(size: int, offload: bool, to_tcpkit: bool,
                    profiles: _Profiles | None = None) -> tuple[float, bool, str]:
    """Gbit/s of one bulk transfer between the kernel and tcpkit over TUN, whether the
    device took the offloads, and how tcpkit wrote to it (:attr:`TunLink.writes`)."""
    tun = TunHost(TunNamespace(f"tkb{os.getpid()}"), address=f"{TCPKIT}/24",
                  offload=offload, wrap=profiles.wrap if profiles else None)
    ns, runtime, host, device = tun.namespace, tun.runtime, tun.host, tun.device
    result: list[float] = []
    try:
        with socket_runtime.using(runtime, host):
            import tcpkit.socket as tsocket  # noqa: PLC0415

            if to_tcpkit:
                listener = tsocket.create_server((TCPKIT, PORT))
                sender = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable,
                                           "-c", SENDER, TCPKIT, str(PORT), str(size)])

                def receive() -> None:
                    conn, _ = listener.accept()
                    buf = bytearray(BLOCK)
                    total = conn.recv_into(buf)
                    start = time.monotonic()
                    while n := conn.recv_into(buf):
                        total += n
                    result.append(_gbits(total, time.monotonic() - start))
                    conn.close()

                _run_app(receive, profiles)
                sender.wait(300)
                listener.close()
                return result[0], device.offload, tun.link.writes
            receiver = _kernel_receiver(ns, KERNEL)

            def send() -> None:
                data = bytes(range(256)) * 4096
                with tsocket.create_connection((KERNEL, PORT)) as conn:
                    for _ in range(size >> 20):
                        conn.sendall(data)

            try:
                _run_app(send, profiles)
            except BaseException:
                receiver.kill()
                receiver.wait()
                raise
            total, seconds = _receiver_result(receiver)
            return _gbits(total, seconds), device.offload, tun.link.writes
    finally:
        tun.close()


def _run_app(function: Callable[[], None], profiles: _Profiles | None) -> None:
    """The application in its own thread (as the reader and timer threads are), with
    the caller's current tcpkit host; its exception, if any, is raised here."""
    failed: list[BaseException] = []
    context = contextvars.copy_context()

    def run() -> None:
        try:
            context.run(function)
        except BaseException as exc:  # re-raised in the caller
            failed.append(exc)

    thread = threading.Thread(target=profiles.wrap(run) if profiles else run)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def run_suite(quick: bool, profile: bool = False) -> list[str]:
    if os.geteuid() != 0:
        return ["tun: needs root (network namespaces and TUN); nothing measured"]
    big, small = (64 << 20, 16 << 20) if quick else (1 << 30, 256 << 20)
    lines = []
    veth = {True: kernel_over_veth(big, True), False: kernel_over_veth(small, False)}
    lines.append(f"kernel <-> kernel over veth, TSO/GSO/GRO on:  {veth[True]:6.2f} Gbit/s")
    lines.append(f"kernel <-> kernel over veth, offloads off:    {veth[False]:6.2f} Gbit/s")
    writes = set()
    for offload in (True, False):
        size = big if offload else small
        for to_tcpkit in (True, False):
            profiles = _Profiles() if profile else None
            rate, took, how = tcpkit_over_tun(size, offload, to_tcpkit, profiles)
            writes.add(how)
            direction = "kernel -> tcpkit" if to_tcpkit else "tcpkit -> kernel"
            mode = "offload (64 KB GSO)" if took else "no offload, MTU 1500"
            lines.append(f"{direction}, {mode:21}: {rate:6.2f} Gbit/s = "
                         f"{rate / veth[offload]:.3f} x kernel<->kernel ({size >> 20} MiB)")
            if profiles:
                lines.append(f"-- profile: {direction}, {mode} --")
                lines.extend(profiles.report())
    lines.append(f"tcpkit's writes to the device: {', '.join(sorted(writes))}")
    return lines

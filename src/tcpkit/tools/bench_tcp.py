"""The TCP suite: a bulk transfer between two engines in memory, CPU-bound, MSS 1460.

Three figures for the same transfer, measured in the same run:

* **engine**: two :class:`~tcpkit.tcp.connection.Connection` objects handing segments
  to each other directly (a 100 µs virtual round trip), the application writing 64 KB
  at a time and reading everything as it arrives: the engine's own cost;
* **simulation**: the same through :class:`~tcpkit.links.pair.EnginePair` (event heap,
  wire log, fault hook), as tests and the lab run it;
* **floor**: building and handing over one ``TCPSegment`` object per segment the engine
  sent, the least any Python stack of this shape could do;

and, as the reference, the Linux kernel moving the same bytes over loopback between two
Python sockets. Figures: segments per second (both directions, ACKs included), data
segments per second and MB/s of payload, with ratios to the floor and the kernel.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

from tcpkit.links.pair import CLIENT, SERVER, EnginePair
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.isn import HostSecrets
from tcpkit.tcp.state import State
from tcpkit.wire.tcp import ACK, TCPSegment
from tcpkit.wire.tcp_options import NOP, Timestamps

STEP = 0.0001  # virtual seconds per exchange round: a 100 µs round trip


def _config() -> ConnectionConfig:
    # Buffers as large as an autotuned Linux would allow, so that the window, not the
    # socket buffer, paces the transfer.
    return ConnectionConfig(sndbuf=4 << 20, rcvbuf=4 << 20, wmem_max=8 << 20,
                            rmem_max=8 << 20)


def engine_transfer(total: int) -> tuple[float, int, int]:
    """Seconds, segments (both ways) and data segments to move ``total`` bytes."""
    a = Connection(CLIENT, SERVER, _config(), HostSecrets(b"a" * 32))
    b = Connection(SERVER, CLIENT, _config(), HostSecrets(b"b" * 32))
    now = 0.0
    b.listen()
    a.connect(now)
    while a.state is not State.ESTABLISHED or b.state is not State.ESTABLISHED:
        for seg in a.segments_to_send():
            b.on_segment(seg, now)
        for seg in b.segments_to_send():
            a.on_segment(seg, now)
        now += STEP
    view = memoryview(bytes(range(256)) * 256)  # 64 KB writes
    sent = received = segments = data_segments = 0
    start = time.perf_counter()
    while received < total:
        while sent < total and a.send_space:
            with contextlib.suppress(BlockingIOError):
                sent += a.send(view[: min(len(view), total - sent)], now)
        out = a.segments_to_send()
        segments += len(out)
        for seg in out:
            if seg.payload:
                data_segments += 1
            b.on_segment(seg, now)
        while b.readable:
            received += len(b.receive(1 << 20, now))
        back = b.segments_to_send()
        segments += len(back)
        for seg in back:
            a.on_segment(seg, now)
        now += STEP
        for conn in (a, b):
            deadline = conn.next_deadline()
            if deadline is not None and deadline <= now:
                conn.on_timer(now)
        a.events.clear()
        b.events.clear()
    return time.perf_counter() - start, segments, data_segments


def simulation_transfer(total: int) -> tuple[float, int, int]:
    pair = EnginePair(_config(), _config(), delay=STEP / 2)
    pair.connect()
    first = len(pair.log)
    data = bytes(range(256)) * (total // 256 + 1)
    start = time.perf_counter()
    got = pair.transfer(data[:total], close=False)
    elapsed = time.perf_counter() - start
    assert len(got) == total
    records = pair.log[first:]
    return elapsed, len(records), sum(1 for r in records if r.segment.payload)


def floor(segments: int, data_segments: int) -> float:
    """Seconds to build and hand over as many segment objects as the engine sent."""
    payload = b"x" * 1448
    stamp = Timestamps(1, 2)
    sink: list[TCPSegment] = []
    start = time.perf_counter()
    for i in range(segments):
        sink.append(TCPSegment(40000, 80, i, i, ACK, 502, 0, (NOP, NOP, stamp),
                               payload if i < data_segments else b""))
        if len(sink) > 64:
            sink.clear()
    return time.perf_counter() - start


def kernel_transfer(total: int) -> float | None:
    """Seconds for Linux to move ``total`` bytes over loopback between two sockets."""
    try:
        listener = socket.create_server(("127.0.0.1", 0))
    except OSError:
        return None
    port = listener.getsockname()[1]
    chunk = bytes(range(256)) * 256

    def write() -> None:
        with socket.create_connection(("127.0.0.1", port)) as out:
            left = total
            while left > 0:
                left -= out.send(chunk[:left])

    writer = threading.Thread(target=write)
    start = time.perf_counter()
    writer.start()
    conn, _ = listener.accept()
    got = 0
    with conn, listener:
        while got < total:
            data = conn.recv(1 << 20)
            if not data:
                break
            got += len(data)
    writer.join()
    return time.perf_counter() - start


def best_of(runs: int, fn: Callable[[int], tuple[float, int, int]],
            total: int) -> tuple[float, int, int]:
    """The fastest of ``runs`` runs (the others met more interference from the machine)."""
    return min((fn(total) for _ in range(runs)), key=lambda result: result[0])


def run_suite(quick: bool) -> list[str]:
    total = 2_000_000 if quick else 50_000_000
    runs = 1 if quick else 3
    lines = [f"bulk transfer of {total / 1e6:.0f} MB, MSS 1460 (1448 with timestamps), "
             f"in memory, one core, best of {runs}"]
    elapsed, segments, data_segments = best_of(runs, engine_transfer, total)
    reference = floor(segments, data_segments)
    lines.append(f"  {'':12} {'seconds':>8} {'segments/s':>11} {'data seg/s':>11} "
                 f"{'MB/s':>8} {'x floor':>8}")

    def row(name: str, seconds: float, segs: int, data: int) -> str:
        return (f"  {name:12} {seconds:8.2f} {segs / seconds:11,.0f} {data / seconds:11,.0f} "
                f"{total / seconds / 1e6:8.1f} {seconds / reference * segments / segs:8.1f}")

    lines.append(row("engine", elapsed, segments, data_segments))
    sim = best_of(runs, simulation_transfer, total)
    lines.append(row("simulation", *sim))
    lines.append(row("floor", reference, segments, data_segments))
    kernel = kernel_transfer(total)
    if kernel is None:
        lines.append("  kernel       (loopback unavailable)")
    else:
        lines.append(f"  {'kernel':12} {kernel:8.2f} {'':>11} {'':>11} "
                     f"{total / kernel / 1e6:8.1f}   (engine at "
                     f"{kernel / elapsed * 100:.1f}% of Linux's loopback)")
    return lines

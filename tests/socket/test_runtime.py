"""The real-time runtime's timer thread: asleep until the nearest deadline, woken by a
change only when the change brings a sooner one."""

from __future__ import annotations

import threading
import time

from tcpkit.socket.runtime import RealTimeRuntime
from tcpkit.stack import Host


def _fired_within(rt: RealTimeRuntime, host: Host, delay: float) -> float:
    fired = threading.Event()
    start = time.monotonic()
    with rt.lock:
        host.call_later(delay, lambda now: fired.set())
        rt.changed()
    assert fired.wait(5), "the timer thread slept through a new deadline"
    return time.monotonic() - start


def test_a_new_deadline_wakes_a_timer_thread_that_sleeps_without_one() -> None:
    rt = RealTimeRuntime()
    host = rt.add_host(Host("h"))
    try:
        time.sleep(0.05)  # the thread is asleep with nothing to wait for
        assert _fired_within(rt, host, 0.01) < 1
    finally:
        rt.stop()


def test_a_sooner_deadline_wakes_it_and_a_later_one_does_not() -> None:
    rt = RealTimeRuntime()
    host = rt.add_host(Host("h"))
    late = threading.Event()
    try:
        with rt.lock:
            host.call_later(30.0, lambda now: late.set())
            rt.changed()
        time.sleep(0.05)  # asleep until 30 s from now
        with rt.lock:
            assert rt._timer_until is not None and rt._timer_until > time.monotonic() + 20
            host.call_later(60.0, lambda now: None)
            rt.changed()  # later than what it sleeps until: left asleep
            assert rt._timer_until is not None
        assert _fired_within(rt, host, 0.01) < 1  # sooner: woken
        assert not late.is_set()
    finally:
        rt.stop()

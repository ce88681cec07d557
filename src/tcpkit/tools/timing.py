"""Timing helper for the benchmark suites."""

from __future__ import annotations

import timeit
from collections.abc import Callable


def per_call_us(fn: Callable[[], object], quick: bool) -> float:
    """Best-of-five microseconds per call, each repeat lasting about 0.2 s (0.01 s quick)."""
    timer = timeit.Timer(fn)
    budget = 0.01 if quick else 0.2
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= budget / 5 or number >= 1 << 24:
            break
        number *= 4
    number = max(1, int(number * budget / max(elapsed, 1e-9)))
    best = min(timer.repeat(repeat=2 if quick else 5, number=number))
    return best / number * 1e6

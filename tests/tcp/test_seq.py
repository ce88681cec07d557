"""Sequence-number arithmetic (RFC 9293 §3.4) and timestamp comparison (RFC 7323 §5.2)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpkit.tcp.seq import HALF, MASK, ts_before, ts_diff, unwrap, wire

u32 = st.integers(0, MASK)
unwrapped = st.integers(0, 1 << 40)


@given(unwrapped, st.integers(-(HALF - 1), HALF - 1))
def test_unwrap_recovers_any_number_within_half_the_space(near: int, delta: int) -> None:
    """RFC 9293 §3.4: a 32-bit value names the one number less than 2**31 away."""
    seq = near + delta
    assert unwrap(wire(seq), near) == seq


@given(u32, unwrapped)
def test_unwrap_is_congruent_and_nearest(value: int, near: int) -> None:
    got = unwrap(value, near)
    assert wire(got) == value
    assert -HALF <= got - near < HALF


def test_unwrap_across_the_wrap() -> None:
    assert unwrap(5, MASK - 5) == MASK + 6  # just past 2**32
    assert unwrap(MASK - 5, (1 << 32) + 5) == MASK - 5  # just before, from above


@given(u32, st.integers(1, HALF - 1))
def test_timestamps_compare_modulo_two_to_the_32(a: int, step: int) -> None:
    """RFC 7323 §5.2: "before" is a negative signed 32-bit difference."""
    b = (a + step) & MASK
    assert ts_before(a, b)
    assert not ts_before(b, a)
    assert ts_diff(b, a) == step
    assert ts_diff(a, b) == -step
    assert not ts_before(a, a)

"""Initial sequence numbers per RFC 6528 §3: ISN = M + F(4-tuple, secret)."""

from __future__ import annotations

from tcpkit.tcp.isn import HostSecrets

A = ("192.0.2.1", 40000)
B = ("192.0.2.2", 80)


def test_isn_follows_a_64ns_clock_per_4_tuple() -> None:
    """M ticks every 64 ns (as Linux's), so a later incarnation of the same 4-tuple
    starts above the old one's ISN."""
    host = HostSecrets(b"s" * 32)
    first = host.isn(A, B, 10.0)
    assert (host.isn(A, B, 11.0) - first) & 0xFFFFFFFF == 1_000_000_000 >> 6
    assert host.isn(A, B, 10.0) == first  # the same inputs give the same ISN


def test_isn_is_keyed_and_differs_per_4_tuple() -> None:
    """F is a keyed hash: another host's secret or another port gives an unrelated ISN,
    so an off-path attacker cannot predict it (RFC 6528 §3)."""
    one, other = HostSecrets(b"s" * 32), HostSecrets(b"t" * 32)
    isns = {one.isn(A, B, 0.0), other.isn(A, B, 0.0), one.isn((A[0], A[1] + 1), B, 0.0),
            one.isn(B, A, 0.0)}
    assert len(isns) == 4


def test_random_secrets_per_host() -> None:
    assert HostSecrets().key != HostSecrets().key
    assert len(HostSecrets().key) == 32


def test_timestamp_offset_is_per_address_pair() -> None:
    """RFC 7323 §7.1 (Linux ``secure_tcp_ts_off``): the TS clock is offset per pair."""
    host = HostSecrets(b"s" * 32)
    assert host.ts_offset("192.0.2.1", "192.0.2.2") == host.ts_offset("192.0.2.1", "192.0.2.2")
    assert host.ts_offset("192.0.2.1", "192.0.2.2") != host.ts_offset("192.0.2.1", "192.0.2.3")

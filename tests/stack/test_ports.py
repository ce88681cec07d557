"""The port table: Linux's ephemeral search order, and connect() staying correct (and
quick) when most of the range is taken. Bind and connect errno are compared with the
kernel in tests/socket (address_in_use, ephemeral_ports_exhausted)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from tcpkit.stack.ports import Binding, PortTable


def linux_order(low: int, high: int, offset: int, parity: int) -> list[int]:
    """__inet_hash_connect / inet_csk_find_open_port: from ``low + offset`` around the
    range, the ports of ``parity`` first, then the others."""
    span = high - low + 1
    around = [low + (offset + i) % span for i in range(span)]
    return [p for p in around if p % 2 == parity] + [p for p in around if p % 2 != parity]


@given(st.integers(1024, 65000), st.integers(0, 300), st.integers(0, 1), st.integers(0, 99))
def test_search_order_is_linuxs(low: int, width: int, parity: int, seed: int) -> None:
    high = low + width
    table = PortTable(random.Random(seed))
    offset = random.Random(seed).randrange(width + 1)
    assert list(table._search(low, high, parity)) == linux_order(low, high, offset, parity)


def test_connect_skips_busy_ports_and_shares_ports_across_destinations() -> None:
    table = PortTable(random.Random(7))
    taken: dict[int, set[int]] = {80: set(), 81: set()}
    for service in (80, 81):
        for _ in range(100):  # the whole range 40000-40099, toward each service
            binding = Binding("192.0.2.1", 0, False, False)
            busy = taken[service]
            table.connect_ephemeral(binding, (40000, 40099),
                                    lambda p, busy=busy: p not in busy, busy)  # type: ignore[misc]
            assert binding.port not in busy
            busy.add(binding.port)
    assert taken[80] == taken[81] == set(range(40000, 40100))
    try:
        table.connect_ephemeral(Binding("192.0.2.1", 0, False, False), (40000, 40099),
                                lambda p: p not in taken[80], taken[80])
    except OSError as exc:
        assert exc.errno == 99  # EADDRNOTAVAIL
    else:
        raise AssertionError("a 101st connection found a port")


def test_a_port_bound_by_bind_is_never_shared_by_connect() -> None:
    table = PortTable(random.Random(3))
    table.bind(Binding("0.0.0.0", 40001, False, False))
    chosen: set[int] = set()
    for _ in range(3):  # one destination: the 4-tuple needs a new port each time
        binding = Binding("192.0.2.1", 0, False, False)
        table.connect_ephemeral(binding, (40000, 40003), lambda p: p not in chosen)
        chosen.add(binding.port)
    assert chosen == {40000, 40002, 40003}  # 40001 is held by bind()

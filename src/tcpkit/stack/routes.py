"""Interfaces, addresses and the routing table of one host (IPv4).

A route is a prefix and either a device (a connected subnet: the destination itself is
the next hop) or a gateway on a connected subnet. Lookup is longest prefix first, as
Linux's FIB does; no route at all is ENETUNREACH (``ip_route_output_key`` fails with it
and connect() reports it at once).
"""

from __future__ import annotations

import errno
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field

# What a link gives an interface: transmit(packet, next_hop_address).
Transmit = Callable[[bytes, str], None]
# A device that finishes TCP checksums and cuts TCP super-segments itself (TSO):
# transmit_tcp(ip_and_tcp_headers, payload, tcp_header_length, gso_size), the payload
# apart so that it is never copied; the TCP checksum holds only the pseudo-header sum and
# gso_size 0 means one segment.
TransmitTcp = Callable[[bytes, bytes | memoryview, int, int], None]
# How a device hands a received IP packet of n bytes to the stack, as Linux's skb:
# (truesize, gso_size); None: veth's paged skbs, as the engine assumes.
RxSkb = Callable[[int], tuple[int, int]]


def _unplugged(packet: bytes, next_hop: str) -> None:
    del packet, next_hop


@dataclass(slots=True, eq=False)
class Interface:
    """A network interface: a name, one IPv4 address with its prefix, an MTU, and the
    link it is attached to (``transmit``). ``up`` False drops everything, both ways.
    ``rx_skb`` describes the skbs the device makes of what it receives (see
    :data:`RxSkb`). ``qdisc_limit`` is the packets its queueing discipline holds
    (``tc qdisc add dev NAME root pfifo limit N``); None, the default, never fills here,
    as a link takes each packet at once, and 0 drops every packet sent.
    ``transmit_tcp``, when the device has it, takes TCP packets instead of ``transmit``:
    the device finishes their checksums and cuts GSO super-segments into segments (a TUN
    device with ``TUN_F_CSUM|TUN_F_TSO4``)."""

    name: str
    address: str
    prefix: int
    mtu: int = 1500
    transmit: Transmit = field(default=_unplugged, repr=False)
    up: bool = True
    rx_skb: RxSkb | None = field(default=None, repr=False)
    qdisc_limit: int | None = None
    transmit_tcp: TransmitTcp | None = field(default=None, repr=False)

    @property
    def refuses(self) -> bool:
        """Would the queueing discipline drop a packet now (NET_XMIT_DROP)?"""
        return self.qdisc_limit == 0

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{self.address}/{self.prefix}", strict=False)

    @property
    def loopback(self) -> bool:
        return self.name == "lo"


@dataclass(frozen=True, slots=True)
class Route:
    """``ip route add <network> [via <gateway>] dev <interface>``."""

    network: ipaddress.IPv4Network
    interface: Interface
    gateway: str | None = None


def _unreachable(code: int, what: str) -> OSError:
    return OSError(code, f"{os.strerror(code)} ({what})")


class RouteTable:
    """Routes of one host, looked up by longest prefix."""

    __slots__ = ("_cache", "routes")

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._cache: dict[str, Route | None] = {}

    def add(self, network: str, interface: Interface, gateway: str | None = None) -> Route:
        """Add a route; a gateway must be on a subnet the interface reaches."""
        net = ipaddress.IPv4Network(network, strict=False)
        if gateway is not None and ipaddress.IPv4Address(gateway) not in interface.network:
            raise OSError(errno.ENETUNREACH,
                          f"gateway {gateway} is not on {interface.name}'s subnet "
                          f"{interface.network}")
        route = Route(net, interface, gateway)
        self.routes.append(route)
        self.routes.sort(key=lambda r: -r.network.prefixlen)
        self._cache.clear()
        return route

    def remove_interface(self, interface: Interface) -> None:
        self.routes = [r for r in self.routes if r.interface is not interface]
        self._cache.clear()

    def lookup(self, destination: str) -> Route:
        """The route to ``destination``; OSError(ENETUNREACH) if there is none."""
        if destination in self._cache:
            cached = self._cache[destination]
        else:
            address = ipaddress.IPv4Address(destination)
            cached = next((r for r in self.routes if address in r.network), None)
            self._cache[destination] = cached
        if cached is None:
            raise _unreachable(errno.ENETUNREACH, f"no route to {destination}")
        return cached

    @staticmethod
    def next_hop(route: Route, destination: str) -> str:
        return route.gateway if route.gateway is not None else destination

"""Forwarding datagrams addressed to someone else, when ``net.ipv4.ip_forward`` is 1
(RFC 1812 §5.2; Linux ``ip_forward``, ``ip_error``, ``ip_do_fragment``).

In Linux's order:

* a TTL of 1 or less ends here: ICMP time exceeded (RFC 1812 §5.3.1), ``IpInHdrErrors``;
* no route: ICMP network unreachable, ``IpExtInNoRoutes`` (Linux ``ip_error``);
* too big for the next link with DF set: ICMP fragmentation needed carrying that link's
  MTU, ``IpFragFails`` (RFC 1191 §4: this is what path MTU discovery listens for);
* otherwise the TTL goes down by one (``IpForwDatagrams``) and the datagram leaves by
  the route's interface, cut into fragments if it is too big and DF is clear
  (``IpFragOKs``, ``IpFragCreates``).

Fragments are forwarded as they come, never reassembled. Not modelled: ICMP redirects
(a datagram leaving by the interface it came in on), source routing options, and
``ip_error``'s own token bucket (the ICMP rate limit of :mod:`icmp_ratelimit` applies).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tcpkit.wire import icmp
from tcpkit.wire.ipv4 import IPv4Header

if TYPE_CHECKING:
    from tcpkit.stack.host import Host


def forward(host: Host, header: IPv4Header, packet: bytes, payload: bytes,
            now: float) -> None:
    """Route ``packet`` (parsed as ``header`` and ``payload``) on towards its
    destination, or answer it with the ICMP error that says why not."""
    counters = host.counters
    if header.ttl <= 1:
        counters.inc("IpInHdrErrors")
        host.send_icmp_error(header, packet, icmp.TIME_EXCEEDED, 0, now)
        return
    try:
        route = host.routes.lookup(header.dst)
    except OSError:
        counters.inc("IpExtInNoRoutes")
        host.send_icmp_error(header, packet, icmp.DEST_UNREACHABLE, icmp.NET_UNREACHABLE, now)
        return
    interface = route.interface
    mtu = interface.mtu
    if len(packet) > mtu and header.dont_fragment:
        counters.inc("IpFragFails")
        host.send_icmp_error(header, packet, icmp.DEST_UNREACHABLE,
                             icmp.FRAGMENTATION_NEEDED, now, next_hop_mtu=mtu)
        return
    if not interface.up:
        host.drop(f"{interface.name} is down")
        return
    counters.inc("IpForwDatagrams")
    onward = replace(header, ttl=header.ttl - 1, total_length=None, checksum=None)
    next_hop = host.routes.next_hop(route, header.dst)
    if len(packet) <= mtu:
        host.link_output(interface, next_hop, onward.packet(payload), onward)
    else:
        host.fragment_output(interface, next_hop, onward, payload, mtu)

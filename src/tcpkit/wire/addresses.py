"""IP addresses between their text form (what sockets use) and their packed bytes."""

from __future__ import annotations

import socket

_NAMES = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6"}


def pack(family: socket.AddressFamily, address: str) -> bytes:
    """The packed bytes of ``address`` (4 for AF_INET, 16 for AF_INET6), or
    :class:`ValueError` naming what it is not."""
    try:
        return socket.inet_pton(family, address)
    except (OSError, TypeError) as exc:
        raise ValueError(f"not an {_NAMES[family]} address: {address!r}") from exc


def pack_ipv4(address: str) -> bytes:
    return pack(socket.AF_INET, address)


def pack_ipv6(address: str) -> bytes:
    return pack(socket.AF_INET6, address)

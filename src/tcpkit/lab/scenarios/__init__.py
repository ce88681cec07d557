"""The catalogue: importing this package registers every scenario."""

from tcpkit.lab.scenarios import (
    attacks,
    closed_peer,
    connect_errors,
    dead_peer,
    flow,
    lifecycle,
    path_mtu,
    reset_on_close,
)

__all__ = ["attacks", "closed_peer", "connect_errors", "dead_peer", "flow", "lifecycle", "path_mtu",
           "reset_on_close"]

"""The catalogue: importing this package registers every scenario."""

from tcpkit.lab.scenarios import (
    closed_peer,
    connect_errors,
    dead_peer,
    flow,
    lifecycle,
    path_mtu,
    reset_on_close,
)

__all__ = ["closed_peer", "connect_errors", "dead_peer", "flow", "lifecycle", "path_mtu",
           "reset_on_close"]

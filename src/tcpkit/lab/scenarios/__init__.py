"""The catalogue: importing this package registers every scenario."""

from tcpkit.lab.scenarios import path_mtu, reset_on_close

__all__ = ["path_mtu", "reset_on_close"]

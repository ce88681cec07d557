"""The catalogue: importing this package registers every scenario."""

from tcpkit.lab.scenarios import reset_on_close

__all__ = ["reset_on_close"]

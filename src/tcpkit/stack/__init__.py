"""A host: IP, routes, neighbours, ports, listeners, TCP demultiplexing, sysctls and
counters (see :mod:`tcpkit.stack.host`)."""

from tcpkit.stack.host import Host
from tcpkit.stack.sysctl import Sysctls

__all__ = ["Host", "Sysctls"]

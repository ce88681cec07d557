"""tcpkit: a TCP/IP stack in Python, faithful to RFC 9293 and to Linux.

The package is layered (see DESIGN.md in the repository): ``wire`` holds byte formats only,
``tcp`` the sans-IO engine, ``stack`` a host, ``socket`` the BSD socket API, ``links`` the
drivers that move packets, ``lab`` the failure stories and ``tools`` the command line.
"""

__version__ = "0.1.0"

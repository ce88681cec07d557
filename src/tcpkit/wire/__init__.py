"""Byte formats only: IPv4, IPv6, TCP and its options, ICMP/ICMPv6, UDP, Ethernet/ARP, the
internet checksum, pcap/pcapng files and tcpdump's text.

Every parser takes bytes and returns plain dataclasses; every builder computes lengths
and checksums left as ``None``. Bad input raises :class:`errors.MalformedPacket` (reason,
layer, offset) and nothing else. Nothing here does I/O except the capture file readers
and writers, which work on the streams they are given.
"""

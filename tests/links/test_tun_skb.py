"""The skbs Linux's tun driver makes of written packets (what packetdrill's inbound
packets cost a receiver): the scripts tcp_rcv_big_endseq (window 5000 after a 4000-byte
GSO packet into a 20000-byte buffer) and ioctl-siocinq-fin (a delayed ACK) judge these
figures in the packetdrill suite; here they are pinned against the kernel's sizes."""

from __future__ import annotations

import pytest

from tcpkit.links.tun_skb import tun_rx_skb, tun_truesize


@pytest.mark.parametrize("length, truesize", [
    (40, 832),  # a bare ACK: the small-head cache
    (1040, 2304),  # 1000 bytes of payload: kmalloc-2k
    (1500, 2304),
    (1800, 4352),  # 64 + 1800 + 320 > 2048: kmalloc-4k
    (4040, 4352 + 4096),  # over a page: 3712 bytes in the head, one page for the rest
    (50040, 4352 + 32768 + 16384),  # page chunks of up to 32 KB
])
def test_truesize(length: int, truesize: int) -> None:
    assert tun_truesize(length) == truesize


def test_gso_size_only_for_packets_carrying_more_than_it() -> None:
    """virtio_net_hdr_to_skb: "too small packets are not really GSO ones" (what follows
    the first 40 header bytes must exceed the GSO size)."""
    rx = tun_rx_skb(1000)
    assert rx(4040)[1] == 1000 and rx(1041)[1] == 1000
    assert rx(1040)[1] == 0
    assert tun_rx_skb()(4040)[1] == 0

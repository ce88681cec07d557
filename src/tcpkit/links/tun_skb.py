"""How Linux's tun driver turns a packet written to it into an skb (drivers/net/tun.c
``tun_get_user``, ``tun_alloc_skb``; net/core/skbuff.c ``alloc_skb_with_frags``;
include/linux/virtio_net.h ``virtio_net_hdr_to_skb``).

What a receiver charges its buffer for a segment depends on the device it came from.
packetdrill writes its inbound packets to a TUN device, so a tcpkit host playing a
packetdrill script receives them as a kernel behind tun0 would:

* a packet under a page (with the 64-byte ``NET_SKB_PAD`` in front) is copied whole
  into a kmalloc'ed head: its truesize is that bucket's (2304 bytes for a 1000-byte
  segment, against veth's 1832);
* a bigger one keeps 3712 bytes in the head and the rest in page chunks of up to
  32 KB (``PAGE_ALLOC_COSTLY_ORDER``), each charged whole;
* written with a virtio_net_hdr naming a GSO size (packetdrill's ``--mss``), a packet
  carrying more than that after its first 40 header bytes is a GSO packet: the
  receiver measures the peer's MSS from the GSO size, not from the packet.
"""

from __future__ import annotations

from tcpkit.stack.routes import RxSkb
from tcpkit.tcp.buffers import PAGE, SHINFO, linear_truesize

NET_SKB_PAD = 64  # tun->align
GOOD_LINEAR = PAGE - NET_SKB_PAD - SHINFO  # SKB_MAX_HEAD(align)
COSTLY_ORDER = 3  # PAGE_ALLOC_COSTLY_ORDER
GSO_HEADER = 40  # virtio_net_hdr_to_skb's p_off: IPv4 and TCP headers without options


def tun_truesize(length: int) -> int:
    """The truesize of the skb a ``length``-byte IP packet written to TUN becomes."""
    if NET_SKB_PAD + length < PAGE:
        return linear_truesize(NET_SKB_PAD + length)
    truesize = linear_truesize(NET_SKB_PAD + GOOD_LINEAR)
    left, order = length - GOOD_LINEAR, COSTLY_ORDER
    while left > 0:
        while order and -(-left // PAGE) * PAGE < PAGE << order:
            order -= 1
        truesize += PAGE << order
        left -= min(left, PAGE << order)
    return truesize


def tun_rx_skb(gso_size: int = 0) -> RxSkb:
    """The :data:`~tcpkit.stack.routes.RxSkb` of a TUN device written to with
    ``gso_size`` in each packet's virtio_net_hdr (0: none)."""

    def rx(length: int) -> tuple[int, int]:
        gso = gso_size if gso_size and length - GSO_HEADER > gso_size else 0
        return tun_truesize(length), gso

    return rx

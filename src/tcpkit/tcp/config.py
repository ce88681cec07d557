"""Every knob the engine reads, with Linux's default as the default value.

The defaults are the values of a Linux 6.18 kernel (``sysctl net.ipv4.tcp_*`` measured on
this project's machines, and the kernel's compiled-in constants). ``stack/`` maps the
sysctl names onto these fields and socket options change them per connection; the
numbers themselves live only here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Final

# Linux include/net/tcp.h: timers are counted in jiffies of 1/HZ seconds.
DEFAULT_HZ: Final = 250

TCP_TIMEWAIT_LEN: Final = 60.0  # TCP_TIMEWAIT_LEN: 2MSL as Linux counts it
TCP_MAX_QUICKACKS: Final = 16
TCP_MAX_WSCALE: Final = 14  # RFC 7323 §2.3
TCP_MIN_MSS: Final = 88
TCP_MIN_SND_MSS: Final = 48
TCP_DEFAULT_MSS: Final = 536  # RFC 9293 §3.7.1: assumed when the peer sends no MSS option
MAX_SACK_BLOCKS: Final = 4
# Delayed-ACK bounds as fractions of a second (include/net/tcp.h, in jiffies at HZ).
ATO_MIN_DIV: Final = 25  # TCP_ATO_MIN = HZ/25 (40 ms)
DELACK_MAX_DIV: Final = 5  # TCP_DELACK_MAX = HZ/5 (200 ms)
# include/net/sock.h: the smallest buffers SO_RCVBUF / SO_SNDBUF can set (2048 bytes
# plus one aligned struct sk_buff; twice that for sending).
SOCK_MIN_RCVBUF: Final = 2048 + 256
SOCK_MIN_SNDBUF: Final = 2 * SOCK_MIN_RCVBUF


def usecs_to_jiffies(us: int, hz: int) -> int:
    """Linux ``usecs_to_jiffies``: whole jiffies in ``us`` microseconds, rounded up."""
    return -(-us * hz // 1_000_000)


@dataclass(slots=True)
class ConnectionConfig:
    """Settings of one connection: host sysctls plus its socket options.

    Times are in seconds. Each field names the Linux setting it mirrors.

    Copy-on-write: connections made with the same settings share one instance (an idle
    connection should cost little, and most never set an option). A shared config is
    read-only by contract; whoever changes settings first takes :meth:`own`.
    """

    hz: int = DEFAULT_HZ  # CONFIG_HZ (250 on Debian kernels)
    mtu: int = 1500  # the route's MTU
    ipv6: bool = False  # 40-byte IP header instead of 20
    user_mss: int = 0  # TCP_MAXSEG (0: none)

    # Buffers (bytes). net.ipv4.tcp_rmem / tcp_wmem: min, default, max.
    rmem: tuple[int, int, int] = (4096, 131072, 33554432)
    wmem: tuple[int, int, int] = (4096, 16384, 4194304)
    rmem_max: int = 4194304  # net.core.rmem_max (4 MB on 6.18, measured): SO_RCVBUF ceiling
    wmem_max: int = 4194304  # net.core.wmem_max (4 MB on 6.18, measured): SO_SNDBUF ceiling
    rcvbuf: int | None = None  # SO_RCVBUF as set (locks receive-buffer autotuning)
    sndbuf: int | None = None  # SO_SNDBUF as set (locks send-buffer autotuning)
    moderate_rcvbuf: bool = True  # net.ipv4.tcp_moderate_rcvbuf

    # Options offered in the SYN.
    window_scaling: bool = True  # net.ipv4.tcp_window_scaling
    timestamps: bool = True  # net.ipv4.tcp_timestamps
    sack: bool = True  # net.ipv4.tcp_sack
    dsack: bool = True  # net.ipv4.tcp_dsack

    # Retransmission and timeouts.
    syn_retries: int = 6  # net.ipv4.tcp_syn_retries
    synack_retries: int = 5  # net.ipv4.tcp_synack_retries
    syn_linear_timeouts: int = 4  # net.ipv4.tcp_syn_linear_timeouts: SYN RTOs not backed off
    retries1: int = 3  # net.ipv4.tcp_retries1
    retries2: int = 15  # net.ipv4.tcp_retries2
    orphan_retries: int = 0  # net.ipv4.tcp_orphan_retries (0 means 8)
    rto_initial: float = 1.0  # TCP_TIMEOUT_INIT (RFC 6298 §2.1)
    rto_min: float = 0.2  # TCP_RTO_MIN, net.ipv4.tcp_rto_min_us
    rto_max: float = 120.0  # TCP_RTO_MAX, net.ipv4.tcp_rto_max_ms
    user_timeout: float = 0.0  # TCP_USER_TIMEOUT (0: off)
    fin_timeout: float = 60.0  # net.ipv4.tcp_fin_timeout, TCP_LINGER2
    linger: float | None = None  # SO_LINGER: None off; 0 abort with RST on close

    # Keepalive.
    keepalive: bool = False  # SO_KEEPALIVE
    keepalive_time: float = 7200.0  # net.ipv4.tcp_keepalive_time, TCP_KEEPIDLE
    keepalive_intvl: float = 75.0  # net.ipv4.tcp_keepalive_intvl, TCP_KEEPINTVL
    keepalive_probes: int = 9  # net.ipv4.tcp_keepalive_probes, TCP_KEEPCNT

    # Sending.
    nodelay: bool = False  # TCP_NODELAY
    cork: bool = False  # TCP_CORK
    init_cwnd: int = 10  # TCP_INIT_CWND (RFC 6928)
    congestion_control: str = "reno"  # net.ipv4.tcp_congestion_control
    slow_start_after_idle: bool = True  # net.ipv4.tcp_slow_start_after_idle
    reordering: int = 3  # net.ipv4.tcp_reordering: duplicate ACKs before fast retransmit
    max_reordering: int = 300  # net.ipv4.tcp_max_reordering: how far reordering may grow
    # GSO packet sizing (tcp_tso_autosize) and the pacing rate it reads.
    min_tso_segs: int = 2  # net.ipv4.tcp_min_tso_segs
    notsent_lowat: int = 0xFFFFFFFF  # net.ipv4.tcp_notsent_lowat
    user_notsent_lowat: int = 0  # TCP_NOTSENT_LOWAT (0: the sysctl's)
    tso_rtt_log: int = 9  # net.ipv4.tcp_tso_rtt_log: the allowance halves per 2^n µs
    tso_win_divisor: int = 3  # net.ipv4.tcp_tso_win_divisor (tcp_tso_should_defer)
    pacing_ss_ratio: int = 200  # net.ipv4.tcp_pacing_ss_ratio (% of cwnd/SRTT)
    pacing_ca_ratio: int = 120  # net.ipv4.tcp_pacing_ca_ratio
    # net.ipv4.tcp_recovery: 0x4 no duplicate-ACK threshold in RACK (0x1, RACK itself,
    # is always on in Linux 6.18; 0x2, a static window, is what tcpkit always has).
    recovery: int = 1
    min_rtt_wlen: float = 300.0  # net.ipv4.tcp_min_rtt_wlen: seconds min RTT is kept

    # Receiving and validation.
    quickack_max: int = TCP_MAX_QUICKACKS
    pingpong_thresh: int = 1  # net.ipv4.tcp_pingpong_thresh
    invalid_ratelimit: float = 0.5  # net.ipv4.tcp_invalid_ratelimit (ms in Linux)
    challenge_ack_limit: int = 2**31 - 1  # net.ipv4.tcp_challenge_ack_limit (per second)
    rfc1337: bool = False  # net.ipv4.tcp_rfc1337
    stdurg: bool = False  # net.ipv4.tcp_stdurg: urgent pointer per RFC 1122 when set
    oob_inline: bool = False  # SO_OOBINLINE
    so_zerocopy: bool = False  # SO_ZEROCOPY: MSG_ZEROCOPY sends are numbered and notified
    fastopen_connect: bool = False  # TCP_FASTOPEN_CONNECT: connect() waits for the data

    # Copy-on-write bookkeeping, not settings.
    shared: bool = field(default=False, compare=False, repr=False)
    route_variant: ConnectionConfig | None = field(default=None, compare=False, repr=False)

    def own(self) -> ConnectionConfig:
        """A config its holder may change: itself while no one else holds it, else a
        private copy."""
        if self.shared:
            return dataclasses.replace(self, shared=False, route_variant=None)
        self.route_variant = None  # derived from settings about to change
        return self

    def for_route(self, mtu: int) -> ConnectionConfig:
        """These settings on a route of ``mtu``, as a shared instance: the same one for
        every connection made from this config on such a route."""
        if self.mtu == mtu:
            self.shared = True
            return self
        variant = self.route_variant
        if variant is None or variant.mtu != mtu:
            variant = self.route_variant = dataclasses.replace(
                self, mtu=mtu, shared=True, route_variant=None)
        return variant

    @property
    def socket_rcvbuf(self) -> int:
        """sk_rcvbuf: tcp_rmem[1], or SO_RCVBUF as Linux stores it (doubled for
        overhead, capped by rmem_max, ``__sock_set_rcvbuf``)."""
        if self.rcvbuf is None:
            return self.rmem[1]
        return max(min(self.rcvbuf, self.rmem_max) * 2, SOCK_MIN_RCVBUF)

    @property
    def socket_sndbuf(self) -> int:
        """sk_sndbuf: tcp_wmem[1], or SO_SNDBUF doubled (``__sock_set_sndbuf``)."""
        if self.sndbuf is None:
            return self.wmem[1]
        return max(min(self.sndbuf, self.wmem_max) * 2, SOCK_MIN_SNDBUF)

    @property
    def header_overhead(self) -> int:
        """IP plus TCP fixed headers: what the MTU loses before the MSS."""
        return (40 if self.ipv6 else 20) + 20

    def jiffies(self, seconds: float) -> int:
        """Whole jiffies in ``seconds``, rounded up as Linux's msecs_to_jiffies does
        (a value within a nanosecond of a whole tick counts as that tick)."""
        ticks = seconds * self.hz
        nearest = round(ticks)
        if abs(ticks - nearest) < 1e-9 * self.hz:
            return nearest
        return int(ticks) + 1

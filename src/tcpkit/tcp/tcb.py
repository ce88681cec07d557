"""The Transmission Control Block: every variable of one connection (RFC 9293 §3.3.1).

Fields carry the RFC's names (``snd_una``, ``rcv_nxt``, ...) and, where the RFC has none,
Linux's (``write_seq``, ``rcv_wup``, ``mss_cache``, the ACK scheduling state of
``inet_connection_sock``). Sequence variables are unwrapped integers (:mod:`seq`).
The behaviour lives in the mixins that :class:`tcpkit.tcp.connection.Connection` is
made of (``receiver``, ``sender``, ``recovery``, ``segment_arrives``, ``user_calls``,
``timers``); this class only declares and initialises the state they share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import IntEnum

from tcpkit.tcp.buffers import OutOfOrderQueue, ReceiveMemory, ReceiveQueue, SendBuffer
from tcpkit.tcp.config import ATO_MIN_DIV, DELACK_MAX_DIV, ConnectionConfig
from tcpkit.tcp.congestion import CongestionControl, create
from tcpkit.tcp.events import ConnectionEvent
from tcpkit.tcp.fastopen import FastOpenAttempt
from tcpkit.tcp.isn import Endpoint, HostSecrets
from tcpkit.tcp.ratelimit import ChallengeAckLimiter
from tcpkit.tcp.rtt import RttEstimator
from tcpkit.tcp.state import State
from tcpkit.tcp.zerocopy import ZerocopyNotifications
from tcpkit.wire.tcp import ACK, TCPSegment
from tcpkit.wire.tcp_options import TCPOption


class CAState(IntEnum):
    """Linux's congestion-avoidance states (``enum tcp_ca_state``), visible in TCP_INFO."""

    OPEN = 0
    DISORDER = 1
    CWR = 2
    RECOVERY = 3
    LOSS = 4


# Bits of a write-queue buffer (TCB.write_queue): PSH, and MSG_EOR (Linux skb->eor:
# nothing may be appended to it, nor merged into it).
WQ_PSH = 1
WQ_EOR = 2

# What the shared retransmit timer slot is armed for (Linux ICSK_TIME_*).
XMIT_NONE = 0
XMIT_RETRANS = 1
XMIT_PROBE0 = 3
XMIT_REO_TIMEOUT = 4  # RACK's reordering timer (RFC 8985 §6.2)
XMIT_LOSS_PROBE = 5

# inet_connection_sock.icsk_ack.pending bits (include/net/inet_connection_sock.h).
ACK_SCHED = 1
ACK_TIMER = 2
ACK_PUSHED = 4
ACK_PUSHED2 = 8
ACK_NOW = 16
ACK_NOMEM = 32  # the receive buffer refused a segment: offer a zero window


@dataclass(slots=True)
class SentSegment:
    """One transmitted segment still unacknowledged (a Linux retransmit-queue skb)."""

    seq: int
    end: int  # seq + payload length + SYN + FIN
    flags: int  # SYN/FIN/PSH/URG bits it was sent with
    first_sent: float
    last_sent: float
    ever_retransmitted: bool = False  # Karn (RFC 6298 §3): no RTT sample from it
    retrans: bool = False  # counted in retrans_out
    sacked: bool = False
    lost: bool = False
    delivered: int = 0  # the connection's delivered count when last sent (Linux tx.delivered)
    eor: bool = False  # ends a MSG_EOR write: never merged with what follows
    skb_end: bool = False  # the last segment of a GSO packet: one skb in Linux's queue
    # A whole GSO packet in one record (Linux tcp_skb_pcount): ``pcount`` segments of
    # ``gso`` bytes, the last maybe shorter. Only clean ones (never retransmitted, SACKed
    # or lost) are kept whole; see Sender._rtx_per_segment.
    pcount: int = 1
    gso: int = 0

    def split(self, count: int) -> tuple[SentSegment, SentSegment]:
        """The first ``count`` segments of a whole GSO packet and the rest, as
        ``tcp_fragment`` cuts an skb: PSH, FIN, EOR and the skb's end stay on the rest."""
        # Positional constructors, not dataclasses.replace (3x slower): over a device
        # that does not segment, every other ACK ends inside a packet and cuts it.
        at = self.seq + count * self.gso
        rest = self.pcount - count
        head = SentSegment(self.seq, at, self.flags & ACK, self.first_sent, self.last_sent,
                           self.ever_retransmitted, self.retrans, self.sacked, self.lost,
                           self.delivered, False, False, count, self.gso if count > 1 else 0)
        tail = SentSegment(at, self.end, self.flags, self.first_sent, self.last_sent,
                           self.ever_retransmitted, self.retrans, self.sacked, self.lost,
                           self.delivered, self.eor, self.skb_end, rest,
                           self.gso if rest > 1 else 0)
        return head, tail

    def segments(self) -> list[SentSegment]:
        """One record per segment, each as it was when it left."""
        if self.pcount == 1:
            return [self]
        step = self.gso
        last = self.seq + (self.pcount - 1) * step
        pieces = [replace(self, seq=s, end=s + step, flags=self.flags & ACK, eor=False,
                          skb_end=False, pcount=1, gso=0)
                  for s in range(self.seq, last, step)]
        pieces.append(replace(self, seq=last, pcount=1, gso=0))
        return pieces


class TCB:
    """State shared by the engine's parts. See the module docstring."""

    # Slots, not a __dict__: a connection has ~140 fields, too many for CPython's
    # key-sharing dicts, so a dict would cost ~3 KB per connection (``make bench``,
    # sim suite: memory per idle connection). Every part below declares empty slots.
    __slots__ = ("ack_pending", "ack_quick", "advmss", "ato", "ato_min", "bytes_acked", "ca_state",
                 "cc", "challenge_acks", "chosen_iss", "clock", "comp_sack_deadline",
                 "compressed_ack", "compressed_ack_rcv_nxt", "config", "copied_seq", "cwnd",
                 "cwnd_cnt", "cwnd_usage_seq", "delack_deadline", "delack_max", "delivered",
                 "device_refuses", "dsack", "dup_ack_counter", "error", "events", "fast_path",
                 "fastopen", "fin_queued", "fin_seq", "finwait2_deadline", "gso", "high_seq", "irs",
                 "is_cwnd_limited", "iss",
                 "keepalive_deadline", "last_oow_ack_time", "last_seg_size", "local", "lost",
                 "lost_out", "lrcvtime", "lsndtime", "max_packets_out", "max_window", "mss_cache",
                 "mss_clamp", "ofo", "ofo_fin_seq", "orphan", "out", "pacing_rate", "packets_out",
                 "passive", "pingpong", "prior_cwnd", "prior_in_flight", "prior_ssthresh",
                 "probes_out", "probes_tstamp", "prr_delivered", "prr_out", "pushed_seq",
                 "rack_advanced", "rack_end_seq", "rack_mstamp", "rack_rtt_us", "rcv_mem",
                 "rcv_mss", "rcv_nxt", "rcv_rtt_last_tsecr", "rcv_rtt_seq", "rcv_rtt_time",
                 "rcv_rtt_us", "rcv_shutdown", "rcv_ssthresh", "rcv_tsecr", "rcv_tstamp",
                 "rcv_tsval", "rcv_up", "rcv_wnd", "rcv_wscale", "rcv_wup", "rcvbuf", "rcvq_space",
                 "rcvq_space_seq", "rcvq_space_time", "recv_queue", "remote", "reopen_isn",
                 "reord_seen", "reordering", "retrans_out", "retrans_stamp", "retransmits", "rtt",
                 "rtx", "rtx_whole", "sack_blocks", "sack_ca_rtt_us", "sack_ok", "sack_rtt_us",
                 "sacked_out",
                 "saw_tstamp", "scaling_ratio", "secrets", "send_buffer", "sent_skbs",
                 "snd_cwnd_stamp", "snd_cwnd_used", "snd_nxt", "snd_shutdown", "snd_sml",
                 "snd_una", "snd_up",
                 "snd_wl1", "snd_wl2", "snd_wnd", "snd_wscale", "sndbuf", "soft_error", "ssthresh",
                 "state", "timewait_deadline", "tlp_high_seq", "tlp_retrans", "total_retrans",
                 "total_rto", "ts_offset", "ts_ok", "ts_options", "ts_recent", "ts_recent_stamp",
                 "undo_marker", "urg_data", "urg_mode", "urg_pending", "urg_read", "urg_seq",
                 "window_cache", "window_clamp", "window_quick_reset", "write_blocked",
                 "write_pending", "write_queue", "write_seq", "wscale_ok", "xmit_deadline",
                 "xmit_kind", "zerocopy")

    @property
    def rmem_alloc(self) -> int:
        """Bytes charged to the receive buffer (Linux ``sk_rmem_alloc``)."""
        return self.rcv_mem.total

    def __init__(
        self,
        local: Endpoint,
        remote: Endpoint,
        config: ConnectionConfig | None = None,
        secrets: HostSecrets | None = None,
        challenge_acks: ChallengeAckLimiter | None = None,
    ) -> None:
        self.local = local
        self.remote = remote
        self.config = config if config is not None else ConnectionConfig()
        self.secrets = secrets if secrets is not None else HostSecrets()
        self.challenge_acks = challenge_acks if challenge_acks is not None else \
            ChallengeAckLimiter(self.config.challenge_ack_limit)
        cfg = self.config

        # Connection state (RFC 9293 §3.3.2) and how the user left it.
        self.state = State.CLOSED
        self.passive = False  # came from LISTEN (a passive OPEN)
        self.chosen_iss: int | None = None  # ISN fixed by the host (a SYN cookie)
        self.orphan = False  # close() was called: no user any more (Linux SOCK_DEAD)
        self.rcv_shutdown = False  # no more data will be read (FIN seen or SHUT_RD)
        self.snd_shutdown = False  # no more data will be written (SHUT_WR / close)
        self.error = 0  # errno to report once (Linux sk_err)
        self.soft_error = 0  # errno from ICMP while retrying (Linux sk_err_soft)

        # Send sequence variables (RFC 9293 §3.3.1).
        self.iss = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.snd_wnd = 0
        self.snd_up = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.write_seq = 0  # sequence number after the last byte (or FIN) queued
        self.pushed_seq = 0  # write_seq when PSH was last marked (Linux pushed_seq)
        self.max_window = 0
        self.fin_queued = False  # the FIN is in write_seq (sent or not)
        self.send_buffer = SendBuffer(0)
        # Queues are lists, not deques, and drop their heads in slices: an empty deque
        # costs 760 bytes, an empty list 56, and an idle connection should be small.
        # The unsent write-queue buffers (Linux skbs), as [end, WQ_* bits] pairs; the
        # first begins at snd_nxt. A write's PSH sits on the buffer that ends it.
        self.write_queue: list[list[int]] = []
        self.rtx: list[SentSegment] = []  # sent, unacknowledged (in order)
        self.rtx_whole = False  # rtx may hold whole GSO packets (SentSegment.pcount)
        self.sent_skbs = 0  # GSO packets (skbs) among them: the send buffer's charge
        self.snd_sml = 0  # end of the last small segment sent (Nagle, Minshall)
        self.lsndtime = 0.0  # when data was last sent
        self.urg_mode = False

        # Receive sequence variables.
        self.irs = 0
        self.rcv_nxt = 0
        self.rcv_wnd = 0
        self.rcv_wup = 0  # rcv_nxt when rcv_wnd was last advertised
        self.rcv_up = 0
        self.copied_seq = 0  # next byte the application will read
        self.recv_queue = ReceiveQueue()
        self.ofo = OutOfOrderQueue()
        self.rcv_mem = ReceiveMemory()  # what the queues cost the receive buffer
        self.fin_seq: int | None = None  # where the peer's FIN is, once seen in order
        self.ofo_fin_seq: int | None = None  # a FIN that arrived beyond a hole
        self.urg_data: int | None = None  # the urgent byte waiting to be read (OOB)
        self.urg_seq = 0
        self.urg_pending = False  # an urgent pointer was seen, the byte not yet here
        self.urg_read = False  # the byte was read with MSG_OOB; the mark still stands

        # Options (RFC 9293 §3.7.1, RFC 7323, RFC 2018).
        self.mss_clamp = cfg.user_mss or 65535  # min(peer's MSS, TCP_MAXSEG)
        self.advmss = 0  # MSS we announce (from the MTU), minus TS once agreed
        self.mss_cache = 536  # current send MSS, options deducted
        self.wscale_ok = False
        self.snd_wscale = 0  # peer's shift, applied to its windows
        self.rcv_wscale = 0  # our shift, applied to our windows
        self.ts_ok = False
        self.sack_ok = False
        self.ts_offset = 0
        self.ts_recent = 0
        self.ts_recent_stamp = 0.0  # when ts_recent was stored (seconds)
        self.saw_tstamp = False  # the segment being processed carried timestamps
        self.rcv_tsval = 0
        self.rcv_tsecr = 0
        self.ts_options: tuple[TCPOption, ...] = ()  # the last NOP,NOP,TS sent
        self.sack_blocks: list[tuple[int, int]] = []  # to send, newest first (RFC 2018 §4)
        self.dsack: tuple[int, int] | None = None  # one D-SACK to send (RFC 2883)

        # Receive window (Linux net/ipv4/tcp_output.c, tcp_input.c).
        self.rcvbuf = cfg.socket_rcvbuf
        self.sndbuf = cfg.socket_sndbuf
        self.window_clamp = 0
        self.rcv_ssthresh = 0
        self.scaling_ratio = 128  # receive-buffer bytes to window, in 256ths
        # The last window field chosen and what it was computed from (tcp_select_window
        # is pure in those inputs, so a burst reuses it).
        self.window_cache: tuple[int, ...] | None = None
        self.window_quick_reset = False
        self.rcvq_space = 0  # autotuning: bytes read per RTT, and since when
        self.rcvq_space_seq = 0
        self.rcvq_space_time = 0.0

        # ACK scheduling (Linux icsk_ack).
        hz = cfg.hz
        self.ato_min = max(hz // ATO_MIN_DIV, 1)  # TCP_ATO_MIN in jiffies
        self.delack_max = max(hz // DELACK_MAX_DIV, 1)  # TCP_DELACK_MAX in jiffies
        self.ack_pending = 0
        self.ack_quick = 0
        self.pingpong = 0
        self.ato = 0  # delayed-ACK timeout in jiffies; 0 until data arrives
        self.lrcvtime = 0.0
        self.rcv_mss = 536
        self.last_seg_size = 0
        self.delack_deadline: float | None = None
        self.last_oow_ack_time: float | None = None  # rate limit for out-of-window ACKs
        self.compressed_ack = 0  # SACK updates held back (Linux tcp_comp_sack)
        self.compressed_ack_rcv_nxt = 0
        self.dup_ack_counter = 0
        self.comp_sack_deadline: float | None = None
        self.rcv_rtt_us = 0  # receiver-side RTT estimate, scaled by 8 (rcv_rtt_est)
        self.rcv_rtt_seq = 0
        self.rcv_rtt_time = 0.0
        self.rcv_rtt_last_tsecr = 0

        # Reliability and congestion control.
        self.rtt = RttEstimator(cfg)
        self.cwnd = cfg.init_cwnd
        self.ssthresh = 0x7FFFFFFF  # TCP_INFINITE_SSTHRESH
        self.cwnd_cnt = 0
        self.prior_cwnd = 0
        self.ca_state = CAState.OPEN
        self.high_seq = 0  # snd_nxt when recovery started (RFC 6582 "recover")
        self.prior_ssthresh = 0
        self.packets_out = 0
        self.sacked_out = 0
        self.lost_out = 0
        self.lost = 0  # segments ever marked lost (Linux tp->lost)
        self.retrans_out = 0
        self.reordering = cfg.reordering  # grows when reordering is seen (tp->reordering)
        self.reord_seen = 0
        # RACK (RFC 8985 §6.1): the most recently sent of the segments delivered so far
        # (its send time, -1 before any, and end), the RTT it measured, and whether
        # that changed since losses were last looked for.
        self.rack_mstamp = -1.0
        self.rack_end_seq = 0
        self.rack_rtt_us = 0
        self.rack_advanced = False
        self.pacing_rate = -1  # bytes/s (Linux sk_pacing_rate); -1 unlimited, as at first
        self.max_packets_out = 0
        self.is_cwnd_limited = False
        self.prr_delivered = 0
        self.prr_out = 0
        self.prior_in_flight = 0
        self.delivered = 0
        self.total_retrans = 0
        self.retransmits = 0  # consecutive RTO expiries (icsk_retransmits)
        self.total_rto = 0  # RTO expiries over the connection's life
        self.undo_marker = 0
        self.bytes_acked = 0
        self.tlp_high_seq = 0  # snd_nxt when a tail loss probe went out (0: none)
        self.tlp_retrans = False
        self.snd_cwnd_used = 0
        self.snd_cwnd_stamp = 0.0
        self.cwnd_usage_seq = 0
        self.write_blocked = False  # the application was told the send buffer is full
        self.write_pending = False  # the application wanted to write before the handshake
        self.retrans_stamp: float | None = None  # original send time of the first
        # segment retransmitted in this episode (Linux retrans_stamp)
        # One timer slot for retransmission, zero-window probe and loss probe, as in
        # Linux (icsk_retransmit_timer with icsk_pending): arming one replaces another.
        self.xmit_deadline: float | None = None
        self.xmit_kind = XMIT_NONE
        self.probes_out = 0
        self.probes_tstamp: float | None = None  # start of unanswered zero-window probing
        # Asked before each packet when the host's device may refuse it (a queueing
        # discipline with no room: Linux's queue_xmit returns NET_XMIT_DROP); None, the
        # usual case, costs the hot path one test.
        self.device_refuses: Callable[[], bool] | None = None
        # The device cuts TCP super-segments itself (TSO): a GSO packet leaves as one
        # segment carrying gso_size instead of one segment per MSS.
        self.gso = False
        # An active open with TCP Fast Open (RFC 7413), if this is one.
        self.fastopen: FastOpenAttempt | None = None
        # MSG_ZEROCOPY numbering and notifications, from the first such send on.
        self.zerocopy: ZerocopyNotifications | None = None
        self.rcv_tstamp = 0.0  # last time an acceptable ACK arrived
        # Linux checks the name at setsockopt(TCP_CONGESTION); an unknown one fails here.
        self.cc: CongestionControl = create(cfg.congestion_control)

        # Keepalive, FIN_WAIT_2 and TIME_WAIT.
        self.keepalive_deadline: float | None = None
        self.finwait2_deadline: float | None = None
        self.timewait_deadline: float | None = None

        # Set when a TIME-WAIT connection accepts a new SYN (RFC 1122 §4.2.2.13): the host
        # may start a new connection with this ISN and forget this one.
        self.reopen_isn: int | None = None
        # Take Linux's "header prediction" fast path for in-order data (tests turn it off
        # to prove it changes nothing).
        self.fast_path = True

        self.clock = 0.0  # the ``now`` of the call being processed
        self.sack_rtt_us = -1  # RTT sample from a newly SACKed segment in this ACK
        self.sack_ca_rtt_us = -1  # ... and from the last one (Linux last_sackt)

        # What the connection has to say.
        self.out: list[TCPSegment] = []
        self.events: list[ConnectionEvent] = []

    def own_config(self) -> ConnectionConfig:
        """The settings, made this connection's own before it changes one (they may be
        shared with its siblings, :class:`ConnectionConfig`)."""
        self.config = self.config.own()
        return self.config

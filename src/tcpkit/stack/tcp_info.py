"""TCP_INFO: the first 104 bytes of Linux's ``struct tcp_info`` (include/uapi/linux/tcp.h),
the part every version since 2.6 fills the same way and ``ss -ti`` prints: state,
congestion state, retransmission and probe counts, window scales, RTO and delayed-ACK
timeout, MSSes, the counters of the retransmission queue, RTT estimates (µs), cwnd and
ssthresh (segments), and the milliseconds since data was last sent and received and an
ACK last received (counted in jiffies, as ``tcp_get_info`` does; the time since an ACK
was last sent is 0 there too). Later fields (pacing rate, byte counters, ...) are not modelled; a
caller asking for more gets these 104 bytes, as an older kernel would give.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from tcpkit.tcp.state import State

if TYPE_CHECKING:
    from tcpkit.stack.sock import TcpSock

_INFO = struct.Struct("=8B24I")
# Linux TCP_ESTABLISHED = 1 ... TCP_CLOSING = 11 (include/net/tcp_states.h).
LINUX_STATE = {
    State.ESTABLISHED: 1, State.SYN_SENT: 2, State.SYN_RECEIVED: 3, State.FIN_WAIT_1: 4,
    State.FIN_WAIT_2: 5, State.TIME_WAIT: 6, State.CLOSED: 7, State.CLOSE_WAIT: 8,
    State.LAST_ACK: 9, State.LISTEN: 10, State.CLOSING: 11,
}
TCPI_OPT_TIMESTAMPS, TCPI_OPT_SACK, TCPI_OPT_WSCALE, TCPI_OPT_SYN_DATA = 1, 2, 4, 32


def tcp_info(sock: TcpSock) -> bytes:
    """The ``struct tcp_info`` bytes for ``sock`` (see the module docstring)."""
    conn = sock.conn
    state = LINUX_STATE[sock.tcp_state]
    if conn is None or sock.listener is not None:
        return _INFO.pack(state, *([0] * 7), *([0] * 24))
    cfg = conn.config
    rtt = conn.rtt
    options = ((TCPI_OPT_TIMESTAMPS if conn.ts_ok else 0) | (TCPI_OPT_SACK if conn.sack_ok else 0)
               | (TCPI_OPT_WSCALE if conn.wscale_ok else 0)
               | (TCPI_OPT_SYN_DATA if conn.fastopen and conn.fastopen.data_acked else 0))
    wscales = (conn.snd_wscale & 0xF) | ((conn.rcv_wscale & 0xF) << 4)
    jiffy_us = 1_000_000 // cfg.hz
    now = int(sock.host.now * cfg.hz + 1e-9)

    def since(when: float) -> int:  # jiffies_to_msecs(now - stamp)
        return (now - int(when * cfg.hz + 1e-9)) * 1000 // cfg.hz

    return _INFO.pack(
        state, int(conn.ca_state), min(conn.retransmits, 255), min(conn.probes_out, 255),
        min(rtt.backoff, 255), options, wscales, 0,
        rtt.rto_jiffies * jiffy_us, conn.ato * jiffy_us, conn.mss_cache, conn.rcv_mss,
        conn.packets_out, conn.sacked_out, conn.lost_out, conn.retrans_out, 0,
        since(conn.lsndtime), 0, since(conn.lrcvtime), since(conn.rcv_tstamp),
        cfg.mtu, conn.rcv_ssthresh, rtt.srtt_us >> 3, rtt.mdev_us >> 2,
        min(conn.ssthresh, 0xFFFFFFFF), conn.cwnd, conn.advmss, conn.reordering,
        conn.rcv_rtt_us >> 3, conn.rcvq_space, conn.total_retrans,
    )

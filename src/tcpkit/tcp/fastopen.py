"""TCP Fast Open, the client's side (RFC 7413; Linux ``tcp_send_syn_data``,
``tcp_syn_options``, ``tcp_rcv_fastopen_synack`` and ``tcp_fastopen_cookie_check``).

A client that holds a cookie for a server (learnt from an earlier SYN-ACK, kept by the
host per address as Linux's tcp_metrics keeps it) sends data in its SYN with the cookie;
one that holds none asks for one with an empty Fast Open option. Only the first SYN
carries the option and the data: a retransmitted SYN is a plain one (RFC 7413 §4.2.1).
If the SYN-ACK acknowledges less than the data, the rest is resent at once without a
congestion response.
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpkit.wire.tcp_options import NOP, FastOpen, TCPOption

COOKIE_MIN, COOKIE_MAX = 4, 16  # TCP_FASTOPEN_COOKIE_MIN/MAX
MAX_OPTION_SPACE = 40  # MAX_TCP_OPTION_SPACE: what SYN data leaves for options


@dataclass(slots=True)
class FastOpenAttempt:
    """One connection's Fast Open (Linux ``tcp_fastopen_request`` with ``syn_fastopen``,
    ``syn_data``, ``syn_data_acked``). ``cookie``: the cached cookie, empty to ask for
    one; ``mss``: the server's MSS cached with it (0: none)."""

    cookie: bytes = b""
    experimental: bool = False
    mss: int = 0
    option_sent: bool = False  # syn_fastopen: the SYN carried the option
    first_syn_done: bool = False  # later SYNs carry neither option nor data
    syn_data: bool = False  # the SYN carried data
    data_acked: bool = False  # ... and the SYN-ACK acknowledged it (TCPI_OPT_SYN_DATA)

    def syn_option(self, used: int) -> tuple[TCPOption, ...]:
        """The option for our first SYN, with the NOPs Linux pads it with, if it fits
        in the ``used`` bytes' remaining room (``tcp_syn_options``)."""
        if self.first_syn_done:
            return ()
        option = FastOpen(self.cookie, self.experimental)
        size = len(option.to_bytes())
        need = (size + 3) & ~3
        if used + need > MAX_OPTION_SPACE:
            return ()
        self.option_sent = True
        return (option, NOP, NOP) if size & 3 == 2 else (option,)


def valid_cookie(options: tuple[TCPOption, ...]) -> tuple[bytes | None, bool]:
    """The cookie a SYN-ACK carries (None if none or one of a wrong length: Linux
    ``tcp_parse_fastopen_option`` gives len -1) and whether it was the experimental
    kind."""
    for option in options:
        if isinstance(option, FastOpen):
            cookie = option.cookie
            if COOKIE_MIN <= len(cookie) <= COOKIE_MAX and not len(cookie) & 1:
                return cookie, option.experimental
            return None, option.experimental
    return None, False

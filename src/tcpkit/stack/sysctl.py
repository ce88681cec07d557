"""A host's settings, by their Linux names (``sysctl net.ipv4.tcp_syn_retries``).

Two kinds: the TCP settings each connection reads live as fields of
:class:`~tcpkit.tcp.config.ConnectionConfig`, whose defaults are the only copy of those
numbers (the table below maps a name onto its field); the settings only a host reads
(ports, queues, cookies, TIME_WAIT reuse, IP) have their Linux default here. Values are
set and read as Linux's ``/proc/sys`` files print them: a tuple for vectors
(``ip_local_port_range``), seconds where Linux counts seconds, milliseconds where its
name ends in ``_ms``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.congestion import ALGORITHMS

# sysctl name -> ConnectionConfig field, and how /proc/sys writes the value.
_SECONDS: Final = "s"
_MILLIS: Final = "ms"
_PLAIN: Final = ""
CONNECTION_SYSCTLS: Final[dict[str, tuple[str, str]]] = {
    "net.ipv4.tcp_syn_retries": ("syn_retries", _PLAIN),
    "net.ipv4.tcp_synack_retries": ("synack_retries", _PLAIN),
    "net.ipv4.tcp_syn_linear_timeouts": ("syn_linear_timeouts", _PLAIN),
    "net.ipv4.tcp_retries1": ("retries1", _PLAIN),
    "net.ipv4.tcp_retries2": ("retries2", _PLAIN),
    "net.ipv4.tcp_orphan_retries": ("orphan_retries", _PLAIN),
    "net.ipv4.tcp_fin_timeout": ("fin_timeout", _SECONDS),
    "net.ipv4.tcp_keepalive_time": ("keepalive_time", _SECONDS),
    "net.ipv4.tcp_keepalive_intvl": ("keepalive_intvl", _SECONDS),
    "net.ipv4.tcp_keepalive_probes": ("keepalive_probes", _PLAIN),
    "net.ipv4.tcp_rmem": ("rmem", _PLAIN),
    "net.ipv4.tcp_wmem": ("wmem", _PLAIN),
    "net.core.rmem_max": ("rmem_max", _PLAIN),
    "net.core.wmem_max": ("wmem_max", _PLAIN),
    "net.ipv4.tcp_moderate_rcvbuf": ("moderate_rcvbuf", _PLAIN),
    "net.ipv4.tcp_window_scaling": ("window_scaling", _PLAIN),
    "net.ipv4.tcp_timestamps": ("timestamps", _PLAIN),
    "net.ipv4.tcp_sack": ("sack", _PLAIN),
    "net.ipv4.tcp_dsack": ("dsack", _PLAIN),
    "net.ipv4.tcp_congestion_control": ("congestion_control", _PLAIN),
    "net.ipv4.tcp_slow_start_after_idle": ("slow_start_after_idle", _PLAIN),
    "net.ipv4.tcp_reordering": ("reordering", _PLAIN),
    "net.ipv4.tcp_max_reordering": ("max_reordering", _PLAIN),
    "net.ipv4.tcp_min_tso_segs": ("min_tso_segs", _PLAIN),
    "net.ipv4.tcp_notsent_lowat": ("notsent_lowat", _PLAIN),
    "net.ipv4.tcp_tso_rtt_log": ("tso_rtt_log", _PLAIN),
    "net.ipv4.tcp_tso_win_divisor": ("tso_win_divisor", _PLAIN),
    "net.ipv4.tcp_pacing_ss_ratio": ("pacing_ss_ratio", _PLAIN),
    "net.ipv4.tcp_pacing_ca_ratio": ("pacing_ca_ratio", _PLAIN),
    "net.ipv4.tcp_recovery": ("recovery", _PLAIN),
    "net.ipv4.tcp_min_rtt_wlen": ("min_rtt_wlen", _SECONDS),
    "net.ipv4.tcp_pingpong_thresh": ("pingpong_thresh", _PLAIN),
    "net.ipv4.tcp_invalid_ratelimit": ("invalid_ratelimit", _MILLIS),
    "net.ipv4.tcp_challenge_ack_limit": ("challenge_ack_limit", _PLAIN),
    "net.ipv4.tcp_rfc1337": ("rfc1337", _PLAIN),
    "net.ipv4.tcp_stdurg": ("stdurg", _PLAIN),
}

# Settings only the host reads, with the default of a Linux 6.18 network namespace.
HOST_SYSCTLS: Final[dict[str, Any]] = {
    "net.ipv4.ip_local_port_range": (32768, 60999),
    "net.ipv4.ip_default_ttl": 64,
    "net.ipv4.ip_forward": 0,  # 1: datagrams for others are routed on (stack/forward.py)
    "net.ipv4.route.min_pmtu": 552,  # the lowest path MTU ICMP can teach; then locked
    "net.ipv4.ipfrag_time": 30,  # seconds a fragment waits for the rest
    "net.ipv4.ipfrag_high_thresh": 4194304,  # bytes of fragments kept at most
    "net.ipv4.ip_no_pmtu_disc": 0,
    "net.ipv4.tcp_syncookies": 1,  # 1: cookies when the SYN queue overflows
    "net.ipv4.tcp_max_syn_backlog": 2048,
    "net.ipv4.tcp_abort_on_overflow": 0,
    "net.ipv4.tcp_tw_reuse": 2,  # 2: reuse TIME_WAIT for loopback connections only
    "net.ipv4.tcp_tw_reuse_delay": 1000,  # ms a TIME_WAIT must have lasted to be reused
    "net.ipv4.tcp_max_tw_buckets": 131072,
    "net.core.somaxconn": 4096,
    # TCP Fast Open: bit 0x1 lets clients use it (tcpkit has no Fast Open server, so
    # the server bits, 0x2 and up, change nothing: a SYN asking for a cookie gets none).
    "net.ipv4.tcp_fastopen": 1,
    # ICMP errors we send are limited per destination (a token bucket: one per
    # icmp_ratelimit ms, bursts of 6) for the types in icmp_ratemask (bits 3, 4, 11, 12:
    # unreachable, source quench, time exceeded, parameter problem).
    "net.ipv4.icmp_ratelimit": 1000,
    "net.ipv4.icmp_ratemask": 6168,
    # Neighbour discovery (net.ipv4.neigh.default.*): ARP tries mcast_solicit times,
    # retrans_time_ms apart, then the neighbour is FAILED and packets to it are lost
    # with EHOSTUNREACH (what connect() reports about 3 s later).
    "net.ipv4.neigh.default.mcast_solicit": 3,
    "net.ipv4.neigh.default.retrans_time_ms": 1000,
    # Packets waiting for an answer, by truesize (oldest dropped first): 101 full frames.
    "net.ipv4.neigh.default.unres_qlen_bytes": 212992,
}


def _proc_value(field: str, unit: str, value: Any) -> Any:
    """A ConnectionConfig value as /proc/sys prints it."""
    if isinstance(value, bool):
        return int(value)
    if unit == _SECONDS:
        return int(value)
    if unit == _MILLIS:
        return round(value * 1000)
    return value


class Sysctls:
    """The sysctl settings of one host (Linux keeps them per network namespace)."""

    __slots__ = ("_host", "connection")

    def __init__(self, **overrides: Any) -> None:
        self.connection = ConnectionConfig()
        self._host = dict(HOST_SYSCTLS)
        for name, value in overrides.items():
            self[name.replace("__", ".")] = value

    def __contains__(self, name: object) -> bool:
        return name in CONNECTION_SYSCTLS or name in self._host

    def __iter__(self) -> Iterator[str]:
        yield from sorted((*CONNECTION_SYSCTLS, *self._host))

    def __getitem__(self, name: str) -> Any:
        if name in CONNECTION_SYSCTLS:
            field, unit = CONNECTION_SYSCTLS[name]
            return _proc_value(field, unit, getattr(self.connection, field))
        if name in self._host:
            return self._host[name]
        raise KeyError(f"no sysctl named {name!r} (tcpkit models: {', '.join(self)})")

    def __setitem__(self, name: str, value: Any) -> None:
        if name in CONNECTION_SYSCTLS:
            field, unit = CONNECTION_SYSCTLS[name]
            current = getattr(self.connection, field)
            converted = self._convert(name, current, value, unit)
            # Sockets made earlier keep the settings they were made with.
            self.connection = self.connection.own()
            setattr(self.connection, field, converted)
            return
        if name not in self._host:
            raise KeyError(f"no sysctl named {name!r}")
        self._host[name] = self._convert(name, self._host[name], value, _PLAIN)

    @staticmethod
    def _convert(name: str, current: Any, value: Any, unit: str) -> Any:
        """``value`` in the type the setting holds; ValueError (Linux: EINVAL) if it
        cannot be one."""
        try:
            if isinstance(current, tuple):
                items = value.split() if isinstance(value, str) else list(value)
                if len(items) != len(current):
                    raise ValueError(f"needs {len(current)} numbers")
                return tuple(int(v) for v in items)
            if isinstance(current, bool):
                return bool(int(value))
            if name == "net.ipv4.tcp_congestion_control":
                if str(value) not in ALGORITHMS:
                    # Linux: ENOENT when the module is not there; EINVAL here.
                    raise ValueError(f"tcpkit has {', '.join(ALGORITHMS)}")
                return str(value)
            if isinstance(current, str):
                return str(value)
            if unit == _MILLIS:
                return int(value) / 1000
            if isinstance(current, float):
                return float(int(value)) if unit == _SECONDS else float(value)
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"sysctl {name}: invalid value {value!r}: {exc}") from None
        if number < 0:
            raise ValueError(f"sysctl {name}: invalid value {value!r}")
        return number

    def connection_config(self) -> ConnectionConfig:
        """The per-connection settings for one new socket: shared by every socket made
        since the last change, copied by the one that sets an option
        (:meth:`ConnectionConfig.own`)."""
        self.connection.shared = True
        return self.connection

    def items(self) -> list[tuple[str, Any]]:
        return [(name, self[name]) for name in self]

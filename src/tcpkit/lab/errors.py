"""What a socket error means for a TCP program, and what to do about it: the socket
errors of the errno table in seed 001 (Linux's numbers), as ``tcpkit explain`` prints
them, with the lab's scenarios that produce each one (found by playing them)."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

from tcpkit.lab.scenario import CATALOGUE


@dataclass(frozen=True, slots=True)
class ErrorNote:
    meaning: str  # what happened, in TCP terms
    advice: str  # what a program should do


NOTES: dict[str, ErrorNote] = {
    "ECONNRESET": ErrorNote(
        "The peer's stack sent a RST: it closed with unread data, aborted (SO_LINGER 0), "
        "crashed and rebooted, or has no such connection any more. Data not yet read "
        "may be lost; Linux still hands over what arrived before the RST.",
        "The connection is over: close the socket. Reconnect if the protocol allows; "
        "on the peer's side, read requests completely before close()."),
    "EPIPE": ErrorNote(
        "Writing to a connection that can no longer send: we shut down writing, or the "
        "connection was reset or closed (often the second write after the peer "
        "closed). C programs also get SIGPIPE, which kills them by default.",
        "Stop writing and close. Read first: b'' from recv() means the peer is done. "
        "Ignore SIGPIPE or use MSG_NOSIGNAL in C (Python ignores it for you)."),
    "ETIMEDOUT": ErrorNote(
        "Our stack gave up: retransmissions unacknowledged (tcp_retries2, about 15 min), "
        "keepalive probes unanswered, TCP_USER_TIMEOUT exceeded, or SYNs unanswered "
        "(tcp_syn_retries, about 2 min for connect()). The peer or the path is gone.",
        "Close and reconnect (maybe elsewhere). To find out sooner, use keepalive with "
        "short timers, TCP_USER_TIMEOUT, or an application heartbeat."),
    "ECONNREFUSED": ErrorNote(
        "The host answered our SYN with a RST: nothing listens on that port (or an ICMP "
        "port unreachable came back). Quick and certain: the host is up.",
        "Check the address and port, and whether the server runs; retry with a delay."),
    "ECONNABORTED": ErrorNote(
        "'Software caused connection abort': the local stack ended the connection. On "
        "Linux accept() does not return it for a connection reset in the queue (it "
        "hands the reset connection over); BSD and POSIX allow it there.",
        "In accept(): ignore it and accept again. Elsewhere: close the socket."),
    "EHOSTUNREACH": ErrorNote(
        "No route to the host: an ICMP host unreachable came back, or the address is on "
        "our link and nobody answered ARP (about 3 s).",
        "The host is down or the address wrong; check it, retry later."),
    "ENETUNREACH": ErrorNote(
        "Network is unreachable: our routing table has no route to the address (or an "
        "ICMP network unreachable came back). Nothing was sent.",
        "A local configuration matter: routes, interface, VPN."),
    "ENETDOWN": ErrorNote(
        "The network interface is down (or, in tcpkit, the host has crashed).",
        "Wait for the interface; reconnect."),
    "EHOSTDOWN": ErrorNote(
        "Host is down: an ICMP host-down report.", "Retry later."),
    "EADDRINUSE": ErrorNote(
        "bind(): the address and port are taken — by another socket, or by a "
        "connection in TIME_WAIT left by a server that closed first.",
        "Set SO_REUSEADDR before bind() (servers always should); pick another port "
        "if another program really listens there."),
    "EADDRNOTAVAIL": ErrorNote(
        "No local address/port to use: the ephemeral port range is used up (often by "
        "TIME_WAIT from many short connections), or bind() to an address not ours.",
        "Reuse connections (keep-alive, pooling), let the server close first, widen "
        "ip_local_port_range, or set tcp_tw_reuse=1."),
    "EAGAIN": ErrorNote(
        "Non-blocking socket: nothing to read yet, or no room to write (EWOULDBLOCK is "
        "the same number). Not an error of the connection.",
        "Wait for readiness (select, selectors, asyncio) and try again."),
    "EINPROGRESS": ErrorNote(
        "Non-blocking connect(): the SYN is on its way.",
        "Wait until the socket is writable, then read SO_ERROR: 0 means connected."),
    "EALREADY": ErrorNote(
        "connect() again while a non-blocking connect is still in progress.",
        "Keep waiting for writability; read SO_ERROR."),
    "EISCONN": ErrorNote(
        "connect() on a socket that is already connected (after a non-blocking connect "
        "completed and was reported once).", "Nothing to do: it is connected."),
    "ENOTCONN": ErrorNote(
        "The socket is not connected: recv/send/getpeername before connect() finished, "
        "or after the connection ended.", "Connect first; check the order of calls."),
    "ESHUTDOWN": ErrorNote(
        "Cannot send after the socket was shut down for writing.", "Stop sending."),
    "EMSGSIZE": ErrorNote(
        "Message too long for the path MTU with DF set (datagram sockets; TCP "
        "segments itself and resends smaller after ICMP fragmentation needed).",
        "For TCP, nothing: see the path-mtu scenario."),
    "ENOBUFS": ErrorNote(
        "No buffer space: the system or the device queue is out of memory.",
        "Back off and retry; look at memory and queue limits."),
    "EINVAL": ErrorNote(
        "An invalid argument or a call in the wrong state (listen() on a connected "
        "socket, a bad option value).", "Fix the program."),
    "EBADF": ErrorNote(
        "The file descriptor is not open: the socket was closed (perhaps by another "
        "thread) and used again.", "Do not use a socket after close(); set it to None."),
    "ENOTSOCK": ErrorNote(
        "The descriptor is not a socket.", "Fix the program."),
    "EOPNOTSUPP": ErrorNote(
        "The operation is not supported on this socket (accept() on a non-listening "
        "socket type, some flags).", "Fix the program."),
    "ENOPROTOOPT": ErrorNote(
        "Unknown socket option (or an ICMP protocol unreachable).",
        "Check the option and level."),
    "EPROTO": ErrorNote(
        "Protocol error (an ICMP parameter problem about our segments).",
        "Close and reconnect; look for a broken middlebox."),
    "EACCES": ErrorNote(
        "Permission denied: a privileged port (< 1024) without the right, or a firewall "
        "rule on our host.", "Use another port or the right capability."),
    "EPERM": ErrorNote(
        "Operation not permitted: often a local firewall (netfilter) dropping what we "
        "send.", "Check the host's firewall rules."),
    "ENETRESET": ErrorNote(
        "Network dropped connection on reset (rare on Linux TCP).", "Reconnect."),
}

ALIASES = {"EWOULDBLOCK": "EAGAIN"}
EXCEPTIONS = {  # the stdlib exception Python raises for each
    "ECONNRESET": "ConnectionResetError", "EPIPE": "BrokenPipeError",
    "ESHUTDOWN": "BrokenPipeError", "ETIMEDOUT": "TimeoutError",
    "ECONNREFUSED": "ConnectionRefusedError", "ECONNABORTED": "ConnectionAbortedError",
    "EAGAIN": "BlockingIOError", "EINPROGRESS": "BlockingIOError",
    "EALREADY": "BlockingIOError",
}


def lookup(word: str) -> str:
    """The errno name for ``ECONNRESET``, ``econnreset``, ``104`` or
    ``ConnectionResetError``; ValueError for anything else."""
    text = word.strip()
    if text.isdigit():
        name = errno.errorcode.get(int(text))
        if name is None:
            raise ValueError(f"{text} is not an errno number on this system")
    else:
        name = ALIASES.get(text.upper(), text.upper())
        by_exception: dict[str, str] = {}
        for errno_name, exception in EXCEPTIONS.items():  # the first is the usual one
            by_exception.setdefault(exception.upper(), errno_name)
        name = by_exception.get(name, name)
    name = ALIASES.get(name, name)
    if name not in NOTES:
        known = ", ".join(sorted(NOTES))
        raise ValueError(f"tcpkit knows no socket error {word!r} (it explains: {known})")
    return name


def producers() -> dict[str, list[str]]:
    """Which scenarios end a call with each errno (by playing the catalogue, with its
    default knobs and with each knob that is off by default turned on)."""
    from tcpkit.lab.run import run_sim  # noqa: PLC0415 (run imports the catalogue)

    found: dict[str, list[str]] = {}
    for scenario in CATALOGUE.values():
        variants: list[dict[str, int]] = [{}]
        variants += [{knob.name: 1} for knob in scenario.knobs if knob.default == 0]
        for knobs in variants:
            outcome = run_sim(scenario, knobs)
            shown = scenario.name + "".join(f" --set {k}={v}" for k, v in knobs.items())
            for call in outcome.calls:
                name = ALIASES.get(call.result, call.result)
                if name in NOTES and shown not in found.setdefault(name, []):
                    found[name].append(shown)
    return found


def explain(word: str) -> str:
    """The text ``tcpkit explain WORD`` prints."""
    name = lookup(word)
    note = NOTES[name]
    number = getattr(errno, name)
    lines = [f"{name} ({number}): {os.strerror(number)}"]
    if name in EXCEPTIONS:
        lines.append(f"Python raises {EXCEPTIONS[name]} (an OSError with errno {number}).")
    lines += ["", "What happened: " + note.meaning, "", "What to do: " + note.advice]
    seen = producers().get(name, [])
    lines.append("")
    if seen:
        lines.append("Scenarios where a program gets it (tcpkit scenario run ...):")
        lines += [f"  {item}" for item in seen]
    else:
        lines.append("No scenario of the lab produces it yet.")
    return "\n".join(lines)

"""What tcpdump appends after ``length N`` for TCP payload on well-known ports.

The text protocols are decoded as tcpdump does (``: HTTP: GET / HTTP/1.1``, FTP, SMTP,
RTSP, WHOIS, the SSH banner). For the binary protocols tcpdump also decodes (telnet
options, BGP, DNS over TCP, Redis, NFS, ...) tcpkit prints a placeholder that says so,
rather than something that looks like tcpdump's decode and is not.
"""

from __future__ import annotations

from collections.abc import Callable

from tcpkit.wire.tcpdump.printer import Printer, is_print

_HTTP_COMMANDS = frozenset(
    [
        "GET", "PUT", "COPY", "HEAD", "LOCK", "MOVE", "POLL", "POST", "BCOPY", "BMOVE",
        "MKCOL", "TRACE", "LABEL", "MERGE", "DELETE", "SEARCH", "UNLOCK", "REPORT",
        "UPDATE", "NOTIFY", "BDELETE", "CONNECT", "OPTIONS", "CHECKIN", "PROPFIND",
        "CHECKOUT", "CCM_POST", "SUBSCRIBE", "PROPPATCH", "BPROPFIND", "BPROPPATCH",
        "UNCHECKOUT", "MKACTIVITY", "MKWORKSPACE", "UNSUBSCRIBE", "RPC_CONNECT",
        "VERSION-CONTROL", "BASELINE-CONTROL",
    ]
)
_RTSP_COMMANDS = frozenset(
    [
        "DESCRIBE", "ANNOUNCE", "GET_PARAMETER", "OPTIONS", "PAUSE", "PLAY", "RECORD",
        "REDIRECT", "SETUP", "SET_PARAMETER", "TEARDOWN",
    ]
)
_MAX_TOKEN = 128

# Ports tcpdump hands to a binary decoder, grouped by where they come in its order of
# tests (first match wins).
_BINARY_AFTER_SMTP: tuple[tuple[tuple[int, ...], str], ...] = (
    ((179,), "BGP"),
    ((1723,), "PPTP"),
    ((6379,), "RESP"),
)
_BINARY_AFTER_SSH: tuple[tuple[tuple[int, ...], str], ...] = (
    ((10288,), "BEEP"),
    ((6633, 6653), "OpenFlow"),
)
_BINARY_AFTER_RTSP: tuple[tuple[tuple[int, ...], str], ...] = (
    ((53,), "DNS"),
    ((639,), "MSDP"),
    ((323,), "RPKI-RTR"),
    ((646,), "LDP"),
)
_NFS_PORT = 2049


def print_tcp_payload(p: Printer, off: int, length: int, sport: int, dport: int) -> None:
    """The decoder tcpdump would run on this payload, by port, in tcpdump's order."""

    def on(*ports: int) -> bool:
        return sport in ports or dport in ports

    if on(23):
        _placeholder(p, "telnet")
    elif on(25):
        p.out(": ")
        _txtproto(p, off, length, "smtp", None)
    elif on(43):
        p.out(": ")
        _txtproto(p, off, length, "whois", None)
    elif found := _first(_BINARY_AFTER_SMTP, on):
        _placeholder(p, found)
    elif on(22):
        _ssh(p, off, length)
    elif found := _first(_BINARY_AFTER_SSH, on):
        _placeholder(p, found)
    elif on(21):
        p.out(": ")
        _txtproto(p, off, length, "ftp", None)
    elif on(80, 8080):
        p.out(": ")
        _txtproto(p, off, length, "http", _HTTP_COMMANDS)
    elif on(554, 8554):
        p.out(": ")
        _txtproto(p, off, length, "rtsp", _RTSP_COMMANDS)
    elif found := _first(_BINARY_AFTER_RTSP, on):
        _placeholder(p, found)
    elif on(_NFS_PORT) and length >= 4 and p.ttest(off, 4):
        _placeholder(p, "NFS")


def _first(table: tuple[tuple[tuple[int, ...], str], ...], on: Callable[..., bool]) -> str:
    for ports, name in table:
        if on(*ports):
            return name
    return ""


def _placeholder(p: Printer, name: str) -> None:
    p.out(f" [tcpkit: {name} payload not decoded]")


def _fetch_token(p: Printer, idx: int, end: int) -> tuple[int, str]:
    """tcpdump's ``fetch_token``: the next space-separated token and where the one after
    it starts, or index 0 if there is none (or it is not printable ASCII)."""
    token: list[str] = []
    while idx < end:
        if not p.ttest(idx, 1):
            return 0, ""
        c = p.u8(idx)
        if c >= 0x80:
            return 0, ""
        if c in (0x20, 0x09, 0x0D, 0x0A):
            break
        if not is_print(c):
            return 0, ""
        if len(token) + 2 > _MAX_TOKEN + 1:
            return 0, ""
        token.append(chr(c))
        idx += 1
    if not token:
        return 0, ""
    while idx < end:
        if not p.ttest(idx, 1):
            break
        c = p.u8(idx)
        if c in (0x0D, 0x0A) or not is_print(c) or c not in (0x20, 0x09):
            break
        idx += 1
    return idx, "".join(token)


def _print_txt_line(p: Printer, prefix: str, start: int, end: int) -> None:
    """tcpdump's ``print_txt_line``: one CRLF/LF-terminated printable line, or nothing."""
    idx = start
    while idx < end:
        c = p.u8(idx)
        if c == 0x0A:
            p.out(prefix + p.data[start:idx].decode("ascii"))
            return
        if c == 0x0D:
            if idx + 1 >= end:
                return
            if p.u8(idx + 1) == 0x0A:
                p.out(prefix + p.data[start:idx].decode("ascii"))
            return
        if not is_print(c) and c != 0x09:
            return
        idx += 1
    p.out(prefix + p.data[start:idx].decode("ascii"))
    p.trunc_mark()


def _txtproto(
    p: Printer, off: int, length: int, protocol: str, commands: frozenset[str] | None
) -> None:
    """tcpdump's ``txtproto_print`` without -v: the protocol in capitals and, for a request
    or response (or any text for command-less protocols), its first line."""
    p.protocol = protocol
    end = off + length
    print_this = commands is None
    if commands is not None:
        idx, token = _fetch_token(p, off, end)
        if idx:
            if token.upper() in commands:
                print_this = True
            idx, token = _fetch_token(p, idx, end)
            if idx and len(token) == 3 and token.isdigit() and token.isascii():
                print_this = True
    p.out(protocol.upper())
    if print_this:
        _print_txt_line(p, ": ", off, end)


def _ssh(p: Printer, off: int, length: int) -> None:
    """tcpdump's ``ssh_print``: the version banner line, if the payload starts with one."""
    p.protocol = "ssh"
    for i, ch in enumerate(b"SSH-"):
        if p.u8(off + i) != ch:
            return
    idx = 4
    while idx < length:
        c = p.u8(off + idx)
        if c == 0x0A:
            break
        if c == 0x0D:
            if idx + 1 >= length or p.u8(off + idx + 1) != 0x0A:
                return
            break
        if not is_print(c):
            return
        idx += 1
    else:
        return
    p.out(": SSH: " + p.data[off : off + idx].decode("ascii"))

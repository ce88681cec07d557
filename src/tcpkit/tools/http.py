"""A small HTTP/1.1 file server and client that run on any socket module.

``serve_http`` serves the files under one directory over a listening socket, and
``fetch`` downloads one ``http://`` URL to a binary file object. Both take the socket
layer as a parameter (a listener made by it, or the module itself), so the same code
runs on the kernel through the stdlib ``socket`` module and on a tcpkit host through
``tcpkit.socket``: they are the payload of ``tcpkit serve http DIR`` and
``tcpkit fetch URL``, traffic that real clients and servers (curl, ``http.server``)
can exchange with a tcpkit host, and a way to move large bodies through the stack.

The messages follow RFC 9112 (framing: Content-Length, chunked, close-delimited;
persistent connections) and RFC 9110 (methods, status codes), with every read bounded.
The server answers GET and HEAD only. Neither side does TLS, DNS (hosts are IPv4
literals or ``localhost``), proxies, content compression, ranges or caching
validators; the client does not follow redirects.
"""

from __future__ import annotations

import contextvars
import email.utils
import hashlib
import html
import http
import io
import ipaddress
import mimetypes
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from tcpkit import __version__

__all__ = ["FetchResult", "HttpError", "fetch", "serve_http"]

# Files and bodies move in pieces of this size: big enough that the per-call cost of
# Python vanishes, small enough that a 100 MB file never sits in memory.
CHUNK = 256 * 1024
MAX_REQUEST_LINE = 8 * 1024  # longer: 414 (RFC 9112 3 suggests at least 8000 octets)
MAX_STATUS_LINE = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024  # the whole field section; longer: 431
MAX_HEADERS = 100
MAX_CHUNK_LINE = 4 * 1024  # chunk size plus extensions
# The server's read buffer must hold the longest line it accepts, with room to spare.
_REQUEST_BUFFER = MAX_HEADER_BYTES + 16 * 1024
IDLE_TIMEOUT = 30.0  # a persistent connection with no request for this long is closed
ACCEPT_POLL = 0.2  # how often the accept loop looks at ``stop``
# Closing with unread input makes TCP send RST, which can destroy the response before the
# client reads it (RFC 9112 9.6): after half-closing, the server drains this much, this long.
LINGER_TIMEOUT = 2.0
LINGER_BYTES = 1024 * 1024

USER_AGENT = f"tcpkit/{__version__}"
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
_STATUS_LINE = re.compile(rb"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?: ([^\r\n]*))?")
_TARGET = re.compile(rb"[\x21-\x7e]+")  # visible ASCII: nothing that could end a header
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_DIGITS = re.compile(r"[0-9]{1,18}")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Connection(Protocol):
    """What both sides need of a connected socket (the stdlib's and tcpkit's have it)."""

    def recv_into(self, buffer: memoryview, /) -> int: ...
    def sendall(self, data: bytes | memoryview, /) -> None: ...
    def settimeout(self, value: float | None, /) -> None: ...
    def shutdown(self, how: int, /) -> None: ...
    def close(self) -> None: ...


class Listener(Protocol):
    """What the server needs of a listening socket."""

    def accept(self) -> tuple[Any, Any]: ...
    def settimeout(self, value: float | None, /) -> None: ...
    def fileno(self) -> int: ...


class SocketModule(Protocol):
    """What the client needs of a socket module: ``socket`` or ``tcpkit.socket``."""

    def create_connection(self, address: tuple[str, int], timeout: float | None = ...,
                          /) -> Any: ...


class HttpError(Exception):
    """A message that breaks HTTP/1.1's syntax or framing, or a body cut short."""


class _TooLong(HttpError):
    """A line or a field section past its bound."""


@dataclass(frozen=True)
class FetchResult:
    """What ``fetch`` received: the final status, the header fields in their order and
    spelling, and the size and SHA-256 of the body written out."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    length: int
    sha256: str


# -- reading: shared by both sides ------------------------------------------------------------


class _Reader:
    """Lines and body pieces from a socket, through one reusable buffer; what a read
    brought past the current line stays buffered for the next message part."""

    def __init__(self, sock: Connection, size: int) -> None:
        self._sock = sock
        self._buf = bytearray(size)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0

    def _fill(self) -> int:
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(self._buf):
            kept = bytes(self._view[self._start:self._end])
            self._view[:len(kept)] = kept
            self._start, self._end = 0, len(kept)
        received = self._sock.recv_into(self._view[self._end:])
        self._end += received
        return received

    def readline(self, limit: int) -> bytes:
        """One line with its LF, at most ``limit`` bytes long; b"" at EOF before it."""
        scanned = 0  # how far past _start is known to hold no LF (_fill may move _start)
        while True:
            found = self._buf.find(b"\n", self._start + scanned, self._end)
            if found >= 0:
                if found + 1 - self._start > limit:
                    raise _TooLong(f"line longer than {limit} bytes")
                line = bytes(self._view[self._start:found + 1])
                self._start = found + 1
                return line
            scanned = self._end - self._start
            if scanned >= limit:
                raise _TooLong(f"line longer than {limit} bytes")
            if not self._fill():
                if scanned:
                    raise HttpError("connection closed in the middle of a line")
                return b""

    def read_some(self, limit: int) -> memoryview:
        """Up to ``limit`` bytes, valid until the next call: what is buffered, else what
        one receive brings; empty at EOF."""
        if self._start == self._end and not self._fill():
            return self._view[:0]
        piece = self._view[self._start:min(self._end, self._start + limit)]
        self._start += len(piece)
        return piece


def _strip_eol(line: bytes) -> bytes:
    # RFC 9112 2.2: a recipient may take a bare LF as the end of a line.
    return line[:-2] if line.endswith(b"\r\n") else line.rstrip(b"\n")


def _read_fields(reader: _Reader, *, fold: bool) -> list[tuple[str, str]]:
    """A field section up to its empty line (RFC 9112 5). ``fold``: join obsolete line
    folding into the previous value, as a user agent must; a server rejects it."""
    fields: list[tuple[str, str]] = []
    budget = MAX_HEADER_BYTES
    while True:
        if budget <= 0:
            raise _TooLong(f"header section longer than {MAX_HEADER_BYTES} bytes")
        line = reader.readline(budget)
        if not line:
            raise HttpError("connection closed in the header section")
        budget -= len(line)
        line = _strip_eol(line)
        if not line:
            return fields
        if line[:1] in (b" ", b"\t"):
            if not (fold and fields):
                raise HttpError("obsolete line folding in a header field")
            name, value = fields.pop()
            fields.append((name, f"{value} {_field_value(line)}"))
            continue
        if len(fields) >= MAX_HEADERS:
            raise _TooLong(f"more than {MAX_HEADERS} header fields")
        fields.append(_parse_field(line))


def _parse_field(line: bytes) -> tuple[str, str]:
    name, colon, value = line.partition(b":")
    # No whitespace before the colon (RFC 9112 5.1): it is how requests get smuggled.
    if not colon or not _TOKEN.fullmatch(name):
        raise HttpError(f"malformed header field {line[:60]!r}")
    return name.decode("ascii"), _field_value(value)


def _field_value(value: bytes) -> str:
    value = value.strip(b" \t")
    if b"\r" in value or b"\0" in value:
        raise HttpError("CR or NUL in a header field value")
    return value.decode("latin-1")  # RFC 9110 5.5: octets beyond ASCII are opaque


def _values(headers: list[tuple[str, str]], name: str) -> list[str]:
    """Every comma-separated element of every field called ``name``."""
    return [item.strip() for key, value in headers if key.lower() == name
            for item in value.split(",") if item.strip()]


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    values = _values(headers, "content-length")
    if not values:
        return None
    # Repeats are allowed only if they agree (RFC 9112 6.3, step 5).
    if any(not _DIGITS.fullmatch(v) for v in values) or len(set(values)) > 1:
        raise HttpError(f"invalid Content-Length {', '.join(values)!r}")
    return int(values[0])


_Sink = Callable[[memoryview], None]


def _copy_exact(reader: _Reader, size: int, sink: _Sink) -> None:
    remaining = size
    while remaining:
        piece = reader.read_some(remaining)
        if not piece:
            raise HttpError(f"connection closed after {size - remaining} of {size} "
                            "body bytes")
        sink(piece)
        remaining -= len(piece)


def _copy_until_close(reader: _Reader, sink: _Sink) -> None:
    while piece := reader.read_some(CHUNK):
        sink(piece)


def _copy_chunked(reader: _Reader, sink: _Sink) -> None:
    """The chunked transfer coding (RFC 9112 7.1); trailer fields are read and dropped,
    as nothing here could use them."""
    while size := _chunk_size(reader.readline(MAX_CHUNK_LINE)):
        _copy_exact(reader, size, sink)
        try:
            end = reader.readline(2)
        except _TooLong:
            end = b"?"
        if end not in (b"\r\n", b"\n"):
            raise HttpError("chunk data not followed by CRLF")
    _read_fields(reader, fold=True)


def _chunk_size(line: bytes) -> int:
    if not line:
        raise HttpError("connection closed in a chunked body")
    size = _strip_eol(line).partition(b";")[0].strip(b" \t")
    if not _HEX.fullmatch(size):
        raise HttpError(f"malformed chunk size line {line[:40]!r}")
    return int(size, 16)


def _discard(piece: memoryview) -> None:
    del piece


# -- the server -------------------------------------------------------------------------------


@dataclass
class _Request:
    line: str  # as received, for the log
    method: str
    target: str
    version: tuple[int, int]
    headers: list[tuple[str, str]]


class _Reject(Exception):
    """A request answered with an error status instead of a file."""

    def __init__(self, status: int, line: str = "-") -> None:
        super().__init__(status)
        self.status = status
        self.line = line


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    file: io.BufferedReader | None = None  # sent instead of body, ``length`` bytes of it
    length: int = 0
    close: bool = False  # close after it: the request was cut short or is unread

    def __post_init__(self) -> None:
        if self.file is None:
            self.length = len(self.body)


def serve_http(listener: Listener, root: Path, *, log: Callable[[str], None] | None = None,
               stop: threading.Event | None = None) -> None:
    """Serve GET and HEAD for the files under ``root`` on an already listening socket,
    one daemon thread per connection, until ``stop`` is set or the listener is closed
    (the caller closes it; this sets its timeout to ACCEPT_POLL). Connections answer the
    request in progress and close after ``stop``; an idle one closes after IDLE_TIMEOUT.
    ``log`` gets one common-log-format line per request."""
    stop = stop if stop is not None else threading.Event()
    site = _Site(root.resolve(), log, stop)
    if not mimetypes.inited:
        mimetypes.init()  # once, here: lazy initialisation from many threads races
    try:
        listener.settimeout(ACCEPT_POLL)
    except OSError:
        if listener.fileno() == -1:
            return  # closed before we started
        raise
    while not stop.is_set():
        try:
            conn, peer = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            if listener.fileno() == -1:
                return
            # ECONNABORTED, EMFILE and the like: the listener itself is fine.
            stop.wait(ACCEPT_POLL)
            continue
        # In the caller's context: tcpkit.socket's current host is a context variable.
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(site.serve, conn, peer), daemon=True,
                         name=f"http {peer}").start()


class _Site:
    """One served directory: answers the requests of every connection."""

    def __init__(self, root: Path, log: Callable[[str], None] | None,
                 stop: threading.Event) -> None:
        self.root = root
        self.log = log
        self.stop = stop

    def serve(self, conn: Connection, peer: Any) -> None:
        client = peer[0] if isinstance(peer, tuple) else str(peer)
        try:
            conn.settimeout(IDLE_TIMEOUT)
            reader = _Reader(conn, _REQUEST_BUFFER)
            while self._exchange(conn, reader, client) and not self.stop.is_set():
                pass
            _linger(conn, reader)
        except (OSError, HttpError):
            pass  # the client went away, stalled or broke the framing: nobody to tell
        finally:
            conn.close()

    def _exchange(self, conn: Connection, reader: _Reader, client: str) -> bool:
        """One request and its response; whether the connection stays open."""
        try:
            request = _read_request(reader)
            if request is None:
                return False
            response = self._respond(request, reader)
        except _Reject as reject:
            response = _error(reject.status)
            response.close = True
            # A client that said HEAD, however badly, expects no body.
            request = _Request(reject.line, reject.line.partition(" ")[0], "", (1, 1), [])
        keep = not response.close and _persistent(request) and not self.stop.is_set()
        sent = _send(conn, response, request.method == "HEAD", keep)
        self._log(client, request.line, response.status, sent)
        return keep

    def _respond(self, request: _Request, reader: _Reader) -> _Response:
        if request.method not in ("GET", "HEAD"):
            response = _error(405)
            response.headers.append(("Allow", "GET, HEAD"))
            response.close = True  # its body, if any, is still unread
            return response
        _skip_request_body(request, reader)
        try:
            return _locate_and_open(self.root, request.target)
        except _Reject as reject:  # the request was well framed: the connection goes on
            return _error(reject.status)

    def _log(self, client: str, line: str, status: int, sent: int) -> None:
        if self.log is not None:
            size = str(sent) if sent else "-"
            self.log(f'{client} - - [{_log_time(time.time())}] "{_printable(line)}" '
                     f"{status} {size}")


def _read_request(reader: _Reader) -> _Request | None:
    """The request line and header fields; None if the client closed before a request."""
    line = _first_line(reader)
    if not line:
        return None
    text = _strip_eol(line).decode("latin-1")
    method, target, version = _parse_request_line(_strip_eol(line), text)
    try:
        headers = _read_fields(reader, fold=False)
    except _TooLong:
        raise _Reject(431, text) from None
    except HttpError:
        raise _Reject(400, text) from None
    # RFC 9112 3.2: an HTTP/1.1 request needs exactly one Host.
    hosts = [value for name, value in headers if name.lower() == "host"]
    if len(hosts) > 1 or (version >= (1, 1) and not hosts):
        raise _Reject(400, text)
    return _Request(text, method, target, version, headers)


def _first_line(reader: _Reader) -> bytes:
    try:
        line = reader.readline(MAX_REQUEST_LINE)
        # RFC 9112 2.2: empty lines before a request line are ignored (a few of them).
        for _ in range(4):
            if line not in (b"\r\n", b"\n"):
                break
            line = reader.readline(MAX_REQUEST_LINE)
    except _TooLong:
        raise _Reject(414) from None
    except HttpError:
        raise _Reject(400) from None
    return line


def _parse_request_line(line: bytes, text: str) -> tuple[str, str, tuple[int, int]]:
    parts = line.split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
        raise _Reject(400, text)
    version = _VERSION.fullmatch(parts[2])
    if version is None:
        raise _Reject(400, text)
    major, minor = int(version[1]), int(version[2])
    if major != 1:
        raise _Reject(505, text)
    target = parts[1].decode("ascii")
    # Origin form, or absolute form (RFC 9112 3.2); the others are for CONNECT and OPTIONS.
    if not target.startswith(("/", "http://")):
        raise _Reject(400, text)
    return parts[0].decode("ascii"), target, (major, minor)


def _persistent(request: _Request) -> bool:
    # HTTP/1.0 keep-alive is an extension this server does not offer.
    if request.version < (1, 1):
        return False
    return "close" not in (token.lower() for token in _values(request.headers, "connection"))


def _skip_request_body(request: _Request, reader: _Reader) -> None:
    """A GET or HEAD body means nothing (RFC 9110 9.3.1) but must be read past to find
    the next request."""
    codings = [c.lower() for c in _values(request.headers, "transfer-encoding")]
    try:
        length = _content_length(request.headers)
    except HttpError:
        raise _Reject(400, request.line) from None
    if codings and length is not None:
        raise _Reject(400, request.line)  # RFC 9112 6.3: a smuggling attempt, likely
    if codings and codings != ["chunked"]:
        raise _Reject(501, request.line)
    try:
        if codings:
            _copy_chunked(reader, _discard)
        elif length:
            _copy_exact(reader, length, _discard)
    except HttpError:
        raise _Reject(400, request.line) from None


def _locate_and_open(root: Path, target: str) -> _Response:
    path, query = _split_target(target)
    found = _locate(root, path)
    if found.is_dir():
        if not path.endswith("/"):
            # Relative links in the page only work from a URL that ends in a slash. One
            # leading slash only: "//host/" would send the client to another site.
            location = "/" + path.lstrip("/") + "/" + (f"?{query}" if query else "")
            return _Response(301, [("Location", location)], b"301 Moved Permanently\n")
        index = found / "index.html"
        if not index.is_file():
            return _listing(found, path)
        found = _within(root, index)
    return _open_file(found)


def _split_target(target: str) -> tuple[str, str]:
    if target.startswith("http://"):  # absolute form, which servers must accept
        target = "/" + target[len("http://"):].partition("/")[2]
    path, _, query = target.partition("#")[0].partition("?")
    return path, query


def _locate(root: Path, path: str) -> Path:
    # Decoding first, then splitting, so that %2F and %2e%2e cannot hide a "..".
    name = os.fsdecode(urllib.parse.unquote_to_bytes(path))
    if "\0" in name:
        raise _Reject(400)
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _Reject(403)
    return _within(root, root.joinpath(*parts))


def _within(root: Path, path: Path) -> Path:
    """``path`` with its symlinks resolved, if that is still under ``root``."""
    try:
        resolved = path.resolve()
        exists = resolved.exists()
    except (OSError, RuntimeError):  # symlink loops, names too long
        raise _Reject(404) from None
    if not resolved.is_relative_to(root):
        raise _Reject(403)
    if not exists:
        raise _Reject(404)
    return resolved


def _open_file(path: Path) -> _Response:
    if not path.is_file():
        raise _Reject(403)  # a FIFO or a device: opening it could block forever
    try:
        file = path.open("rb")
    except PermissionError:
        raise _Reject(403) from None
    except OSError:
        raise _Reject(404) from None
    stat = os.fstat(file.fileno())
    headers = [("Content-Type", _content_type(path.name)),
               ("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))]
    return _Response(200, headers, file=file, length=stat.st_size)


def _content_type(name: str) -> str:
    kind, encoding = mimetypes.guess_type(name)
    if kind is None or encoding is not None:
        # A .gz served as its inner type would be decompressed by clients, wrongly.
        return "application/octet-stream"
    return kind


def _listing(directory: Path, path: str) -> _Response:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        raise _Reject(403) from None
    shown = html.escape(urllib.parse.unquote(path))
    items = [] if path == "/" else ['<li><a href="../">../</a></li>']
    for entry in entries:
        name = entry.name + ("/" if entry.is_dir() else "")
        link = urllib.parse.quote(os.fsencode(name))
        items.append(f'<li><a href="{link}">{html.escape(name)}</a></li>')
    page = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Index of {shown}'
            f"</title></head>\n<body><h1>Index of {shown}</h1>\n<ul>\n"
            + "\n".join(items) + "\n</ul></body></html>\n")
    body = page.encode("utf-8", "replace")  # names that are not UTF-8 show as "?"
    return _Response(200, [("Content-Type", "text/html; charset=utf-8")], body)


def _error(status: int) -> _Response:
    phrase = http.HTTPStatus(status).phrase
    return _Response(status, [("Content-Type", "text/plain; charset=utf-8")],
                     f"{status} {phrase}\n".encode())


def _send(conn: Connection, response: _Response, head_only: bool, keep: bool) -> int:
    """Send the response; the number of body bytes sent."""
    head = _head(response, keep)
    if head_only:
        if response.file is not None:
            response.file.close()
        conn.sendall(head)
        return 0
    if response.file is None:
        conn.sendall(head + response.body)
        return response.length
    with response.file as file:
        return _send_file(conn, head, file, response.length)


def _head(response: _Response, keep: bool) -> bytes:
    status = response.status
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
             f"Date: {email.utils.formatdate(usegmt=True)}",
             f"Server: {USER_AGENT}",
             *(f"{name}: {value}" for name, value in response.headers),
             f"Content-Length: {response.length}"]
    if not keep:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send_file(conn: Connection, head: bytes, file: io.BufferedReader, size: int) -> int:
    """The head and ``size`` bytes of the file, read into one buffer piece by piece. The
    head shares the first piece so that a small file goes out in one write."""
    buffer = memoryview(bytearray(max(CHUNK, len(head))))
    buffer[:len(head)] = head
    filled, sent = len(head), 0
    while True:
        want = min(size - sent, len(buffer) - filled)
        got = file.readinto(buffer[filled:filled + want]) if want else 0
        if want and not got:
            # The file shrank under us: the promised length cannot be kept.
            raise HttpError(f"file ended after {sent} of {size} bytes")
        conn.sendall(buffer[:filled + got])
        sent += got
        if sent >= size:
            return sent
        filled = 0


def _linger(conn: Connection, reader: _Reader) -> None:
    """Half-close and read what the client still sends until it closes too (see
    LINGER_TIMEOUT)."""
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(LINGER_TIMEOUT)
    drained = 0
    while drained < LINGER_BYTES and (piece := reader.read_some(CHUNK)):
        drained += len(piece)


def _log_time(now: float) -> str:
    # Built by hand: strftime's %b follows the locale, the log format does not.
    t = time.localtime(now)
    offset = t.tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset), 60)
    return (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{hours:02d}{minutes:02d}")


_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]} | {0x22: '\\"'}


def _printable(line: str) -> str:
    # The request line is the client's: it must not forge log lines or break the quotes.
    return line[:200].translate(_CONTROL).encode("ascii", "backslashreplace").decode()


# -- the client -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Url:
    address: str  # what to connect to
    port: int
    host: str  # the Host field
    target: str


def fetch(url: str, *, socket_module: SocketModule, out: BinaryIO,
          timeout: float | None = 30, progress: Callable[[int, int | None], None] | None = None,
          ) -> FetchResult:
    """GET ``url`` with ``socket_module`` and write the body to ``out``. ``progress`` is
    called with (bytes so far, Content-Length or None) after each piece. Any status is
    returned; a malformed or cut-short response raises HttpError, a stall TimeoutError."""
    parsed = _parse_url(url)
    sock = socket_module.create_connection((parsed.address, parsed.port), timeout)
    try:
        sock.sendall(_request_bytes(parsed))
        reader = _Reader(sock, CHUNK)
        status, reason, headers = _read_final_head(reader)
        sink = _Body(out, progress)
        _read_body(reader, status, headers, sink)
    finally:
        sock.close()
    return FetchResult(status, reason, headers, sink.received, sink.hash.hexdigest())


def _parse_url(url: str) -> _Url:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "http":
        raise ValueError(f"only http:// URLs are supported (no TLS), not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"credentials in URLs are not supported: {url!r}")
    host = parts.hostname or ""
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"bad port in {url!r}: {exc}") from None
    if host == "localhost":
        address = "127.0.0.1"
    else:
        try:
            address = str(ipaddress.IPv4Address(host))
        except ValueError:
            raise ValueError(f"the host must be an IPv4 address or localhost (tcpkit has "
                             f"no DNS), not {host!r}") from None
    host_field = host if port == 80 else f"{host}:{port}"
    # Spaces, controls and non-ASCII are escaped; what is already escaped stays so.
    target = urllib.parse.quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        target += "?" + urllib.parse.quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    return _Url(address, port, host_field, target)


def _request_bytes(url: _Url) -> bytes:
    return (f"GET {url.target} HTTP/1.1\r\nHost: {url.host}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode("ascii")


def _read_final_head(reader: _Reader) -> tuple[int, str, list[tuple[str, str]]]:
    """The status line and fields of the final response, past any 1xx interim ones."""
    while True:
        status, reason = _read_status_line(reader)
        headers = _read_fields(reader, fold=True)
        if status == 101:
            raise HttpError("101 Switching Protocols to a request that asked for no upgrade")
        if status >= 200:
            return status, reason, headers


def _read_status_line(reader: _Reader) -> tuple[int, str]:
    line = reader.readline(MAX_STATUS_LINE)
    if not line:
        raise HttpError("connection closed before the status line")
    match = _STATUS_LINE.fullmatch(_strip_eol(line))
    if match is None:
        raise HttpError(f"malformed status line {line[:80]!r}")
    if match[1] != b"1":
        raise HttpError(f"not an HTTP/1.x response: {line[:80]!r}")
    status = int(match[3])
    if status < 100:
        raise HttpError(f"status code {status} out of range")
    return status, (match[4] or b"").decode("latin-1")


class _Body:
    """Where the body goes: the output, the hash and the progress callback."""

    def __init__(self, out: BinaryIO,
                 progress: Callable[[int, int | None], None] | None) -> None:
        self.out = out
        self.progress = progress
        self.hash = hashlib.sha256()
        self.received = 0
        self.total: int | None = None

    def __call__(self, piece: memoryview) -> None:
        self.out.write(piece)
        self.hash.update(piece)
        self.received += len(piece)
        if self.progress is not None:
            self.progress(self.received, self.total)


def _read_body(reader: _Reader, status: int, headers: list[tuple[str, str]],
               sink: _Body) -> None:
    """The body, framed as RFC 9112 6.3 says for a response to GET."""
    if status in (204, 304):
        return
    codings = [c.lower() for c in _values(headers, "transfer-encoding")]
    if codings:
        # Transfer-Encoding overrides Content-Length. Only chunked: nothing here asked
        # for compression.
        if codings != ["chunked"]:
            raise HttpError(f"unsupported transfer coding {', '.join(codings)!r}")
        _copy_chunked(reader, sink)
        return
    sink.total = _content_length(headers)
    if sink.total is None:
        _copy_until_close(reader, sink)
    else:
        _copy_exact(reader, sink.total, sink)

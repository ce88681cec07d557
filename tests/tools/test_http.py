"""tcpkit.tools.http: the server and the client on tcpkit's loopback host and on the
kernel's, each checked against programs nobody here wrote (curl, urllib,
``python -m http.server``) and against hand-made raw exchanges."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import socket as stdlib
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

import pytest

import tcpkit
import tcpkit.socket as tsocket
from tcpkit.tools.http import HttpError, fetch, serve_http
from tests.conftest import require_tool

WAIT = 10.0  # bound on any wait, so that a bug fails a test instead of hanging it
HELLO = b"hello, world\n"
SECRET = b"outside the root\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """www/ holds the served files; secret.txt sits beside it, where no URL may reach."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    www = tmp_path / "www"
    (www / "docs").mkdir(parents=True)
    (www / "sub").mkdir()
    (www / "hello.txt").write_bytes(HELLO)
    (www / "docs" / "a b.txt").write_bytes(b"spaced\n")
    (www / "docs" / "<x>.html").write_bytes(b"<p>x</p>\n")
    (www / "docs" / "inner").mkdir()
    (www / "sub" / "index.html").write_bytes(b"<p>index</p>\n")
    (www / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (www / "outside").symlink_to(tmp_path)
    return www


@dataclass
class Server:
    module: ModuleType
    port: int
    logs: list[str]
    root: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def serving(module: ModuleType, root: Path) -> Iterator[Server]:
    listener = module.create_server(("127.0.0.1", 0))
    logs: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=serve_http, args=(listener, root),
                              kwargs={"log": logs.append, "stop": stop}, daemon=True)
    thread.start()
    try:
        yield Server(module, listener.getsockname()[1], logs, root)
    finally:
        stop.set()
        thread.join(WAIT)
        listener.close()
    assert not thread.is_alive(), "serve_http did not return after stop was set"


@pytest.fixture(params=["tcpkit", "kernel"])
def server(request: pytest.FixtureRequest, root: Path) -> Iterator[Server]:
    """serve_http on tcpkit's loopback host and on the kernel's; clients use the same."""
    module = tsocket if request.param == "tcpkit" else stdlib
    with serving(module, root) as running:
        yield running


@pytest.fixture
def kernel_server(root: Path) -> Iterator[Server]:
    with serving(stdlib, root) as running:
        yield running


def get(server: Server, path: str) -> tuple[Any, bytes]:
    out = io.BytesIO()
    result = fetch(server.url(path), socket_module=server.module, out=out, timeout=WAIT)
    assert result.length == len(out.getvalue())
    assert result.sha256 == hashlib.sha256(out.getvalue()).hexdigest()
    return result, out.getvalue()


def header(result: Any, name: str) -> str:
    values = [value for key, value in result.headers if key.lower() == name.lower()]
    assert len(values) == 1, (name, result.headers)
    return str(values[0])


# -- raw exchanges: the bytes on the wire, read by a parser independent of the module --------


def connect(server: Server) -> Any:
    sock = server.module.create_connection(("127.0.0.1", server.port))
    sock.settimeout(WAIT)
    return sock


def read_response(stream: BinaryIO, *, head: bool = False) -> tuple[int, dict[str, str], bytes]:
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    fields: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        fields[name.strip().lower()] = value.strip()
    length = 0 if head else int(fields["content-length"])
    body = stream.read(length)
    assert len(body) == length
    return int(status_line.split()[1]), fields, body


def exchange(server: Server, request: bytes, *, head: bool = False
             ) -> tuple[int, dict[str, str], bytes, bytes]:
    """Send ``request``, read one response and then everything up to the server's close."""
    with connect(server) as sock:
        sock.sendall(request)
        stream = sock.makefile("rb")
        status, fields, body = read_response(stream, head=head)
        rest = stream.read()
        stream.close()
    return status, fields, body, rest


def simple(target: str, *, method: str = "GET", version: str = "HTTP/1.1") -> bytes:
    return (f"{method} {target} {version}\r\nHost: 127.0.0.1\r\n"
            "Connection: close\r\n\r\n").encode("latin-1")


# -- serving files ----------------------------------------------------------------------------


def test_fetch_a_file(server: Server) -> None:
    result, body = get(server, "/hello.txt")
    assert (result.status, result.reason, body) == (200, "OK", HELLO)
    assert header(result, "Content-Length") == str(len(HELLO))
    assert header(result, "Content-Type") == "text/plain"
    assert result.sha256 == hashlib.sha256(HELLO).hexdigest()


def test_twenty_megabytes_over_tcpkit_loopback(root: Path, tmp_path: Path) -> None:
    data = os.urandom(20 * 1024 * 1024)
    (root / "big.bin").write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    with serving(tsocket, root) as server, (tmp_path / "got.bin").open("wb") as out:
        result = fetch(server.url("/big.bin"), socket_module=tsocket, out=out,
                       timeout=WAIT, progress=lambda done, total: seen.append((done, total)))
    assert result.status == 200
    assert result.length == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert hashlib.sha256((tmp_path / "got.bin").read_bytes()).digest() == \
        hashlib.sha256(data).digest()
    assert seen[-1] == (len(data), len(data))
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})


def test_not_found(server: Server) -> None:
    result, body = get(server, "/missing.txt")
    assert (result.status, body) == (404, b"404 Not Found\n")


def test_head_sends_the_headers_of_get_and_no_body(server: Server) -> None:
    status, fields, _, rest = exchange(server, simple("/hello.txt", method="HEAD"), head=True)
    assert status == 200
    assert fields["content-length"] == str(len(HELLO))
    assert rest == b""


def test_directory_listing(server: Server) -> None:
    result, body = get(server, "/docs/")
    assert result.status == 200
    assert header(result, "Content-Type") == "text/html; charset=utf-8"
    page = body.decode()
    assert '<a href="a%20b.txt">a b.txt</a>' in page
    assert '<a href="%3Cx%3E.html">&lt;x&gt;.html</a>' in page
    assert '<a href="inner/">inner/</a>' in page
    assert '<a href="../">' in page


def test_a_directory_without_its_slash_is_redirected(server: Server) -> None:
    result, _ = get(server, "/docs?x=1")
    assert result.status == 301
    assert header(result, "Location") == "/docs/?x=1"


def test_a_directory_with_an_index_serves_it(server: Server) -> None:
    assert get(server, "/sub/")[1] == b"<p>index</p>\n"
    assert get(server, "/docs/a%20b.txt")[1] == b"spaced\n"


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/docs/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
    "/docs/..%2f..%2fsecret.txt", "/./../secret.txt", "/escape.txt", "/outside/secret.txt",
    "http://127.0.0.1/../secret.txt", "//../secret.txt", "/..\\secret.txt",
])
def test_nothing_outside_the_root_is_served(server: Server, target: str) -> None:
    status, _, body, _ = exchange(server, simple(target))
    assert status in (403, 404)
    assert SECRET not in body


def test_no_redirect_leaves_the_site(server: Server) -> None:
    # "//docs/" in a Location would be another host called "docs".
    status, fields, _, _ = exchange(server, simple("//docs"))
    assert (status, fields["location"]) == (301, "/docs/")


def test_keep_alive_serves_two_requests_on_one_connection(server: Server) -> None:
    with connect(server) as sock:
        stream = sock.makefile("rb")
        sock.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(stream)[::2] == (200, HELLO)
        sock.sendall(b"GET /sub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, fields, body = read_response(stream)
        assert (status, body, fields["connection"]) == (200, b"<p>index</p>\n", "close")
        assert stream.read() == b""  # Connection: close was honoured
        stream.close()


def test_pipelined_requests_are_answered_in_order(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"HEAD /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /sub/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        stream = sock.makefile("rb")
        assert read_response(stream)[0] == 200
        assert read_response(stream, head=True)[0] == 404
        assert read_response(stream)[::2] == (200, b"<p>index</p>\n")
        assert stream.read() == b""
        stream.close()


def test_http_1_0_closes_after_the_response(server: Server) -> None:
    status, fields, body, rest = exchange(server, b"GET /hello.txt HTTP/1.0\r\n\r\n")
    assert (status, body, fields["connection"], rest) == (200, HELLO, "close", b"")


def test_a_get_body_is_skipped_and_the_connection_kept(server: Server) -> None:
    with connect(server) as sock:
        stream = sock.makefile("rb")
        sock.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
                     b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"3\r\nabc\r\n0\r\n\r\n"
                     b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for _ in range(3):
            assert read_response(stream)[::2] == (200, HELLO)
        stream.close()


def test_other_methods_get_405(server: Server) -> None:
    status, fields, _, rest = exchange(
        server, b"POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    assert (status, fields["allow"], rest) == (405, "GET, HEAD", b"")


@pytest.mark.parametrize("request_bytes", [
    b"GET /hello.txt\r\n\r\n",
    b"GET  /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /hello.txt HTTQ/1.1\r\nHost: x\r\n\r\n",
    b"GET /hello.txt HTTP/1.1\r\n\r\n",  # no Host
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    b"GET /hello.txt HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n",
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
])
def test_malformed_requests_get_400(server: Server, request_bytes: bytes) -> None:
    status, fields, _, rest = exchange(server, request_bytes)
    assert (status, fields["connection"], rest) == (400, "close", b"")


def test_a_nul_in_the_path_gets_400(server: Server) -> None:
    assert exchange(server, simple("/hello.txt%00.html"))[0] == 400


def test_http_2_gets_505(server: Server) -> None:
    assert exchange(server, simple("/hello.txt", version="HTTP/2.0"))[0] == 505


def test_a_huge_request_line_gets_414(server: Server) -> None:
    assert exchange(server, simple("/" + "a" * 10_000))[0] == 414


@pytest.mark.parametrize("fields", [
    b"X-Big: " + b"b" * 70_000 + b"\r\n",
    b"".join(b"X-%d: 1\r\n" % n for n in range(150)),
])
def test_huge_headers_get_431(server: Server, fields: bytes) -> None:
    request = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"
    assert exchange(server, request)[0] == 431


def test_one_common_log_format_line_per_request(server: Server) -> None:
    exchange(server, simple("/hello.txt"))
    exchange(server, simple('/a"b\x7f', method="HEAD"), head=True)
    date = r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]"
    assert re.fullmatch(rf'127\.0\.0\.1 - - {date} "GET /hello.txt HTTP/1\.1" 200 13',
                        server.logs[0]), server.logs
    assert re.fullmatch(rf'127\.0\.0\.1 - - {date} "HEAD /a\\"b\\x7f HTTP/1\.1" 400 -',
                        server.logs[1]), server.logs


@pytest.mark.parametrize("module", [tsocket, stdlib], ids=["tcpkit", "kernel"])
@pytest.mark.parametrize("serve_first", [False, True])
def test_serve_http_returns_when_the_listener_is_closed(root: Path, module: ModuleType,
                                                        serve_first: bool) -> None:
    listener = module.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    thread = threading.Thread(target=serve_http, args=(listener, root), daemon=True)
    if serve_first:  # closed while the accept loop runs
        thread.start()
        result = fetch(f"http://127.0.0.1:{port}/hello.txt", socket_module=module,
                       out=io.BytesIO(), timeout=WAIT)
        assert result.status == 200
        listener.close()
    else:  # closed before serve_http is called
        listener.close()
        thread.start()
    thread.join(WAIT)
    assert not thread.is_alive()


# -- cross-checks with programs nobody here wrote, on the kernel's loopback --------------------


def test_curl_fetches_from_serve_http(kernel_server: Server, tmp_path: Path) -> None:
    curl = require_tool("curl")
    data = os.urandom(3 * 1024 * 1024 + 7)
    (kernel_server.root / "data.bin").write_bytes(data)
    out = tmp_path / "curl.out"
    done = subprocess.run(
        [curl, "-sS", "--max-time", str(WAIT), "-o", str(out), "-w", "%{http_code}",
         kernel_server.url("/data.bin")], capture_output=True, text=True, check=True)
    assert done.stdout == "200"
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_curl_reuses_the_connection_and_sees_404_and_head(kernel_server: Server) -> None:
    curl = require_tool("curl")
    done = subprocess.run(
        [curl, "-sS", "--max-time", str(WAIT), "-o", "/dev/null", "-o", "/dev/null",
         "-w", "%{http_code} %{num_connects}\n",
         kernel_server.url("/hello.txt"), kernel_server.url("/nothing")],
        capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["200 1", "404 0"]  # the second reused the first
    head = subprocess.run([curl, "-sS", "--max-time", str(WAIT), "-I",
                           kernel_server.url("/hello.txt")],
                          capture_output=True, text=True, check=True)
    assert f"Content-Length: {len(HELLO)}" in head.stdout.splitlines()


def test_urllib_fetches_from_serve_http(kernel_server: Server) -> None:
    with urllib.request.urlopen(kernel_server.url("/hello.txt"), timeout=WAIT) as response:
        assert (response.status, response.read()) == (200, HELLO)
        assert response.headers["Content-Type"] == "text/plain"
    with urllib.request.urlopen(kernel_server.url("/docs"), timeout=WAIT) as response:
        assert response.url.endswith("/docs/")  # followed the 301
        assert b"inner/" in response.read()
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(kernel_server.url("/missing"), timeout=WAIT)
    assert missing.value.code == 404
    missing.value.close()


@contextlib.contextmanager
def python_http_server(directory: Path) -> Iterator[int]:
    """``python -m http.server`` on a free port of 127.0.0.1; its port."""
    for _ in range(5):  # the free port may be taken between our probe and its bind
        with stdlib.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        process = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
             "--directory", str(directory), str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if _wait_listening(process, port):
                yield port
                return
        finally:
            process.terminate()
            process.wait(WAIT)
    pytest.fail("python -m http.server did not start")


def _wait_listening(process: subprocess.Popen[bytes], port: int) -> bool:
    for _ in range(200):
        if process.poll() is not None:
            return False
        try:
            stdlib.create_connection(("127.0.0.1", port), timeout=WAIT).close()
            return True
        except ConnectionRefusedError:
            threading.Event().wait(0.05)
    return False


def test_fetch_from_python_http_server(root: Path) -> None:
    data = os.urandom(5 * 1024 * 1024 + 3)
    (root / "data.bin").write_bytes(data)
    with python_http_server(root) as port:
        out = io.BytesIO()
        result = fetch(f"http://127.0.0.1:{port}/data.bin", socket_module=stdlib, out=out,
                       timeout=WAIT)
        assert (result.status, result.length) == (200, len(data))
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        assert out.getvalue() == data
        missing = fetch(f"http://localhost:{port}/missing", socket_module=stdlib,
                        out=io.BytesIO(), timeout=WAIT)
        assert missing.status == 404


# -- the client against tiny fake servers -----------------------------------------------------


@contextlib.contextmanager
def fake_server(*pieces: bytes, hold: bool = False) -> Iterator[tuple[int, list[bytes]]]:
    """A kernel listener that answers one connection with ``pieces``, sent one by one, then
    closes (or, with ``hold``, keeps quiet until the test ends). Yields the port and the
    request it got."""
    listener = stdlib.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT)
    requests: list[bytes] = []
    release = threading.Event()

    def answer() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(WAIT)
            request = b""
            while b"\r\n\r\n" not in request and (data := conn.recv(65536)):
                request += data
            requests.append(request)
            for piece in pieces:
                conn.sendall(piece)
            if hold:
                release.wait(WAIT)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], requests
    finally:
        release.set()
        thread.join(WAIT)
        listener.close()


def fake_fetch(*pieces: bytes, **options: Any) -> tuple[Any, bytes, bytes]:
    with fake_server(*pieces) as (port, requests):
        out = io.BytesIO()
        result = fetch(f"http://127.0.0.1:{port}/path?q=1", socket_module=stdlib, out=out,
                       timeout=WAIT, **options)
    return result, out.getvalue(), requests[0]


def test_the_request_fetch_sends() -> None:
    _, _, request = fake_fetch(b"HTTP/1.1 204 No Content\r\n\r\n")
    lines = request.decode().split("\r\n")
    assert lines[0] == "GET /path?q=1 HTTP/1.1"
    port = lines[1].rpartition(":")[2]
    assert f"Host: 127.0.0.1:{port}" in lines
    assert f"User-Agent: tcpkit/{tcpkit.__version__}" in lines
    assert "Connection: close" in lines


def test_chunked_response() -> None:
    body = b"".join(bytes([n]) * n * 1000 for n in range(1, 40))
    chunks = [body[i:i + 9999] for i in range(0, len(body), 9999)]
    wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks)
    wire += b"0\r\nX-Trailer: t\r\n\r\n"
    pieces = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
    pieces += [wire[i:i + 777] for i in range(0, len(wire), 777)]  # cut anywhere
    seen: list[tuple[int, int | None]] = []
    result, got, _ = fake_fetch(*pieces, progress=lambda *p: seen.append(p))
    assert (result.status, got) == (200, body)
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert seen[-1] == (len(body), None)


def test_body_until_close_and_interim_responses() -> None:
    result, got, _ = fake_fetch(b"HTTP/1.1 100 Continue\r\n\r\n",
                                b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
                                b"HTTP/1.0 200 Fine\r\nX-A: 1\r\n  2\r\n\r\nall ", b"of it")
    assert (result.status, result.reason, got) == (200, "Fine", b"all of it")
    assert result.headers == [("X-A", "1 2")]


@pytest.mark.parametrize("response", [
    b"HTTP/1.1 OK\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/2 200 OK\r\n\r\n",
    b"ICY 200 OK\r\n\r\n",
    b"garbage\r\n\r\n",
    b"",
])
def test_a_malformed_status_line_raises(response: bytes) -> None:
    with pytest.raises(HttpError):
        fake_fetch(response)


@pytest.mark.parametrize("response", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nshortXY0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab",
    b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\na",
    b"HTTP/1.1 200 OK\r\nBad Field: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: 1\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * 200 + b"\r\n",
])
def test_a_short_or_malformed_body_raises(response: bytes) -> None:
    with pytest.raises(HttpError):
        fake_fetch(response)


def test_a_silent_server_times_out() -> None:
    with fake_server(hold=True) as (port, _), pytest.raises(TimeoutError):
        fetch(f"http://127.0.0.1:{port}/", socket_module=stdlib, out=io.BytesIO(), timeout=0.2)


@pytest.mark.parametrize("url", ["https://127.0.0.1/", "ftp://127.0.0.1/",
                                 "http://example.com/", "http://user:pw@127.0.0.1/",
                                 "http://127.0.0.1:99999/", "127.0.0.1/"])
def test_urls_fetch_cannot_use(url: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        fetch(url, socket_module=stdlib, out=io.BytesIO())

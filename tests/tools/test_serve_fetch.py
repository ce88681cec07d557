"""``tcpkit serve``, ``tcpkit fetch`` and ``tcpkit netns`` with real programs: curl and nc
in the namespace against tcpkit's server, tcpkit's client against ``python3 -m
http.server`` run by the kernel, and two tcpkit processes over the UDP tunnel."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcpkit.links import netns
from tests.conftest import require_root, require_tool
from tests.tools.test_cli import tcpkit

_names = iter(range(1 << 30))


def _name() -> str:
    return f"tks{os.getpid()}n{next(_names)}"


class Server:
    """``tcpkit serve ...`` in the background, once it says it is serving."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tcpkit", "serve", *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        self.banner = [self.process.stdout.readline(), self.process.stdout.readline()]
        if not self.banner[0].startswith("tcpkit serving"):
            self.process.kill()
            raise AssertionError(f"serve did not start: {self.banner} "
                                 f"{self.process.communicate()[1]}")

    def wait(self) -> tuple[int, str, str]:
        """Until it ends by itself (--count)."""
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err

    def stop(self) -> tuple[int, str, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    (root / "big.bin").write_bytes(os.urandom(1 << 20) * 100)  # 100 MiB
    (root / "small.txt").write_text("hello from the site\n")
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_curl_in_the_namespace_downloads_100_mib_from_tcpkit(site: Path, tmp_path: Path) -> None:
    require_root()
    require_tool("curl")
    name = _name()
    server = Server("http", str(site), "--link", "tun", "--netns", name)
    try:
        assert "192.0.2.2:80" in server.banner[0] and "offload on" in server.banner[0]
        assert server.banner[1].startswith(f"try: ip netns exec {name} curl")
        out = tmp_path / "got.bin"
        done = subprocess.run(["ip", "netns", "exec", name, "curl", "-sS", "-o", str(out),
                               "-w", "%{http_code} %{size_download} %{speed_download}",
                               "http://192.0.2.2/big.bin"],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        code, size, speed = done.stdout.split()
        assert code == "200" and int(size) == 100 << 20
        assert _sha(out) == _sha(site / "big.bin")
        print(f"curl from tcpkit over TUN: {float(speed) * 8 / 1e9:.2f} Gbit/s")
        missing = subprocess.run(["ip", "netns", "exec", name, "curl", "-s", "-o",
                                  "/dev/null", "-w", "%{http_code}",
                                  "http://192.0.2.2/nothing"],
                                 capture_output=True, text=True, timeout=60, check=False)
        assert missing.stdout == "404"
    finally:
        status, out_text, err = server.stop()
    assert status == 130, err
    assert '"GET /big.bin HTTP/1.1" 200' in out_text
    assert not netns.exists(name), "serve made the namespace, so it deletes it"


@pytest.fixture
def namespace() -> Iterator[str]:
    require_root()
    name = _name()
    made = tcpkit("netns", "up", name)
    assert made.returncode == 0, made.stderr
    assert netns.exists(name)
    yield name
    gone = tcpkit("netns", "down", name)
    assert gone.returncode == 0, gone.stderr
    assert not netns.exists(name)


def test_fetch_from_python_http_server_run_by_the_kernel(namespace: str, site: Path,
                                                         tmp_path: Path) -> None:
    server = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-m",
                               "http.server", "8000", "--bind", "192.0.2.1"],
                              cwd=site, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(namespace, 8000)
        out = tmp_path / "fetched.bin"
        done = tcpkit("fetch", "http://192.0.2.1:8000/big.bin", "--link", "tun",
                      "--netns", namespace, "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("200 OK: 104857600 bytes")
        assert _sha(out) == _sha(site / "big.bin") in done.stdout
        print(done.stdout.strip())
        missing = tcpkit("fetch", "http://192.0.2.1:8000/nothing", "--link", "tun",
                         "--netns", namespace)
        assert missing.returncode == 1 and missing.stdout.startswith("404")
    finally:
        server.kill()
        server.wait()
    assert netns.exists(namespace), "fetch did not make the namespace: it leaves it"


def _wait_listening(namespace: str, port: int) -> None:
    for _ in range(100):
        ss = subprocess.run(["ip", "netns", "exec", namespace, "ss", "-Htln",
                             f"sport = :{port}"], capture_output=True, text=True, check=False)
        if ss.stdout.strip():
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} in {namespace}")


def test_nc_talks_to_tcpkit_echo(namespace: str) -> None:
    require_tool("nc")
    server = Server("echo", "--link", "tun", "--netns", namespace, "--count", "1")
    message = os.urandom(300_000)
    done = subprocess.run(["ip", "netns", "exec", namespace, "nc", "-N", "192.0.2.2", "7"],
                          input=message, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == message
    status, out, err = server.wait()
    assert status == 0, err
    assert "read 300000 B, sent 300000 B" in out and "closed by the peer" in out


def test_serve_and_fetch_over_the_udp_tunnel(site: Path, tmp_path: Path) -> None:
    """Rootless: two tcpkit processes, each its own host, over UDP on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Server("http", str(site), "--link", "udp", "--udp-listen", f"127.0.0.1:{port}")
    try:
        assert "198.51.100.2:80" in server.banner[0]
        assert f"--udp-peer 127.0.0.1:{port}" in server.banner[1]
        out = tmp_path / "over-udp.bin"
        done = tcpkit("fetch", "http://198.51.100.2/big.bin", "--link", "udp",
                      "--udp-peer", f"127.0.0.1:{port}", "-o", str(out))
        assert done.returncode == 0, done.stderr
        assert _sha(out) == _sha(site / "big.bin")
        print(done.stdout.strip())
    finally:
        server.stop()


@pytest.mark.parametrize(("args", "status", "message"), [
    (("serve", "http"), 2, "http needs a DIR"),
    (("serve", "echo", "/tmp"), 2, "echo takes no DIR"),
    (("serve", "http", "/tmp", "--count", "1"), 2, "--count is for echo and discard"),
    (("serve", "--port", "70000"), 2, "outside 1..65535"),
    (("serve", "--link", "udp", "--udp-listen", "nowhere"), 2, "is not IPv4-ADDRESS:PORT"),
    (("fetch", "https://192.0.2.1/"), 2, "http"),
    (("fetch", "http://192.0.2.1/", "--link", "udp", "--mtu", "20"), 2, "MTU 20"),
    (("netns", "up", "a/b"), 2, "bad namespace name"),
    (("netns", "down", "tcpkit-no-such-namespace"), 1, "no network namespace"),
])
def test_bad_arguments_say_what_is_wrong(args: tuple[str, ...], status: int,
                                         message: str) -> None:
    done = tcpkit(*args)
    assert done.returncode == status, done
    assert message in done.stderr
    assert "Traceback" not in done.stderr

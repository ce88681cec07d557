"""One side of a story, played by the Linux kernel: run inside a network namespace by
:mod:`tests.tcp.kernel_story`, standard library only.

argv[1] is a JSON object: ``role`` ("client" or "server"), ``peer`` and ``port``,
``options`` (socket options set before
connect/listen), ``interface`` (for unplug/replug; blackhole/restore drop TCP with
nftables instead, so a capture on the other side still sees what is sent) and
``steps``: ``[t, op, *args]``.
The actor prints "ready", then reads ``t0`` (the wall-clock start both actors share)
from its standard input. Each step runs at ``t0 + t``; a blocking step delays the ones
after it. Prints one JSON list: ``[t_done, op, result]`` per step, ``result`` a number,
"EOF", "ok" or an errno name.
"""

from __future__ import annotations

import errno
import json
import socket
import struct
import subprocess
import sys
import time

PATTERN = bytes(range(256)) * 4096


def error_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


# Socket options a story may set, by name: (level, option).
OPTIONS = {
    "nodelay": (socket.IPPROTO_TCP, socket.TCP_NODELAY),
    "rcvbuf": (socket.SOL_SOCKET, socket.SO_RCVBUF),
    "sndbuf": (socket.SOL_SOCKET, socket.SO_SNDBUF),
    "keepalive": (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "keepidle": (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    "keepintvl": (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
    "keepcnt": (socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
    "user_timeout_ms": (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
}


def apply_options(sock: socket.socket, options: dict[str, int]) -> None:
    for name, value in options.items():
        level, option = OPTIONS[name]
        sock.setsockopt(level, option, value)


class Actor:
    def __init__(self, spec: dict) -> None:  # type: ignore[type-arg]
        self.spec = spec
        self.t0: float = spec["t0"]
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.results: list[list[object]] = []

    def now(self) -> float:
        return time.time() - self.t0

    def sock(self) -> socket.socket:
        if self.conn is None:
            assert self.listener is not None
            self.listener.settimeout(30)
            self.conn, _ = self.listener.accept()
            self.conn.setblocking(False)
        return self.conn

    def run(self) -> None:
        for t, op, *args in self.spec["steps"]:
            delay = self.t0 + t - time.time()
            if delay > 0:
                time.sleep(delay)
            try:
                result = getattr(self, "op_" + op)(*args)
            except OSError as exc:
                result = error_name(exc)
            self.results.append([round(self.now(), 4), op, result])
        print(json.dumps(self.results))

    def op_listen(self) -> object:
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        apply_options(lsock, self.spec["options"])
        lsock.bind(("0.0.0.0", self.spec["port"]))
        lsock.listen(8)
        self.listener = lsock
        return "ok"

    def op_connect(self, timeout: float = 60.0) -> object:
        sock = socket.socket()
        apply_options(sock, self.spec["options"])
        self.conn = sock
        sock.settimeout(timeout)
        sock.connect((self.spec["peer"], self.spec["port"]))
        sock.setblocking(False)
        return "ok"

    def op_accept(self) -> object:
        self.sock()
        return "ok"

    def op_send(self, size: int) -> object:
        return self.sock().send(PATTERN[:size])

    def op_recv(self, size: int) -> object:
        data = self.sock().recv(size)
        return len(data) if data else "EOF"

    def op_recv_wait(self, size: int, timeout: float) -> object:
        sock = self.sock()
        sock.settimeout(timeout)
        try:
            data = sock.recv(size)
        finally:
            sock.setblocking(False)
        return len(data) if data else "EOF"

    def op_shutdown(self) -> object:
        self.sock().shutdown(socket.SHUT_WR)
        return "ok"

    def op_close(self) -> object:
        self.sock().close()
        return "ok"

    def op_abort(self) -> object:
        sock = self.sock()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        return "ok"

    def op_so_error(self) -> object:
        err = self.sock().getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return errno.errorcode.get(err, "0") if err else 0

    def op_rcv_window(self) -> object:
        """TCP_INFO's tcpi_rcv_wnd (Linux 6.2+, offset 232) and tcpi_rcv_ssthresh."""
        info = self.sock().getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 240)
        return [struct.unpack_from("I", info, 232)[0], struct.unpack_from("I", info, 64)[0]]

    def op_probes(self) -> object:
        """TCP_INFO's tcpi_probes, tcpi_backoff and tcpi_retransmits."""
        info = self.sock().getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        return [info[3], info[4], info[2]]

    def op_qdisc_drop(self) -> object:
        """A queueing discipline with no room on this side's interface: every packet
        sent is refused (NET_XMIT_DROP), and TCP hears of it."""
        subprocess.run(["tc", "qdisc", "add", "dev", self.spec["interface"], "root",
                        "pfifo", "limit", "0"], check=True)
        return "ok"

    def op_unplug(self) -> object:
        subprocess.run(["ip", "link", "set", self.spec["interface"], "down"], check=True)
        return "ok"

    def op_replug(self) -> object:
        subprocess.run(["ip", "link", "set", self.spec["interface"], "up"], check=True)
        return "ok"

    def op_blackhole(self) -> object:
        """This host silently drops every TCP segment in and out (a crashed peer)."""
        rules = ("add table inet tkblackhole\n"
                 "add chain inet tkblackhole in { type filter hook input priority 0; }\n"
                 "add chain inet tkblackhole out { type filter hook output priority 0; }\n"
                 "add rule inet tkblackhole in meta l4proto tcp drop\n"
                 "add rule inet tkblackhole out meta l4proto tcp drop\n")
        subprocess.run(["nft", "-f", "-"], input=rules.encode(), check=True)
        return "ok"

    def op_restore(self) -> object:
        subprocess.run(["nft", "delete", "table", "inet", "tkblackhole"], check=True)
        return "ok"

    def op_wait(self) -> object:
        return "ok"


if __name__ == "__main__":
    # Say we are up, then wait for the shared start time: however long Python takes to
    # start under load, both actors begin the story together.
    print("ready", flush=True)
    spec = json.loads(sys.argv[1])
    spec["t0"] = float(sys.stdin.readline())
    Actor(spec).run()

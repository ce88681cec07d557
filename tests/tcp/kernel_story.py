"""The same story told twice: by the Linux kernel (two network namespaces joined by a
veth pair, one Python actor per side, tcpdump on the client's interface) and by two
tcpkit engines (an :class:`~tcpkit.links.pair.EnginePair` in virtual time). Each telling
gives what every call returned, when, and the segments on the wire; a test compares the
two. Linux is the reference (../shared/DESIGN.md, "Fidelity").

A story is a list of :class:`Step`: at time ``t`` (seconds from the start), side ``a``
(the client, 192.0.2.1) or ``b`` (the server, 192.0.2.2) does ``op``. Ops: listen,
connect, accept, send n, recv n (non-blocking), recv_wait n timeout (blocking), shutdown,
close, abort (SO_LINGER {1, 0} then close), so_error, rcv_window (TCP_INFO's rcv_wnd and
rcv_ssthresh), probes (TCP_INFO's probes, backoff and retransmits), qdisc_drop (the
side's device refuses every packet: a pfifo qdisc with limit 0), blackhole/restore (the
side silently drops all TCP, like a crashed host), wait.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tcpkit.lab.netns import VethPair
from tcpkit.links.pair import EnginePair
from tcpkit.tcp.config import ConnectionConfig
from tcpkit.tcp.connection import Connection
from tcpkit.tcp.state import State
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.ethernet import ETHERTYPE_IPV4, parse_ethernet
from tcpkit.wire.ipv4 import PROTO_TCP, parse_ipv4
from tcpkit.wire.tcp import ACK, FIN, PSH, RST, SYN, URG, TCPSegment, parse_tcp
from tcpkit.wire.tcp_options import MSS, Sack, SackPermitted, Timestamps, WindowScale

ACTOR = Path(__file__).with_name("kernel_actor.py")
PORT = 5555
PATTERN = bytes(range(256)) * 4096

# sysctl (net.ipv4.*) -> ConnectionConfig field
SYSCTLS = {
    "tcp_syn_retries": "syn_retries",
    "tcp_synack_retries": "synack_retries",
    "tcp_retries2": "retries2",
    "tcp_fin_timeout": "fin_timeout",
    "tcp_keepalive_time": "keepalive_time",
    "tcp_keepalive_intvl": "keepalive_intvl",
    "tcp_keepalive_probes": "keepalive_probes",
    "tcp_window_scaling": "window_scaling",
}


@dataclass(frozen=True)
class Step:
    t: float
    side: str
    op: str
    args: tuple[object, ...] = ()


@dataclass
class Story:
    name: str
    steps: list[Step]
    duration: float
    client_options: dict[str, int] = field(default_factory=dict)
    server_options: dict[str, int] = field(default_factory=dict)
    sysctls: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One segment, as comparable between the two tellings."""

    t: float
    sender: str
    flags: str
    seq: int  # relative to the sender's ISN
    ack: int  # relative to the receiver's ISN (0 without ACK)
    length: int
    window: int
    options: tuple[str, ...]

    def key(self, *, window: bool = True) -> tuple[object, ...]:
        return (self.sender, self.flags, self.seq, self.ack, self.length,
                self.window if window else None, self.options)

    def __str__(self) -> str:
        arrow = "a>b" if self.sender == "a" else "b>a"
        return (f"{self.t:9.4f} {arrow} [{self.flags:4}] seq {self.seq} ack {self.ack} "
                f"len {self.length} win {self.window} {','.join(self.options)}")


@dataclass
class Telling:
    results: dict[str, list[tuple[float, str, object]]]
    segments: list[Seen]

    def result(self, side: str, op: str, index: int = 0) -> tuple[float, object]:
        matches = [(t, r) for t, o, r in self.results[side] if o == op]
        return matches[index]

    def table(self) -> str:
        return "\n".join(str(s) for s in self.segments)


def _flags(flags: int) -> str:
    names = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (URG, "U"), (ACK, "."))
    return "".join(letter for bit, letter in names if flags & bit)


def _options(seg: TCPSegment, isn_peer: int | None) -> tuple[str, ...]:
    out = []
    for opt in seg.options:
        if isinstance(opt, MSS):
            out.append(f"mss{opt.value}")
        elif isinstance(opt, WindowScale):
            out.append(f"ws{opt.shift}")
        elif isinstance(opt, SackPermitted):
            out.append("sackOK")
        elif isinstance(opt, Timestamps):
            out.append("TS" if opt.tsecr or not seg.flags & SYN or seg.flags & ACK else "TS0")
        elif isinstance(opt, Sack):
            base = isn_peer or 0
            out.append("sack" + ";".join(f"{(a - base) & 0xFFFFFFFF}-{(b - base) & 0xFFFFFFFF}"
                                         for a, b in opt.blocks))
    return tuple(out)


def normalise(raw: list[tuple[float, str, TCPSegment]]) -> list[Seen]:
    """Relative sequence numbers (from each side's SYN), tcpdump-style flags."""
    isn: dict[str, int] = {}
    for _, sender, seg in raw:
        if seg.flags & SYN and sender not in isn:
            isn[sender] = seg.seq
    out = []
    for t, sender, seg in raw:
        other = "b" if sender == "a" else "a"
        mine, theirs = isn.get(sender), isn.get(other)
        seq = (seg.seq - mine) & 0xFFFFFFFF if mine is not None else seg.seq
        ack = ((seg.ack - theirs) & 0xFFFFFFFF if theirs is not None else seg.ack) \
            if seg.flags & ACK else 0
        out.append(Seen(round(t, 4), sender, _flags(seg.flags), seq, ack, len(seg.payload),
                        seg.window, _options(seg, theirs)))
    return out


# -- the kernel's telling -------------------------------------------------------------

def _sysctl(pair: VethPair, story: Story) -> None:
    for ns in (pair.a, pair.b):
        settings = {"tcp_congestion_control": "reno", **story.sysctls}
        for name, value in settings.items():
            ns.sysctl(f"net.ipv4.{name}", value)


def tell_kernel(story: Story, pair: VethPair, workdir: Path) -> Telling:
    _sysctl(pair, story)
    pair.static_neighbours()
    pair.offloads_off()
    pcap = workdir / f"{story.name}.pcap"
    specs = {
        "a": {"role": "client", "peer": pair.b_addr, "interface": pair.a_if,
              "options": story.client_options},
        "b": {"role": "server", "peer": pair.a_addr, "interface": pair.b_if,
              "options": story.server_options},
    }
    procs = {}
    with pair.a.capture(pair.a_if, pcap):
        for side, ns in (("b", pair.b), ("a", pair.a)):
            spec = {**specs[side], "port": PORT,
                    "steps": [[s.t, s.op, *s.args] for s in story.steps if s.side == side]}
            procs[side] = subprocess.Popen(ns.exec(sys.executable, str(ACTOR), json.dumps(spec)),
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)
        for side, proc in procs.items():
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise AssertionError(f"kernel actor {side} did not start: {proc.stderr}")
        t0 = time.time() + 0.2
        for proc in procs.values():
            assert proc.stdin is not None
            proc.stdin.write(f"{t0!r}\n")
            proc.stdin.flush()
        outputs = {}
        for side, proc in procs.items():
            out, err = proc.communicate(timeout=story.duration + 60)
            if proc.returncode:
                raise AssertionError(f"kernel actor {side} failed:\n{err}")
            outputs[side] = out
        remaining = t0 + story.duration - time.time()
        if remaining > 0:
            time.sleep(remaining)
    results = {side: [(float(t), str(op), r) for t, op, r in json.loads(outputs[side])]
               for side in "ab"}
    raw = []
    for packet in open_capture(pcap):
        eth, body = parse_ethernet(packet.data)
        if eth.ethertype != ETHERTYPE_IPV4:
            continue
        ip, payload = parse_ipv4(body)
        if ip.protocol != PROTO_TCP:
            continue
        seg = parse_tcp(payload)
        sender = "a" if ip.src == pair.a_addr else "b"
        raw.append((packet.ts_ns / 1e9 - t0, sender, seg))
    return Telling(results, normalise(raw))


# -- tcpkit's telling ---------------------------------------------------------------

def _config(story: Story, options: dict[str, int]) -> ConnectionConfig:
    cfg = ConnectionConfig()
    for name, value in story.sysctls.items():
        setattr(cfg, SYSCTLS[name], value)
    for name, value in options.items():
        if name == "nodelay":
            cfg.nodelay = bool(value)
        elif name in ("rcvbuf", "sndbuf"):
            setattr(cfg, name, value)
        elif name == "keepalive":
            cfg.keepalive = bool(value)
        elif name == "keepidle":
            cfg.keepalive_time = float(value)
        elif name == "keepintvl":
            cfg.keepalive_intvl = float(value)
        elif name == "keepcnt":
            cfg.keepalive_probes = value
        elif name == "user_timeout_ms":
            cfg.user_timeout = value / 1000
        else:
            raise ValueError(name)
    return cfg


def _errno(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, str(exc.errno))


class _EngineActors:
    def __init__(self, story: Story) -> None:
        self.dark: set[str] = set()
        self.pair = EnginePair(_config(story, story.client_options),
                               _config(story, story.server_options),
                               delay=0.00005, fault=self._fault)

    def _fault(self, now: float, sender: str, seg: TCPSegment) -> list[float]:
        receiver = "b" if sender == "a" else "a"
        if sender in self.dark or receiver in self.dark:
            return []
        return [self.pair.delay]

    def wait_for(self, condition: Callable[[], bool], timeout: float) -> None:
        pair = self.pair
        deadline = pair.now + timeout
        pair.run(until=deadline, stop=condition)

    def do(self, side: str, op: str, args: tuple[object, ...]) -> object:
        pair = self.pair
        conn = pair.conn(side)
        now = pair.now
        try:
            if op == "listen":
                conn.listen()
            elif op == "connect":
                conn.connect(now)
                pair.collect()
                timeout = float(args[0]) if args else 60.0  # type: ignore[arg-type]
                self.wait_for(lambda: conn.state in (State.ESTABLISHED, State.CLOSED), timeout)
                if conn.state is State.CLOSED:
                    raise OSError(conn.take_error(), "connect failed")
            elif op == "accept":
                self.wait_for(lambda: conn.state is not State.SYN_RECEIVED
                              and conn.state is not State.LISTEN, 30)
            elif op == "send":
                return conn.send(PATTERN[:int(args[0])], now)  # type: ignore[call-overload]
            elif op == "recv":
                data = conn.receive(int(args[0]), now)  # type: ignore[call-overload]
                return len(data) if data else "EOF"
            elif op == "recv_wait":
                size, timeout = int(args[0]), float(args[1])  # type: ignore[call-overload,arg-type]
                self.wait_for(lambda: _recv_ready(conn), timeout)
                if not _recv_ready(conn):
                    return "EAGAIN"
                data = conn.receive(size, pair.now)
                return len(data) if data else "EOF"
            elif op == "shutdown":
                conn.shutdown(now)
            elif op == "close":
                conn.close(now)
            elif op == "abort":
                conn.config.linger = 0
                conn.close(now)
            elif op == "so_error":
                err = conn.take_error()
                return errno.errorcode.get(err, "0") if err else 0
            elif op == "rcv_window":
                return [conn.rcv_wnd, conn.rcv_ssthresh]
            elif op == "probes":
                return [conn.probes_out, conn.rtt.backoff, conn.retransmits]
            elif op == "qdisc_drop":
                conn.device_refuses = lambda: True
            elif op == "blackhole":
                self.dark.add(side)
            elif op == "restore":
                self.dark.discard(side)
            elif op != "wait":
                raise ValueError(op)
            return "ok"
        except OSError as exc:
            return _errno(exc)
        finally:
            pair.collect()


def _recv_ready(conn: Connection) -> bool:
    return bool(conn.readable) or conn.at_eof or bool(conn.error) or conn.state is State.CLOSED


def tell_tcpkit(story: Story) -> Telling:
    actors = _EngineActors(story)
    pair = actors.pair
    busy = {"a": 0.0, "b": 0.0}
    results: dict[str, list[tuple[float, str, object]]] = {"a": [], "b": []}
    for step in sorted(story.steps, key=lambda s: s.t):
        start = max(step.t, busy[step.side])
        pair.run(until=start)
        result = actors.do(step.side, step.op, step.args)
        busy[step.side] = pair.now
        results[step.side].append((round(pair.now, 4), step.op, result))
    pair.run(until=story.duration)
    raw = [(r.time, r.sender, r.segment) for r in pair.log]
    return Telling(results, normalise(raw))


def side_by_side(kernel: Telling, tcpkit: Telling) -> str:
    """Both segment lists in two columns, for assertion messages."""
    rows = max(len(kernel.segments), len(tcpkit.segments))
    lines = [f"{'Linux':<78} | tcpkit"]
    for i in range(rows):
        left = str(kernel.segments[i]) if i < len(kernel.segments) else ""
        right = str(tcpkit.segments[i]) if i < len(tcpkit.segments) else ""
        mark = "  " if left[10:] == right[10:] else "!!"
        lines.append(f"{left:<78} {mark} {right}")
    lines.append(f"results Linux : {kernel.results}")
    lines.append(f"results tcpkit: {tcpkit.results}")
    return "\n".join(lines)



def tolerance(at: float) -> float:
    """How far apart the two tellings may put one event: a jiffy of timer-wheel phase
    (4 ms), scheduling of the kernel actors, and up to 1/8 of a long timer's delay."""
    return 0.008 + at * 0.13


# Steps that change the world rather than call TCP: on the kernel's side they run a
# program (nft, ip, tc), whose own start-up time under load says nothing about TCP.
STAGING = frozenset({"blackhole", "restore", "unplug", "replug", "qdisc_drop"})


def differences(kernel: Telling, tcpkit: Telling, *, windows: bool = True,
                times: bool = True) -> list[str]:
    """What differs: each side's results (value, and time for blocking calls) and each
    direction's segments (flags, relative seq/ack, length, window, options, time).
    Interleaving between the directions is not compared: on a veth the peer answers
    within microseconds of each segment, the virtual wire 50 µs later."""
    problems = []
    for side in "ab":
        ks, ts = kernel.results[side], tcpkit.results[side]
        if [(op, r) for _, op, r in ks] != [(op, r) for _, op, r in ts]:
            problems.append(f"{side} results: Linux {ks} / tcpkit {ts}")
        elif times:
            for (kt, op, _), (tt, _, _) in zip(ks, ts, strict=True):
                if op not in STAGING and abs(kt - tt) > tolerance(kt):
                    problems.append(f"{side} {op} done at {kt} (Linux) / {tt} (tcpkit)")
    for sender in "ab":
        kseg = [s for s in kernel.segments if s.sender == sender]
        tseg = [s for s in tcpkit.segments if s.sender == sender]
        kkeys = [s.key(window=windows) for s in kseg]
        tkeys = [s.key(window=windows) for s in tseg]
        if kkeys != tkeys:
            problems.append(f"{sender}'s segments differ")
        elif times:
            for k, t in zip(kseg, tseg, strict=True):
                if abs(k.t - t.t) > tolerance(k.t):
                    problems.append(f"{sender} segment at {k.t} (Linux) / {t.t} (tcpkit): {k}")
    return problems

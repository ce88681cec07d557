"""Play a packetdrill script against one tcpkit host, in virtual time.

The host (192.168.0.1, as packetdrill's local address) sits on the simulated network
with a cable whose other end is the script: ``<`` packets are put on it from the remote
address (192.0.2.1) at their times, ``>`` packets are what the host must send, matched
with packetdrill's rules (times within the tolerance: the larger of
``--tolerance_usecs``, 4 ms by default, and ``--tolerance_percent``, 12.5% by default, of
the time since the previous event; sequence numbers relative to each side's ISN; an
expected multi-segment packet may arrive as several segments unless
``--strict_segments``; TS vals moved into script time by the first one and checked
only with ``--tcp_ts_tick_usecs``; an inbound TS ecr made the actual TS val the script
named, or interpolated with ``--tcp_ts_ecr_scaled``).
System calls run as simulated programs through tcpkit's socket API, each on its own so
that a blocking one lets the script go on; the fd numbers of the script map to tcpkit
sockets. The result of a script is PASS, FAIL with the line and the first mismatch, or
UNSUPPORTED naming what tcpkit (or this player) does not have; never a crash.

A NULL buffer is passed as None: tcpkit's socket API refuses it as Python's does
(TypeError, before the connection is touched), which is the C kernel's EFAULT.

Not done yet, and reported as UNSUPPORTED when a script needs it: shell commands other
than the suite's sysctl settings, nstat and a pfifo qdisc on tun0, system calls beyond
the socket basics (see :data:`SYSCALLS`), IPv6, ICMP and UDP packets, TCP options and
socket options tcpkit does not have (Fast Open, MD5), epoll, and ECN.
``%{ }%`` blocks see the 104 bytes of TCP_INFO tcpkit fills
plus the engine's delivered, min_rtt and reord_seen; another field is UNSUPPORTED.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import select
import shlex
import socket as stdlib
import struct
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tcpkit.links.sim import Network, SimulationError
from tcpkit.links.tun_skb import tun_rx_skb
from tcpkit.socket.tcp_socket import EXTENDED_ERR, IP_RECVERR, MSG_FASTOPEN, MSG_ZEROCOPY
from tcpkit.stack.fastopen_cache import TFO_SERVER_ENABLE
from tcpkit.stack.options import SO_ZEROCOPY, TCP_FASTOPEN_CONNECT, NotModelled
from tcpkit.tcp.zerocopy import SO_EE_CODE_ZEROCOPY_COPIED, SO_EE_ORIGIN_ZEROCOPY
from tcpkit.tools.packetdrill.lexer import PacketdrillSyntaxError
from tcpkit.tools.packetdrill.script import (
    Array,
    Assign,
    Call,
    Command,
    Event,
    Or,
    Packet,
    Script,
    Struct,
    Symbol,
    Syscall,
    TcpOption,
    parse,
)
from tcpkit.wire.checksum import pseudo_header
from tcpkit.wire.ipv4 import PROTO_TCP, IPv4Header, parse_ipv4
from tcpkit.wire.tcp import ACK, FIN, PSH, RST, SYN, URG, TCPSegment, parse_tcp
from tcpkit.wire.tcp_options import (
    MSS,
    NOP,
    SACK_PERMITTED,
    EndOfOptions,
    FastOpen,
    NoOperation,
    Sack,
    SackPermitted,
    TCPOption,
    Timestamps,
    WindowScale,
)

LOCAL = "192.168.0.1"
REMOTE = "192.0.2.1"
PORT = 8080  # packetdrill's bind and connect port
REMOTE_PORT = 40000  # the remote end's port for connections the script opens
REMOTE_ISN = 1_000_000  # where the script's relative inbound sequence numbers start
TOLERANCE = 0.004  # --tolerance_usecs default
TOLERANCE_SHARE = 0.125  # --tolerance_percent default: of the time since the last event
# The shortest wait: a parked script lets the host's other programs (a call it just
# started) run before its own timeout, which the scheduler would otherwise pick first.
YIELD = 1e-9
M32 = 0xFFFFFFFF
FLAG_BITS = {"F": FIN, "S": SYN, "R": RST, "P": PSH, ".": ACK, "U": URG}

PASS = "PASS"
FAIL = "FAIL"
UNSUPPORTED = "UNSUPPORTED"


@dataclass(frozen=True, slots=True)
class Result:
    status: str
    line: int | None = None
    message: str = ""
    # Sysctls the script set that tcpkit does not model (they had no effect).
    ignored: tuple[str, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        where = f" line {self.line}" if self.line else ""
        return f"{self.status}{where}{': ' if self.message else ''}{self.message}"


class Mismatch(Exception):
    """The host did something else than the script says (a FAIL)."""


class Unsupported(Exception):
    """The script needs something tcpkit or this player does not have."""


def play_file(path: Path) -> Result:
    """Play the script at ``path`` (its backquoted defaults.sh read beside it)."""
    try:
        script = parse(path.read_text())
    except PacketdrillSyntaxError as exc:
        return Result(UNSUPPORTED, exc.line, f"syntax tcpkit cannot read: {exc}")
    return Player(script, path.parent).play()


class Player:
    """One run of one script (see the module docstring)."""

    def __init__(self, script: Script, directory: Path | None = None) -> None:
        self.script = script
        self.directory = directory
        self.local = script.options.get("local_ip") or LOCAL
        self.remote = script.options.get("remote_ip") or REMOTE
        self.refused = ""  # why the script cannot be played, found before it starts
        for address in (self.local, self.remote):
            try:
                ipaddress.IPv4Address(address)
            except ValueError:
                self.refused = f"address {address} (tcpkit plays IPv4 scripts)"
                self.local, self.remote = LOCAL, REMOTE
        self.net = Network(seed=1)
        self.host = self.net.add_host("tcpkit", f"{self.local}/24")
        self.host.add_route(f"{self.remote}/32", dev="eth0")
        interface = self.host.interfaces["eth0"]
        interface.transmit = self._sniff  # a point-to-point cable to the script
        # packetdrill writes inbound packets to tun0, with --mss as their GSO size.
        try:
            interface.rx_skb = tun_rx_skb(int(script.options.get("mss") or 0))
        except ValueError:
            self.refused = "an --mss that is not a number"
        self.interface = interface
        self.sniffed: list[tuple[float, TCPSegment]] = []
        self.fds: dict[int, Any] = {}
        self.local_isn: int | None = None
        # packetdrill's numbering (socket.h): a SYN's sequence and ACK numbers are
        # absolute in the script, every other segment's relative to the ISNs. An
        # inbound SYN sets the remote ISN (``< S. 123:123(0)`` then ``> . 1:1(0) ack 1``
        # acknowledges 124); an outbound SYN's own number is the script's ISN.
        self.remote_isn = REMOTE_ISN
        self.script_local_isn = 0
        self.local_port: int | None = None
        self.remote_port = REMOTE_PORT
        # packetdrill's TS val mapping: each script TS val seen on an outbound packet
        # names the actual one (for inbound TS ecr), and the first pair is the origin
        # of script time for outbound TS vals.
        self.ts_map: dict[int, int] = {}
        self.ts_origin: tuple[int, int] | None = None
        self.ts_tick_usecs = 0
        self.ts_ecr_scaled = "tcp_ts_ecr_scaled" in script.options
        self.pending: list[tuple[Event, Any, float | None, dict[str, Any]]] = []
        self.tolerance = TOLERANCE
        self.tolerance_share = TOLERANCE_SHARE
        try:
            if script.options.get("tolerance_usecs"):
                self.tolerance = int(script.options["tolerance_usecs"] or 0) / 1e6
            if script.options.get("tolerance_percent"):
                self.tolerance_share = float(script.options["tolerance_percent"] or 0) / 100
            self.ts_tick_usecs = int(script.options.get("tcp_ts_tick_usecs") or 0)
        except ValueError:
            self.refused = "a tolerance or TS tick option that is not a number"
        self.slack = self.tolerance  # this event's: the larger of both rules
        self.strict = "strict_segments" in script.options
        self.unknown_sysctls: list[str] = []
        self.nstat_seen: dict[str, int] = {}  # counters as nstat last printed them

    # -- running --

    def play(self) -> Result:
        outcome: list[Result] = []

        def run() -> None:
            outcome.append(self._run())

        result = self._play(outcome, run)
        return replace(result, ignored=tuple(dict.fromkeys(self.unknown_sysctls)))

    def _play(self, outcome: list[Result], run: Callable[[], None]) -> Result:

        try:
            if self.refused:
                raise Unsupported(self.refused)
            for name in self.script.options:
                if name not in ("tolerance_usecs", "tolerance_percent", "strict_segments",
                                "mss", "local_ip", "remote_ip", "tcp_ts_tick_usecs",
                                "tcp_ts_ecr_scaled"):
                    raise Unsupported(f"option --{name}")
            if self.script.init is not None:
                self._command(self.script.init)
            self.net.spawn(self.host, run, name="script")
            try:
                self.net.run(actors_only=True)
            except SimulationError as exc:
                # Calls still blocked once the script has ended (already judged), or
                # a script waiting on something that never comes.
                if not outcome:
                    return Result(FAIL, None, str(exc))
        except Unsupported as exc:
            return Result(UNSUPPORTED, None, str(exc))
        except Exception as exc:
            return Result(UNSUPPORTED, None, f"cannot play it: {type(exc).__name__}: {exc}")
        finally:
            self.net.close()
        return outcome[0] if outcome else Result(FAIL, None, "the script did not finish")

    def _run(self) -> Result:
        previous = 0.0
        line = None
        try:
            for event in self.script.events:
                line = event.line
                when = self._when(event, previous)
                self.slack = max(self.tolerance, self.tolerance_share * (when - previous))
                self._advance_to(when)
                # A packet expected in a range, or at any time, moves the script's clock
                # to when it really left.
                previous = self._do(event, when, previous)
                self._check_pending(line)
            self._finish(line)
        except Mismatch as exc:
            # A call still blocked that tcpkit could not make explains what follows.
            for event, _, _, box in self.pending:
                if "unsupported" in box:
                    return Result(UNSUPPORTED, event.line, box["unsupported"])
            return Result(FAIL, line, str(exc))
        except Unsupported as exc:
            return Result(UNSUPPORTED, line, str(exc))
        except Exception as exc:
            return Result(UNSUPPORTED, line, f"cannot play it: {type(exc).__name__}: {exc}")
        return Result(PASS)

    def _when(self, event: Event, previous: float) -> float:
        time = event.time
        if time.any:
            return previous
        return previous + time.start if time.relative else time.start

    def _advance_to(self, when: float) -> None:
        wait = when - self.net.now
        if wait > 0:
            self.net.sleep(wait)

    def _do(self, event: Event, when: float, previous: float) -> float:
        """Do the event's action; return the time the next relative one counts from."""
        action = event.action
        time = event.time
        if isinstance(action, Packet):
            if action.protocol != "tcp":
                raise Unsupported(f"{action.protocol} packets")
            if action.inbound:
                self._inject(action)
            else:
                latest = None
                if time.end is not None:
                    latest = previous + time.end if time.relative else time.end
                sent_at = self._expect(action, when, time.any, latest)
                if time.any or latest is not None:
                    return sent_at
        elif isinstance(action, Syscall):
            self._syscall(event, action, when)
        elif isinstance(action, Command):
            self._command(action)
        else:
            self._code(action.text)
        return when

    def _finish(self, line: int | None) -> None:
        for event, actor, end, _ in self.pending:
            limit = (self.net.now if end is None else end) + self.tolerance
            self.net.wait(_finished(actor), max(limit - self.net.now, YIELD))
            if not actor.done:
                raise Mismatch(f"line {event.line}: {event.action.name}() never returned")  # type: ignore[union-attr]
        self._check_pending(line)

    # -- %{ }% blocks --

    def _code(self, text: str) -> None:
        """Run the block's Python with the TCP_INFO of the script's last socket as
        ``tcpi_*`` names (packetdrill's own convention), as packetdrill does after the
        previous event."""
        if not self.fds:
            raise Unsupported("a %{ }% block before any socket")
        sock = self.fds[max(self.fds)]
        names = tcp_info_names(sock)
        lines = text.splitlines() or [""]
        code = (lines[0].strip() + "\n" + textwrap.dedent("\n".join(lines[1:]))).strip()
        try:
            exec(compile(code, "%{ }%", "exec"), names)
        except AssertionError as exc:
            raise Mismatch(f"%{{ }}% assertion failed: {exc or text.strip()}") from None
        except NameError as exc:
            raise Unsupported(f"TCP_INFO field or name {exc.name!r}") from None
        except Exception as exc:
            raise Mismatch(f"%{{ }}% block raised {type(exc).__name__}: {exc}") from None

    # -- shell commands --

    def _command(self, command: Command) -> None:
        """The shell lines the suite uses: defaults.sh and set_sysctls.py (their sysctls
        go to the host), ``sysctl name=value``, nstat and its greps (on the host's
        counters); a pfifo qdisc on tun0 and its removal (on the host's interface: with
        ``limit 0`` it refuses every packet); ethtool offload switches (tcpkit's
        segmentation is Linux's GSO whatever the device does), the sysctl restore script
        and flushing TCP metrics do nothing here. Anything else is UNSUPPORTED."""
        for line in command.text.replace("\\\n", " ").splitlines():
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                raise Unsupported(f"shell line `{line.strip()}`") from None
            for one in _commands(words):
                self._shell(one, line)

    def _shell(self, words: list[str], line: str) -> None:
        """One simple command of a shell line."""
        program = words[0].rsplit("/", 1)[-1]
        if program == "nstat":
            self._nstat(words, line)
        elif program == "defaults.sh":
            self._defaults(words[0])
        elif program == "set_sysctls.py":
            for item in words[1:]:
                path, _, value = item.partition("=")
                self._sysctl(path.removeprefix("/proc/sys/").replace("/", "."), value)
        elif program == "sysctl":
            for item in words[1:]:
                if "=" in item and not item.startswith("-"):
                    name, _, value = item.partition("=")
                    self._sysctl(name, value)
        elif program == "tc":
            self._tc([w for w in words if not _REDIRECT.fullmatch(w)], line)
        elif words[:3] == ["ip", "tcp_metrics", "flush"]:
            self.host.fastopen_cache.flush()
        elif program == "ethtool" or program.startswith("sysctl_restore"):
            pass
        else:
            raise Unsupported(f"shell command `{line.strip()}`")

    def _tc(self, words: list[str], line: str) -> None:
        """``tc qdisc add|replace dev tun0 root pfifo [limit N]`` and ``tc qdisc
        del|delete dev tun0 root``: the host's interface gets (or loses) the limit."""
        verb, rest = (words[2], words[3:]) if len(words) > 2 and words[1] == "qdisc" \
            else ("", [])
        if rest[:3] == ["dev", "tun0", "root"]:
            kind = rest[3:]
            if verb in ("del", "delete") and not kind:
                self.host.set_qdisc_limit("eth0", None)
                return
            if verb in ("add", "replace", "change") and kind[:1] == ["pfifo"]:
                if kind == ["pfifo"]:
                    self.host.set_qdisc_limit("eth0", None)
                    return
                if len(kind) == 3 and kind[1] == "limit" and kind[2].isdigit():
                    self.host.set_qdisc_limit("eth0", int(kind[2]))
                    return
        raise Unsupported(f"shell command `{line.strip()}` (tcpkit models a pfifo qdisc "
                          "on tun0 only)")

    def _nstat(self, words: list[str], line: str) -> None:
        """``nstat`` prints the counters that moved since it last ran, and remembers
        them: ``nstat -n`` (or to /dev/null) only remembers; ``nstat | grep NAME``
        fails unless NAME moved; ``... | grep -q " N "`` unless it moved by N."""
        counters = self.host.counters
        now = {name: counters[name] for name in counters}
        moved = {name: value - self.nstat_seen.get(name, 0) for name, value in now.items()}
        self.nstat_seen = now
        if words in (["nstat", "-n"], ["nstat"], ["nstat", ">", "/dev/null"]):
            return
        if len(words) < 4 or words[1:3] != ["|", "grep"]:
            raise Unsupported(f"shell command `{line.strip()}`")
        name, rest = words[3], words[4:]
        if name not in now:
            raise Unsupported(f"counter {name} (tcpkit does not count it)")
        if rest in ([], [">", "/dev/null"]):
            want = None
        elif len(rest) == 4 and rest[:3] == ["|", "grep", "-q"] and rest[3].strip().isdigit():
            want = int(rest[3])
        else:
            raise Unsupported(f"shell command `{line.strip()}`")
        got = moved[name]
        if got == 0 or (want is not None and got != want):
            raise Mismatch(f"`{line.strip()}` failed: {name} moved by {got}")

    def _defaults(self, name: str) -> None:
        path = (self.directory / name) if self.directory else Path(name)
        if not path.is_file():
            raise Unsupported(f"{name} not found beside the script")
        self._command(Command(path.read_text()))

    def _sysctl(self, name: str, value: str) -> None:
        """One ``sysctl -q name=value`` line; a setting tcpkit does not model (or a
        value it refuses) goes to :attr:`unknown_sysctls`, reported with the result."""
        words = value.split()
        try:
            parsed: Any
            if len(words) > 1:
                parsed = tuple(eval_shell_int(w) for w in words)
            else:
                try:
                    parsed = eval_shell_int(value)
                except ValueError:
                    parsed = value
            self.host.sysctl[name] = parsed
        except (KeyError, ValueError, TypeError):
            self.unknown_sysctls.append(name)

    # -- packets --

    def _sniff(self, packet: bytes, next_hop: str) -> None:
        del next_hop
        header, payload = parse_ipv4(packet)
        if header.protocol != PROTO_TCP:
            return
        seg = parse_tcp(payload)
        if seg.flags & SYN:
            # Each SYN (a script may open several connections in turn) sets the local
            # ISN and ports the script's numbers are relative to, as in packetdrill.
            self.local_isn = seg.seq
            self.local_port = seg.src_port
            if not seg.flags & ACK:
                self.remote_port = seg.dst_port
        self.sniffed.append((self.net.now, seg))

    def _inject(self, packet: Packet) -> None:
        flags = self._flags(packet.flags)
        if packet.start != packet.end - packet.length and not flags & (SYN | FIN):
            raise Unsupported("an inbound packet whose length disagrees with its range")
        local_isn = (self.local_isn or 0) - (self.script_local_isn if flags & SYN else 0)
        ack = (local_isn + packet.ack) & M32 if packet.ack is not None else 0
        if packet.ack is not None:
            flags |= ACK
        options: list[TCPOption] = []
        if isinstance(packet.options, tuple):
            options = [self._option(o, ack=bool(flags & ACK)) for o in packet.options]
        # To the listener's port until the host's own SYN or SYN-ACK names its port.
        src_port, dst_port = self.remote_port, self.local_port or PORT
        window = packet.window if packet.window is not None else 0
        if flags & SYN:
            if not flags & ACK and packet.length \
                    and self.host.sysctl["net.ipv4.tcp_fastopen"] & TFO_SERVER_ENABLE:
                raise Unsupported("data in a SYN to a Fast Open server (tcpkit has no Fast "
                                  "Open server)")
            self.remote_isn = (REMOTE_ISN + packet.start) & M32
        seq = self.remote_isn if flags & SYN else self.remote_isn + packet.start
        seg = TCPSegment(src_port, dst_port, seq & M32, ack, flags,
                         window, packet.urgent or 0, tuple(options), bytes(packet.length))
        header = IPv4Header(self.remote, self.local, PROTO_TCP)
        tcp = seg.build(pseudo_header(stdlib.inet_aton(self.remote), stdlib.inet_aton(self.local),
                                      PROTO_TCP))
        self.host.receive(header.packet(tcp), self.interface)

    def _option(self, option: TcpOption, ack: bool) -> TCPOption:
        """An inbound packet's option, its TS ecr made live as packetdrill does."""
        name = option.name
        if name == "nop":
            return NOP
        if name == "eol":
            return EndOfOptions()
        if name == "mss":
            return MSS(option.values[0])
        if name == "wscale":
            return WindowScale(option.values[0])
        if name == "sackOK":
            return SACK_PERMITTED
        if name == "sack":
            base = self.local_isn or 0
            values = option.values
            return Sack(tuple(((base + values[i]) & M32, (base + values[i + 1]) & M32)
                              for i in range(0, len(values), 2)))
        if name == "TS":
            val, ecr = option.values
            return Timestamps(val, self._live_ecr(ecr) if ack else ecr)
        if name in ("FO", "FOEXP"):
            if not ack:
                raise Unsupported("a SYN with the Fast Open option (tcpkit has no Fast Open "
                                  "server)")
            return FastOpen(_cookie(option.blob), experimental=name == "FOEXP")
        raise Unsupported(f"TCP option {name}")

    def _live_ecr(self, ecr: int) -> int:
        """packetdrill's ``map_inbound_packet``: a script TS ecr names the actual TS val
        sent where the script said that value, or, with ``--tcp_ts_ecr_scaled``, one
        interpolated from the first."""
        if ecr in self.ts_map:
            return self.ts_map[ecr]
        if self.ts_ecr_scaled and self.ts_origin is not None:
            return (ecr - self.ts_origin[0] + self.ts_origin[1]) & M32
        raise Mismatch(f"unable to infer live TS ecr for script TS ecr {ecr}; no matching "
                       "or preceding outbound TS val")

    def _check_tsval(self, packet: Packet, seg: TCPSegment) -> None:
        """packetdrill's ``map_outbound_live_packet`` and TS val check: the actual TS val,
        moved into script time by the first pair seen, must be within the tolerance of
        the script's when ``--tcp_ts_tick_usecs`` gives the tick."""
        if not isinstance(packet.options, tuple):
            return
        script = next((o.values[0] for o in packet.options if o.name == "TS"), None)
        actual = next((o.tsval for o in seg.options if isinstance(o, Timestamps)), None)
        if script is None or actual is None:
            return
        self.ts_map[script] = actual
        if self.ts_origin is None:
            self.ts_origin = (script, actual)
        mapped = (self.ts_origin[0] + actual - self.ts_origin[1]) & M32
        off = ((mapped - script + 0x80000000) & M32) - 0x80000000
        if self.ts_tick_usecs and abs(off) * self.ts_tick_usecs > self.tolerance * 1e6:
            raise Mismatch(f"bad outbound TCP timestamp value: expected TS val {script}, "
                           f"got {mapped} (in script time)")

    @staticmethod
    def _flags(text: str) -> int:
        flags = 0
        for char in text.replace("-", ""):  # "-": no flag at all
            if char not in FLAG_BITS:
                raise Unsupported(f"TCP flag {char!r} (ECN)")
            flags |= FLAG_BITS[char]
        return flags

    def _expect(self, packet: Packet, when: float, anytime: bool,
                latest: float | None) -> float:
        """The next packet the host sent must be ``packet``, sent at ``when`` (or
        between ``when`` and ``latest``) give or take the tolerance. Returns when it
        was sent."""
        last = (when if latest is None else latest) + self.slack
        self.net.wait(lambda: bool(self.sniffed), None if anytime else
                      max(last - self.net.now, YIELD))
        window = f"{when:.6f}" if latest is None else f"{when:.6f}~{latest:.6f}"
        if not self.sniffed:
            raise Mismatch(f"expected {self._show(packet)} at {window}, nothing was sent")
        sent_at, seg = self.sniffed.pop(0)
        if not anytime and not when - self.slack - 1e-9 <= sent_at <= last + 1e-9:
            raise Mismatch(f"{self._show(packet)} expected at {window}, sent at "
                           f"{sent_at:.6f} ({self._show_seg(seg)})")
        self._compare(packet, seg, last)
        return sent_at

    def _compare(self, packet: Packet, seg: TCPSegment, last: float) -> None:
        expected_flags = self._flags(packet.flags)
        base = self.local_isn or 0
        start = (seg.seq - base) & M32
        if expected_flags & SYN and seg.flags & SYN:
            start = self.script_local_isn = packet.start  # the script names our ISN
        length = len(seg.payload)
        covered = length
        flags = seg.flags
        if not self.strict and packet.length > length and start == packet.start:
            # Lenient: an expected GSO packet may leave as several segments, each
            # following the last with the same ACK; the flags are the last one's plus
            # what any of them carried (SYN, FIN never sit in the middle).
            while covered < packet.length:
                self.net.wait(lambda: bool(self.sniffed), max(last - self.net.now, YIELD))
                if not self.sniffed:
                    break
                more = self.sniffed[0][1]
                if more.seq != (seg.seq + len(seg.payload)) & M32 or more.ack != seg.ack \
                        or not more.payload:
                    break
                self.sniffed.pop(0)
                covered += len(more.payload)
                flags |= more.flags
                seg = more
            flags = (flags & ~PSH) | (seg.flags & PSH)  # PSH: the last segment's
        got = self._show_seg(seg, start, covered, flags)
        if flags & ~URG != expected_flags & ~URG or start != packet.start or \
                covered != packet.length:
            raise Mismatch(f"expected {self._show(packet)}, got {got}")
        if packet.ack is not None and self._script_ack(seg) != packet.ack:
            raise Mismatch(f"expected {self._show(packet)}, got {got}")
        if packet.window is not None and seg.window != packet.window:
            raise Mismatch(f"expected win {packet.window}, got {got}")
        if isinstance(packet.options, tuple):
            want = [self._show_option(o) for o in packet.options]
            have = [self._show_wire_option(o) for o in seg.options]
            if want != have:
                raise Mismatch(f"expected options <{', '.join(want)}>, got "
                               f"<{', '.join(have)}>")
            self._check_tsval(packet, seg)

    def _script_ack(self, seg: TCPSegment) -> int:
        """An outbound ACK number in the script's terms: absolute on a SYN-ACK,
        relative to the remote ISN otherwise."""
        return (seg.ack - (REMOTE_ISN if seg.flags & SYN else self.remote_isn)) & M32

    def _show(self, packet: Packet) -> str:
        text = f"{packet.flags} {packet.start}:{packet.end}({packet.length})"
        if packet.ack is not None:
            text += f" ack {packet.ack}"
        if packet.window is not None:
            text += f" win {packet.window}"
        return text

    def _show_seg(self, seg: TCPSegment, start: int | None = None, length: int | None = None,
                  flags: int | None = None) -> str:
        base = self.local_isn or 0
        start = (seg.seq - base) & M32 if start is None else start
        length = len(seg.payload) if length is None else length
        flags = seg.flags if flags is None else flags
        text = "".join(c for c, bit in (("F", FIN), ("S", SYN), ("R", RST), ("P", PSH),
                                        ("U", URG)) if flags & bit)
        text += "." if flags & ACK else ""
        text += f" {start}:{start + length}({length})"
        if flags & ACK:
            text += f" ack {self._script_ack(seg)}"
        return text + f" win {seg.window}"

    @staticmethod
    def _show_option(option: TcpOption) -> str:
        if option.name == "TS":
            return f"TS ecr {option.values[1]}" if option.values[1] else "TS ecr 0"
        if option.name == "sack":
            return "sack " + " ".join(f"{a}:{b}" for a, b in zip(
                option.values[::2], option.values[1::2], strict=True))
        if option.name in ("FO", "FOEXP"):
            return f"{option.name} {_cookie(option.blob).hex()}".rstrip()
        return " ".join([option.name, *map(str, option.values)])

    def _show_wire_option(self, option: TCPOption) -> str:
        if isinstance(option, NoOperation):
            return "nop"
        if isinstance(option, EndOfOptions):
            return "eol"
        if isinstance(option, MSS):
            return f"mss {option.value}"
        if isinstance(option, WindowScale):
            return f"wscale {option.shift}"
        if isinstance(option, SackPermitted):
            return "sackOK"
        if isinstance(option, Timestamps):
            return "TS ecr 0" if not option.tsecr else f"TS ecr {option.tsecr}"
        if isinstance(option, Sack):
            base = self.remote_isn
            return "sack " + " ".join(f"{(a - base) & M32}:{(b - base) & M32}"
                                      for a, b in option.blocks)
        if isinstance(option, FastOpen):
            name = "FOEXP" if option.experimental else "FO"
            return f"{name} {option.cookie.hex()}".rstrip()
        return repr(option)

    # -- system calls --

    def _syscall(self, event: Event, call: Syscall, when: float) -> None:
        handler = SYSCALLS.get(call.name)
        if handler is None:
            raise Unsupported(f"system call {call.name}()")
        box: dict[str, Any] = {"slack": self.slack}

        def run() -> None:
            try:
                box["value"] = handler(self, call)
            except NotModelled:
                option = call.args[2] if len(call.args) > 2 else "?"
                box["unsupported"] = f"socket option {getattr(option, 'name', option)}"
            except OSError as exc:
                box["errno"] = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            except Unsupported as exc:
                box["unsupported"] = str(exc)
            except Mismatch as exc:
                box["mismatch"] = str(exc)
            except Exception as exc:
                box["unsupported"] = f"{call.name}() {type(exc).__name__}: {exc}"
            box["at"] = self.net.now

        actor = self.net.spawn(self.host, run, name=call.name)
        # A relative start's end counts from the previous event, like the start.
        end = None if call.end is None else (
            when - event.time.start + call.end if event.time.relative else call.end)
        self.pending.append((event, actor, end, box))
        limit = (end if end is not None else when) + self.slack
        if end is None:
            self.net.wait(lambda: actor.done, max(limit - self.net.now, YIELD))
            if not actor.done:
                raise Mismatch(f"{call.name}() blocked; the script expects it to return at "
                               "once (write ...end for a blocking call)")

    def _check_pending(self, line: int | None) -> None:
        still: list[tuple[Event, Any, float | None, dict[str, Any]]] = []
        for event, actor, end, box in self.pending:
            if not actor.done:
                still.append((event, actor, end, box))
                continue
            self._check_result(event, box, end)
        self.pending = still
        del line

    def _check_result(self, event: Event, box: dict[str, Any], end: float | None) -> None:
        call = event.action
        assert isinstance(call, Syscall)
        if "unsupported" in box:
            raise Unsupported(box["unsupported"])
        if "mismatch" in box:
            raise Mismatch(f"line {event.line}: {box['mismatch']}")
        if end is not None and abs(box["at"] - end) > box["slack"] + 1e-9:
            raise Mismatch(f"line {event.line}: {call.name}() returned at {box['at']:.6f}, "
                           f"expected at {end:.6f}")
        failed = "errno" in box
        got = f"-1 {box['errno']}" if failed else str(box["value"])
        want = call.result
        if want is Ellipsis:
            return
        expected = f"{want} {call.errno}" if call.errno else str(want)
        # A script without an errno checks the value only; errnos are compared by
        # number (ENOTSUP is EOPNOTSUPP on Linux).
        same = (want == -1 and (not call.errno or getattr(errno, call.errno, None)
                                == getattr(errno, box["errno"], -1))) if failed \
            else got == expected
        if not same:
            raise Mismatch(f"line {event.line}: {call.name}() = {got}, expected {expected}")


_TCP_INFO_FIELDS = (
    "tcpi_state", "tcpi_ca_state", "tcpi_retransmits", "tcpi_probes", "tcpi_backoff",
    "tcpi_options", "tcpi_wscales", "tcpi_flags", "tcpi_rto", "tcpi_ato", "tcpi_snd_mss",
    "tcpi_rcv_mss", "tcpi_unacked", "tcpi_sacked", "tcpi_lost", "tcpi_retrans", "tcpi_fackets",
    "tcpi_last_data_sent", "tcpi_last_ack_sent", "tcpi_last_data_recv", "tcpi_last_ack_recv",
    "tcpi_pmtu", "tcpi_rcv_ssthresh", "tcpi_rtt", "tcpi_rttvar", "tcpi_snd_ssthresh",
    "tcpi_snd_cwnd", "tcpi_advmss", "tcpi_reordering", "tcpi_rcv_rtt", "tcpi_rcv_space",
    "tcpi_total_retrans",
)
_TCP_INFO_CONSTANTS = {
    "TCP_CA_Open": 0, "TCP_CA_Disorder": 1, "TCP_CA_CWR": 2, "TCP_CA_Recovery": 3,
    "TCP_CA_Loss": 4, "TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4,
    "TCPI_OPT_ECN": 8, "TCPI_OPT_ECN_SEEN": 16, "TCPI_OPT_SYN_DATA": 32,
    "TCP_INFINITE_SSTHRESH": 0x7FFFFFFF, "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2,
    "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4, "TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6,
    "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8, "TCP_LAST_ACK": 9, "TCP_LISTEN": 10,
    "TCP_CLOSING": 11}


def tcp_info_names(sock: Any) -> dict[str, Any]:
    """The ``tcpi_*`` names a %{ }% block sees: the 104 bytes of TCP_INFO tcpkit gives,
    plus the later fields the engine keeps (delivered, min_rtt, reord_seen)."""
    raw = sock.getsockopt(stdlib.IPPROTO_TCP, 11, 104)  # TCP_INFO
    values = struct.unpack("=8B24I", raw[:104])
    names: dict[str, Any] = dict(_TCP_INFO_CONSTANTS)
    names.update(zip(_TCP_INFO_FIELDS, values, strict=True))
    conn = getattr(sock._sock, "conn", None)
    if conn is not None:
        names["tcpi_delivered"] = conn.delivered
        names["tcpi_reord_seen"] = conn.reord_seen
        names["tcpi_min_rtt"] = min(conn.rtt.min_rtt_us, 0xFFFFFFFF)
    return names


def _finished(actor: Any) -> Callable[[], bool]:
    return lambda: bool(actor.done)


_REDIRECT = re.compile(r"\d*>>?\S+|\d*>&\d")


def _commands(words: list[str]) -> list[list[str]]:
    """A shell line's simple commands: its words split at ``;`` and ``&&``."""
    commands: list[list[str]] = [[]]
    for word in words:
        if word in (";", "&&"):
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


def eval_shell_int(text: str) -> int:
    """The integers defaults.sh writes: ``123`` or ``$((15*1024*1024))``."""
    text = text.strip()
    if text.startswith("$((") and text.endswith("))"):
        value = 1
        for factor in text[3:-2].split("*"):
            value *= int(factor)
        return value
    return int(text, 0)


# -- the system calls ------------------------------------------------------------------


def _constant(expr: Any) -> int:
    if isinstance(expr, int):
        return expr
    if isinstance(expr, Symbol):
        value = getattr(stdlib, expr.name, None)
        if not isinstance(value, int):
            value = _EXTRA_CONSTANTS.get(expr.name)
        if value is None:
            raise Unsupported(f"constant {expr.name}")
        return int(value)
    if isinstance(expr, Or):
        return _constant(expr.left) | _constant(expr.right)
    if isinstance(expr, Array) and len(expr.items) == 1:
        return _constant(expr.items[0])
    raise Unsupported(f"argument {expr!r}")


_EXTRA_CONSTANTS = {"O_RDWR": 2, "O_NONBLOCK": 0o4000, "F_GETFL": 3, "F_SETFL": 4,
                    "SO_REUSEADDR": 2, "TCP_NODELAY": 1, "TCP_CORK": 3, "SOL_TCP": 6,
                    "TCP_MAXSEG": 2, "TCP_INFO": 11, "TCP_USER_TIMEOUT": 18,
                    "SIOCINQ": 0x541B, "FIONREAD": 0x541B, "SIOCOUTQ": 0x5411,
                    "TIOCOUTQ": 0x5411, "SIOCOUTQNSD": 0x894B, "SIOCATMARK": 0x8905,
                    "MSG_FASTOPEN": MSG_FASTOPEN, "POLLIN": select.POLLIN,
                    "POLLPRI": select.POLLPRI, "POLLOUT": select.POLLOUT,
                    "POLLERR": select.POLLERR, "POLLHUP": select.POLLHUP,
                    "TCP_NOTSENT_LOWAT": 25, "SO_ZEROCOPY": SO_ZEROCOPY,
                    "MSG_ZEROCOPY": MSG_ZEROCOPY, "SO_EE_ORIGIN_ZEROCOPY": SO_EE_ORIGIN_ZEROCOPY,
                    "SO_EE_CODE_ZEROCOPY_COPIED": SO_EE_CODE_ZEROCOPY_COPIED,
                    "CMSG_LEVEL_IP": stdlib.IPPROTO_IP, "CMSG_TYPE_RECVERR": IP_RECVERR,
                    "TCP_FASTOPEN_CONNECT": TCP_FASTOPEN_CONNECT}


def _cookie(blob: str) -> bytes:
    """A Fast Open cookie as a script writes it (hex digits)."""
    try:
        return bytes.fromhex(blob)
    except ValueError:
        raise Unsupported(f"Fast Open cookie {blob!r} (not whole hex bytes)") from None


def _sock(player: Player, expr: Any) -> Any:
    fd = _constant(expr)
    if fd not in player.fds:
        raise OSError(errno.EBADF, "Bad file descriptor")
    return player.fds[fd]


def _new_fd(player: Player, call: Syscall, sock: Any) -> int:
    """The script names the new socket by the fd it expects (packetdrill maps script
    fds to live ones); the lowest free one if it gives none."""
    fd = call.result if isinstance(call.result, int) and call.result >= 0 else 3
    while fd in player.fds:
        fd += 1
    player.fds[fd] = sock
    return fd


def _socket(player: Player, call: Syscall) -> int:
    import tcpkit.socket as tsock  # noqa: PLC0415 (bound to the actor's host)
    return _new_fd(player, call, tsock.socket(stdlib.AF_INET, stdlib.SOCK_STREAM))


def _bind(player: Player, call: Syscall) -> int:
    _sock(player, call.args[0]).bind((player.local, PORT))
    return 0


def _listen(player: Player, call: Syscall) -> int:
    _sock(player, call.args[0]).listen(_constant(call.args[1]))
    return 0


def _accept(player: Player, call: Syscall) -> int:
    conn, _ = _sock(player, call.args[0]).accept()
    return _new_fd(player, call, conn)


def _connect(player: Player, call: Syscall) -> int:
    _sock(player, call.args[0]).connect((player.remote, PORT))
    return 0


def _read(player: Player, call: Syscall) -> int:
    return _recv(player, call)


def _recv(player: Player, call: Syscall) -> int:
    flags = _constant(call.args[3]) if len(call.args) > 3 else 0
    sock = _sock(player, call.args[0])
    if _null(call):
        with _efault():
            return int(sock.recv_into(None, _length(call), flags))
    return len(sock.recv(_length(call), flags))


def _length(call: Syscall) -> int:
    """The byte count of a read or write."""
    return _constant(call.args[2])


def _null(call: Syscall) -> bool:
    """Is the call's buffer C's NULL?"""
    return call.args[1] == Symbol("NULL")


@contextmanager
def _efault() -> Iterator[None]:
    """A NULL buffer given to tcpkit's socket API as None: the TypeError it raises, as
    Python's socket does, before anything is sent or taken, is C's EFAULT."""
    try:
        yield
    except TypeError as exc:
        raise OSError(errno.EFAULT, f"Bad address (tcpkit: {exc})") from None


def _transmit(player: Player, call: Syscall, flags: int, length: int | None = None) -> int:
    """C's write()/send(): on a blocking socket the kernel copies everything before it
    returns (tcp_sendmsg waits for room); a non-blocking one takes what fits."""
    sock = _sock(player, call.args[0])
    if length is None and _null(call):
        with _efault():
            return int(sock.send(None, flags))
    data = bytes(_length(call) if length is None else length)
    if sock.getblocking() and not flags & stdlib.MSG_DONTWAIT:
        sock.sendall(data, flags)
        return len(data)
    return int(sock.send(data, flags))


def _write(player: Player, call: Syscall) -> int:
    return _transmit(player, call, 0)


def _send(player: Player, call: Syscall) -> int:
    return _transmit(player, call, _constant(call.args[3]) if len(call.args) > 3 else 0)


def _sendto(player: Player, call: Syscall) -> int:
    """``sendto(fd, buf, len, flags, addr, addrlen)``: on a TCP socket the address
    matters only to Fast Open (``tcp_sendmsg_fastopen``); otherwise it is send()."""
    flags = _constant(call.args[3]) if len(call.args) > 3 else 0
    if not flags & MSG_FASTOPEN:
        return _transmit(player, call, flags)
    sock = _sock(player, call.args[0])
    address = (player.remote, PORT)
    if _null(call):
        with _efault():
            return int(sock.sendto(None, flags, address))
    return int(sock.sendto(bytes(_length(call)), flags, address))


def _recvfrom(player: Player, call: Syscall) -> int:
    """``recvfrom(fd, buf, len, flags, addr, addrlen)``: recv() on a TCP socket."""
    return _recv(player, call)


def _fields(what: str, struct: Any) -> dict[str, Any]:
    """A ``{name=value, ...}`` struct's fields by name (``msg_iov(1)`` is msg_iov)."""
    if not isinstance(struct, Struct):
        raise Unsupported(f"{what} {struct!r}")
    fields = {}
    for item in struct.items:
        if isinstance(item, Assign) and isinstance(item.target, (Call, Symbol)):
            fields[item.target.name] = item.value
    return fields


def _iov_length(what: str, fields: dict[str, Any]) -> int:
    """The iovecs' lengths added up."""
    vectors = fields.get("msg_iov")
    if not isinstance(vectors, Array):
        raise Unsupported(f"{what} without msg_iov")
    length = 0
    for vector in vectors.items:
        if not (isinstance(vector, Struct) and len(vector.items) == 2):
            raise Unsupported(f"{what} iovec {vector!r}")
        length += _constant(vector.items[1])
    return length


def _sendmsg(player: Player, call: Syscall) -> int:
    """``sendmsg(fd, {msg_name(...)=..., msg_iov(n)=[{..., len}, ...], msg_flags=0},
    flags)``: the iovecs' lengths add up to one write (ancillary data: UNSUPPORTED)."""
    fields = _fields("sendmsg() message", call.args[1])
    if "msg_control" in fields:
        raise Unsupported("sendmsg() ancillary data (msg_control)")
    length = _iov_length("sendmsg()", fields)
    return _transmit(player, call, _constant(call.args[2]) if len(call.args) > 2 else 0,
                     length)


_EXTENDED_ERR_FIELDS = ("ee_errno", "ee_origin", "ee_type", "ee_code", "ee_pad", "ee_info",
                        "ee_data")


def _recvmsg(player: Player, call: Syscall) -> int:
    """``recvmsg(fd, {..., msg_iov(n)=[...], msg_flags=F, msg_control=[{cmsg_level=L,
    cmsg_type=T, cmsg_data={...}}, ...]}, flags)``: the data as recv() reads it; the
    flags the call reports and each ancillary message must be the script's (the
    error queue's ``struct sock_extended_err``, field by field)."""
    fields = _fields("recvmsg() message", call.args[1])
    size = _iov_length("recvmsg()", fields)
    flags = _constant(call.args[2]) if len(call.args) > 2 else 0
    data, ancillary, got_flags, _ = _sock(player, call.args[0]).recvmsg(size, 4096, flags)
    want_flags = fields.get("msg_flags", Ellipsis)
    if want_flags is not Ellipsis and got_flags != _constant(want_flags):
        raise Mismatch(f"recvmsg() msg_flags {got_flags:#x}, expected "
                       f"{_constant(want_flags):#x}")
    control = fields.get("msg_control", Ellipsis)
    if control is not Ellipsis:
        if not isinstance(control, Array):
            raise Unsupported(f"recvmsg() msg_control {control!r}")
        if len(control.items) != len(ancillary):
            raise Mismatch(f"recvmsg() gave {len(ancillary)} control messages, expected "
                           f"{len(control.items)}")
        for want, got in zip(control.items, ancillary, strict=True):
            _check_cmsg(_fields("recvmsg() control message", want), got)
    return len(data)


def _check_cmsg(want: dict[str, Any], got: tuple[int, int, bytes]) -> None:
    level, kind, data = got
    if (level, kind) != (_constant(want.get("cmsg_level")), _constant(want.get("cmsg_type"))):
        raise Mismatch(f"recvmsg() control message level {level} type {kind}, expected "
                       f"{want.get('cmsg_level')} {want.get('cmsg_type')}")
    if kind != IP_RECVERR or len(data) < EXTENDED_ERR.size:
        raise Unsupported(f"recvmsg() control message type {kind}")
    values = dict(zip(_EXTENDED_ERR_FIELDS, EXTENDED_ERR.unpack_from(data), strict=True))
    for name, expr in _fields("cmsg_data", want.get("cmsg_data")).items():
        if name not in values:
            raise Unsupported(f"sock_extended_err field {name}")
        if expr is not Ellipsis and values[name] != _constant(expr):
            raise Mismatch(f"recvmsg() {name} {values[name]}, expected {_constant(expr)}")


def _close(player: Player, call: Syscall) -> int:
    fd = _constant(call.args[0])
    sock = _sock(player, fd)
    del player.fds[fd]
    sock.close()
    return 0


def _shutdown(player: Player, call: Syscall) -> int:
    _sock(player, call.args[0]).shutdown(_constant(call.args[1]))
    return 0


def _setsockopt(player: Player, call: Syscall) -> int:
    sock = _sock(player, call.args[0])
    level, name = _constant(call.args[1]), _constant(call.args[2])
    value = call.args[3]
    if isinstance(value, Struct):
        fields = [_constant(getattr(item, "value", item)) for item in value.items]
        sock.setsockopt(level, name, struct.pack("ii", *fields))
    else:
        sock.setsockopt(level, name, _constant(value))
    return 0


def _check_out_value(call: Syscall, index: int, value: object) -> None:
    """A value the call writes back (``[1100]``) must be the one the script gives;
    ``...`` or no argument checks nothing."""
    want = call.args[index] if len(call.args) > index else Ellipsis
    if want is Ellipsis:
        return
    if not (isinstance(want, Array) and len(want.items) == 1):
        raise Unsupported(f"{call.name}() value {want!r}")
    if want.items[0] is not Ellipsis and value != _constant(want.items[0]):
        raise Mismatch(f"{call.name}() value {value}, expected {_constant(want.items[0])}")


def _getsockopt(player: Player, call: Syscall) -> int:
    """``getsockopt(fd, level, name, [value], [len]) = 0``: the value must match."""
    sock = _sock(player, call.args[0])
    level, name = _constant(call.args[1]), _constant(call.args[2])
    _check_out_value(call, 3, sock.getsockopt(level, name))
    return 0


def _ioctl(player: Player, call: Syscall) -> int:
    """``ioctl(fd, SIOCINQ, [value]) = 0``: the value must match."""
    _check_out_value(call, 2, _sock(player, call.args[0]).ioctl(_constant(call.args[1])))
    return 0


def _poll_events(sock: Any) -> int:
    """Linux ``tcp_poll``'s mask for the events the scripts ask about."""
    inner = sock._sock
    mask = (select.POLLIN if inner.readable() else 0) | \
        (select.POLLOUT if inner.writable() else 0)
    conn = inner.conn
    if (conn is not None and conn.error) or inner.error_queued():
        mask |= select.POLLERR
    return mask


def _poll(player: Player, call: Syscall) -> int:
    """``poll([{fd=F, events=E, revents=R}, ...], n, timeout_ms)``: wait until one of
    the sockets has what it asks for (or the timeout); each revents the script gives
    must then be the socket's."""
    entries = call.args[0]
    if not isinstance(entries, Array):
        raise Unsupported(f"poll() argument {entries!r}")
    polled = []
    for entry in entries.items:
        fields = {item.target.name: item.value for item in getattr(entry, "items", ())
                  if isinstance(item, Assign) and isinstance(item.target, Symbol)}
        if "fd" not in fields or "events" not in fields:
            raise Unsupported(f"poll() entry {entry!r}")
        polled.append((_sock(player, fields["fd"]), _constant(fields["events"]),
                       fields.get("revents")))
    always = select.POLLERR | select.POLLHUP

    def ready() -> list[int]:
        return [_poll_events(sock) & (wanted | always) for sock, wanted, _ in polled]

    timeout = _constant(call.args[2]) if len(call.args) > 2 else -1
    player.net.wait(lambda: any(ready()), None if timeout < 0 else timeout / 1000)
    got = ready()
    for (_, _, revents), mask in zip(polled, got, strict=True):
        if revents is not None and mask != _constant(revents):
            raise Mismatch(f"poll() revents {mask:#x}, expected {_constant(revents):#x}")
    return sum(1 for mask in got if mask)


def _fcntl(player: Player, call: Syscall) -> int:
    sock = _sock(player, call.args[0])
    command = _constant(call.args[1])
    if command == 3:  # F_GETFL
        return 2 | (0 if sock.getblocking() else 0o4000)
    if command == 4:  # F_SETFL
        sock.setblocking(not _constant(call.args[2]) & 0o4000)
        return 0
    raise Unsupported(f"fcntl command {command}")


SYSCALLS: dict[str, Callable[[Player, Syscall], int]] = {
    "socket": _socket, "bind": _bind, "listen": _listen, "accept": _accept,
    "connect": _connect, "read": _read, "recv": _recv, "write": _write, "send": _send,
    "close": _close, "shutdown": _shutdown, "setsockopt": _setsockopt, "fcntl": _fcntl,
    "getsockopt": _getsockopt, "ioctl": _ioctl, "sendmsg": _sendmsg, "sendto": _sendto,
    "recvfrom": _recvfrom, "poll": _poll, "recvmsg": _recvmsg,
}

"""Running a scenario: on the simulated network (deterministic, virtual time) or on the
kernel (two network namespaces, real time), and comparing the two.

A run gives an :class:`Outcome`: the call log, the capture (pcap bytes), the state
timeline of every connection (tcpkit only: the kernel does not narrate its states) and
the segment sequence the comparison reads. :func:`compare` finds the first difference
between two outcomes: each actor's calls and results in order, then each side's segments
on the cable in order (flags, sequence and acknowledgment numbers relative to each side's
initial sequence number, payload length). Times are not compared: the kernel runs in
real time on a shorter cable.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tcpkit.lab.calls import Call, CallLog
from tcpkit.lab.netns import Namespace
from tcpkit.lab.netstat import SocketRow, snapshot
from tcpkit.lab.scenario import CLIENT, Scenario, Stage
from tcpkit.lab.tun_world import NotInThisWorld, TunWorld
from tcpkit.lab.worlds import KernelWorld, SimWorld, World
from tcpkit.tcp.events import StateChanged
from tcpkit.tcp.state import State
from tcpkit.wire import icmp
from tcpkit.wire.capture import LINKTYPE_ETHERNET
from tcpkit.wire.capture_file import open_capture
from tcpkit.wire.errors import MalformedPacket
from tcpkit.wire.ipv4 import PROTO_ICMP, PROTO_TCP, parse_ipv4
from tcpkit.wire.tcp import ACK, FIN, PSH, RST, SYN, URG, parse_tcp
from tcpkit.wire.tcpdump import Formatter, TimeFormat

SETTLE = 0.2  # seconds the capture goes on after the programs end
_FLAG_LETTERS = ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (URG, "U"))


@dataclass(frozen=True, slots=True)
class StateRecord:
    """A connection changed state: when, on which host, which connection, and why."""

    time: float
    host: str
    local: str
    remote: str
    old: str
    new: str
    cause: str

    def line(self) -> str:
        return (f"{self.time:10.3f}  {self.host:8} {self.local:>18} -> {self.remote:<18} "
                f"{self.old} -> {self.new}  ({self.cause})")


@dataclass
class Outcome:
    """What one run of a scenario produced."""

    scenario: Scenario
    world: str  # "tcpkit" or "linux"
    knobs: dict[str, int]
    calls: list[Call]
    pcap: bytes
    states: list[StateRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The sockets at the instants asked for (run_sim's ``netstat_at``), as ss shows them.
    tables: dict[float, list[SocketRow]] = field(default_factory=dict)

    def trace(self) -> list[str]:
        """The capture as ``tcpdump -n -ttttt`` prints it."""
        formatter = Formatter(time_format=TimeFormat.SINCE_FIRST)
        return [formatter.line(packet) for packet in open_capture(io.BytesIO(self.pcap))]

    def segments(self) -> list[str]:
        """The TCP segments on the cable, as the comparison sees them."""
        return segment_summary(self.pcap)

    def actors(self) -> list[str]:
        return sorted({call.actor for call in self.calls})

    def results(self, actor: str | None = None, called: str = "") -> list[str]:
        """What calls returned, in order: of ``actor`` (any if None), whose text
        contains ``called`` (".recv(", "SO_ERROR", "ss state")."""
        return [c.result for c in self.calls
                if (actor is None or c.actor == actor) and called in c.call]

    def told(self, actor: str, called: str) -> str:
        """Those results as an explanation writes them: "b'x', then ECONNRESET"."""
        return ", then ".join(self.results(actor, called)) or "nothing"

    def first(self, called: str, actor: str | None = None) -> str:
        """The first such result, or "?"."""
        return next(iter(self.results(actor, called)), "?")

    def calls_of(self, actor: str) -> list[str]:
        return [f"{call.call} -> {call.result}" for call in self.calls if call.actor == actor]

    def explanation(self) -> str:
        return self.scenario.explain(self)

    def ladder(self) -> str:
        """The run as a ladder diagram, an SVG document (:mod:`tcpkit.lab.ladder`)."""
        from tcpkit.lab.ladder import ladder_svg  # noqa: PLC0415 (it reads Outcome)
        return ladder_svg(self)


def segment_summary(pcap: bytes) -> list[str]:
    """The packets as :func:`packet_records` describes them, without their times."""
    return [line for _, line in packet_records(pcap)]


def packet_records(pcap: bytes) -> list[tuple[float, str]]:
    """Each TCP segment and ICMP error of the capture with its time (seconds of the
    capture's clock) as a ``"> S seq 0 ack 0 len 0"`` line: ``>`` from the client,
    ``<`` to it; numbers relative to the sender's SYN (absolute if its SYN was not
    seen); "no-DF" if the datagram may be fragmented; "[2]" for the second connection
    seen, and so on. ICMP errors to the client are ``"! ICMP 3/4 mtu 1280 about seq 1"``
    lines (the quoted segment's sequence number, relative)."""
    # Per connection (numbered in order of appearance: ephemeral ports differ between
    # worlds) and direction.
    isn: dict[tuple[int, bool], int] = {}
    numbers: dict[frozenset[tuple[str, int]], int] = {}
    # The sequence number of each side's SYN (both send one in a simultaneous open).
    opening: dict[tuple[frozenset[tuple[str, int]], bool], int] = {}
    count = 0
    lines: list[tuple[float, str]] = []
    for packet in open_capture(io.BytesIO(pcap)):
        data = packet.data
        when = packet.timestamp
        if packet.linktype == LINKTYPE_ETHERNET:
            if data[12:14] != b"\x08\x00":
                continue
            data = data[14:]
        try:
            header, payload = parse_ipv4(data, verify=False)
            if header.protocol == PROTO_ICMP:
                if header.dst == CLIENT:
                    lines.append((when, _icmp_line(payload, isn.get((count, True), 0))))
                continue
            if header.protocol != PROTO_TCP:
                continue
            seg = parse_tcp(payload)
        except MalformedPacket:
            lines.append((when, "malformed"))
            continue
        outbound = header.src == CLIENT
        ends = frozenset(((header.src, seg.src_port), (header.dst, seg.dst_port)))
        opener = (ends, outbound)
        if seg.flags & (SYN | ACK) == SYN and opening.get(opener, seg.seq) != seg.seq:
            del numbers[ends]  # a new connection on the same ports (TIME_WAIT reused)
        number = numbers.setdefault(ends, count + 1)
        count = max(count, number)
        if seg.flags & (SYN | ACK) == SYN:
            opening[opener] = seg.seq
        if seg.flags & SYN:
            isn[number, outbound] = seg.seq
        flags = "".join(letter for bit, letter in _FLAG_LETTERS if seg.flags & bit) or "."
        seq = (seg.seq - isn.get((number, outbound), 0)) & 0xFFFFFFFF
        ack = (seg.ack - isn.get((number, not outbound), 0)) & 0xFFFFFFFF \
            if seg.flags & ACK else 0
        which = f" [{number}]" if number > 1 else ""
        # DF is clear only where path MTU discovery gave up (a locked path MTU).
        df = "" if header.dont_fragment else " no-DF"
        lines.append((when, f"{'>' if outbound else '<'} {flags} seq {seq} ack {ack} "
                            f"len {len(seg.payload)}{df}{which}"))
    return lines


def _icmp_line(payload: bytes, client_isn: int) -> str:
    message = icmp.parse_icmp(payload, verify=False)
    line = f"! ICMP {message.type}/{message.code}"
    if message.type == icmp.DEST_UNREACHABLE and message.code == icmp.FRAGMENTATION_NEEDED:
        line += f" mtu {message.next_hop_mtu}"
    if message.is_error:
        _, quoted = message.quoted_ipv4()
        if len(quoted) >= 8:
            seq = int.from_bytes(quoted[4:8], "big")
            line += f" about seq {(seq - client_isn) & 0xFFFFFFFF}"
    return line


def _play(scenario: Scenario, world: World, knobs: dict[str, int]) -> Stage:
    stage = Stage(world, CallLog(world.now), knobs)
    scenario.play(stage)
    world.run(scenario.timeout)
    # The programs are done; what they set in motion (the last ACK, a RST) still
    # reaches the cable and its capture.
    if isinstance(world, SimWorld):
        world.net.run(until=world.now() + SETTLE)
    else:
        time.sleep(SETTLE)
    return stage


def run_sim(scenario: Scenario, knobs: dict[str, int] | None = None, *,
            seed: int = 1, netstat_at: tuple[float, ...] = ()) -> Outcome:
    """The scenario on the simulated network: the same seed gives the same bytes.
    ``netstat_at``: virtual times at which to list every socket (Outcome.tables)."""
    values = scenario.settings(knobs)
    capture = io.BytesIO()
    world = SimWorld(seed, capture=capture, names=("client", "server"),
                     routed=scenario.routed)
    states: list[StateRecord] = []
    origin = world.now()
    for host in world.hosts.values():
        def watch(key: tuple[str, int, str, int], event: StateChanged, now: float,
                  name: str = host.name) -> None:
            if event.new is State.LISTEN:
                return  # a listener's child is born listening (RFC 9293's model); Linux
                # creates it in SYN_RECEIVED, which the next record shows
            states.append(StateRecord(now - origin, name, f"{key[0]}:{key[1]}",
                                      f"{key[2]}:{key[3]}", event.old.name, event.new.name,
                                      event.cause))
        host.state_watchers.append(watch)
    tables: dict[float, list[SocketRow]] = {}
    hosts = [*world.hosts.values(), *([world.router] if world.router else [])]
    for when in netstat_at:
        def take(now: float, when: float = when) -> None:
            tables[when] = snapshot(hosts, now)
        world.net.at(origin + when, take)
    try:
        stage = _play(scenario, world, values)
    finally:
        world.close()
    return Outcome(scenario, "tcpkit", values, stage.log.calls, capture.getvalue(), states,
                   stage.notes, tables)


def run_kernel(scenario: Scenario, knobs: dict[str, int] | None = None) -> Outcome:
    """The scenario on Linux: needs root, ``ip``, ``nft`` and ``tcpdump``."""
    if scenario.kernel_cannot:
        raise ValueError(f"the kernel cannot play {scenario.name}: {scenario.kernel_cannot}")
    values = scenario.settings(knobs)
    world = KernelWorld(routed=scenario.routed)
    world.pair.offloads_off()  # one wire segment per TCP segment, as tcpkit sends them
    stage, pcap = _play_captured(scenario, world, values, world.pair.a, world.pair.a_if)
    return Outcome(scenario, "linux", values, stage.log.calls, pcap, notes=stage.notes)


def _play_captured(scenario: Scenario, world: KernelWorld | TunWorld,
                   values: dict[str, int], ns: Namespace, interface: str) -> tuple[Stage, bytes]:
    """Play on a world with real time, tcpdump capturing on ``interface`` of ``ns``;
    the world is closed afterwards. The stage and the capture (b"" if none)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "capture.pcap"
        try:
            with ns.capture(interface, path):
                stage = _play(scenario, world, values)
        finally:
            world.close()
        pcap = path.read_bytes() if path.exists() and os.path.getsize(path) else b""
    return stage, pcap


def run_tun(scenario: Scenario, tcpkit_side: str = "a",
            knobs: dict[str, int] | None = None) -> Outcome:
    """The scenario with tcpkit on ``tcpkit_side`` ("a": the client, "b": the server)
    and the kernel on the other, over a real TUN device (:mod:`tcpkit.lab.tun_world`);
    needs root. NotInThisWorld if the story needs what that world lacks."""
    if scenario.kernel_cannot:
        raise ValueError(f"the kernel cannot play {scenario.name}: {scenario.kernel_cannot}")
    if scenario.routed:
        raise NotInThisWorld("a router")
    if scenario.tun_cannot:
        raise NotInThisWorld(scenario.tun_cannot)
    values = scenario.settings(knobs)
    world = TunWorld(f"tkl{os.getpid()}", tcpkit_side)
    stage, pcap = _play_captured(scenario, world, values, world.ns,
                                 world.tun.namespace.device)
    who = "client" if tcpkit_side == "a" else "server"
    return Outcome(scenario, f"tcpkit {who}, linux peer", values, stage.log.calls, pcap,
                   notes=stage.notes)


def compare_calls(expected: Outcome, ours: Outcome) -> str | None:
    """The first difference in what the programs' calls returned, or None."""
    for actor in sorted(set(expected.actors()) | set(ours.actors())):
        theirs, mine = expected.calls_of(actor), ours.calls_of(actor)
        for i, (a, b) in enumerate(zip(theirs, mine, strict=False)):
            if a != b:
                return f"{actor} call {i + 1}: {expected.world} {a!r}, {ours.world} {b!r}"
        if len(theirs) != len(mine):
            return (f"{actor}: {expected.world} made {len(theirs)} calls, "
                    f"{ours.world} {len(mine)}")
    return None


def _streams(lines: list[str]) -> dict[tuple[str, int], list[str]]:
    """The summary lines by direction and connection number."""
    streams: dict[tuple[str, int], list[str]] = {}
    for line in lines:
        number = int(line.rsplit("[", 1)[1][:-1]) if line.endswith("]") else 1
        streams.setdefault((line[0], number), []).append(line)
    return streams


def compare(kernel: Outcome, ours: Outcome) -> str | None:
    """The first difference between the kernel's run and tcpkit's, or None."""
    difference = compare_calls(kernel, ours)
    if difference is not None:
        return difference
    # Each direction of each connection on its own: how they interleave depends on the
    # cable's length and on how fast programs run, which differ between the worlds.
    theirs_by, mine_by = _streams(kernel.segments()), _streams(ours.segments())
    names = {">": "client", "<": "server", "!": "network"}
    for key in sorted(set(theirs_by) | set(mine_by)):
        arrow, number = key
        side = names[arrow] + (f" (connection {number})" if number > 1 else "")
        theirs_segs, mine_segs = theirs_by.get(key, []), mine_by.get(key, [])
        for i, (a, b) in enumerate(zip(theirs_segs, mine_segs, strict=False)):
            if a != b:
                return f"{side}'s packet {i + 1}: linux {a!r}, tcpkit {b!r}"
        if len(theirs_segs) != len(mine_segs):
            shorter = min(len(theirs_segs), len(mine_segs))
            extra = (theirs_segs if len(theirs_segs) > shorter else mine_segs)[shorter]
            return (f"the {side} sent {len(theirs_segs)} packets on linux, "
                    f"{len(mine_segs)} on tcpkit (the first extra: {extra!r})")
    return None

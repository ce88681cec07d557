"""The packetdrill language as tcpkit reads it (packetdrill's parser.y grammar,
shared/packetdrill/syntax.md): every script of the upstream suite parses, each
construct lands in the right field, and bad text is a PacketdrillSyntaxError naming
the line, never another exception."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpkit.tools.packetdrill.lexer import PacketdrillSyntaxError
from tcpkit.tools.packetdrill.script import (
    Array,
    Assign,
    Call,
    Code,
    Command,
    Or,
    Packet,
    Struct,
    Symbol,
    Syscall,
    TcpOption,
    Text,
    Time,
    parse,
)
from tests.conftest import require_packetdrill_suite


def test_every_upstream_script_parses() -> None:
    root = require_packetdrill_suite()
    scripts = sorted(root.rglob("*.pkt"))
    assert len(scripts) > 150
    events = 0
    for path in scripts:
        script = parse(path.read_text())
        assert script.events, path
        events += len(script.events)
    assert events > 4000


SCRIPT = """--tolerance_usecs=10000
--strict_segments
`../common/defaults.sh`

// a comment
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, {sa_family=AF_INET, sin_port=htons(8080),
               sin_addr=inet_addr("192.0.2.1")}, 16) = 0
  +.1 < S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
   +0 < . 1:1(0) ack 1 win 257 <sack 1461:2921 4381:5841,TS val 100 ecr 0>
   +0 > P. 1:5841(5840) ack 1 <...>
0.100~0.200 read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
   +0...0.300 accept(3, ..., ...) = 4
    * > F. 5841:5841(0) ack 1
   +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
   +0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
   +0 `echo hi`
   +0 < icmp unreachable frag_needed mtu 1200 [1:1461(1460)]
`echo bye`
"""


def test_the_parts_of_a_script() -> None:
    script = parse(SCRIPT)
    assert script.options == {"tolerance_usecs": "10000", "strict_segments": None}
    assert script.init == Command("../common/defaults.sh")
    assert script.cleanup == Command("echo bye")
    events = script.events
    assert [e.line for e in events][:3] == [6, 7, 8]
    assert events[0].time == Time(0.0) and events[1].time == Time(0.0, relative=True)
    assert events[0].action == Syscall("socket", (Ellipsis, Symbol("SOCK_STREAM"),
                                                  Symbol("IPPROTO_TCP")), 3)
    bind = events[2].action
    assert isinstance(bind, Syscall)
    assert bind.args[1] == Struct((
        Assign(Symbol("sa_family"), Symbol("AF_INET")),
        Assign(Symbol("sin_port"), Call("htons", (8080,))),
        Assign(Symbol("sin_addr"), Call("inet_addr", (Text("192.0.2.1"),)))))
    assert events[1].action.args[3] == Array((1,))  # type: ignore[union-attr]
    syn = events[3].action
    assert syn == Packet(True, "tcp", "S", 0, 0, 0, None, 32792, None, (
        TcpOption("mss", (1460,)), TcpOption("sackOK"), TcpOption("nop"),
        TcpOption("nop"), TcpOption("nop"), TcpOption("wscale", (7,))))
    assert events[3].time == Time(0.1, relative=True)
    synack = events[4].action
    assert isinstance(synack, Packet) and not synack.inbound and synack.flags == "S."
    sack = events[5].action
    assert isinstance(sack, Packet) and sack.options == (
        TcpOption("sack", (1461, 2921, 4381, 5841)), TcpOption("TS", (100, 0)))
    burst = events[6].action
    assert isinstance(burst, Packet) and burst.options is Ellipsis and burst.length == 5840
    read = events[7]
    assert read.time == Time(0.1, end=0.2)
    assert read.action == Syscall("read", (4, Ellipsis, 1000), -1, "EAGAIN",
                                  "Resource temporarily unavailable")
    assert events[8].action == Syscall("accept", (3, Ellipsis, Ellipsis), 4, end=0.3)
    assert events[9].time == Time(any=True)
    fcntl = events[10].action
    assert isinstance(fcntl, Syscall)
    assert fcntl.args[2] == Or(Symbol("O_RDWR"), Symbol("O_NONBLOCK"))
    assert events[11].action == Code(" assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd ")
    assert events[12].action == Command("echo hi")
    icmp = events[13].action
    assert isinstance(icmp, Packet) and icmp.protocol == "icmp"
    assert icmp.icmp == ("unreachable", "frag_needed") and icmp.mtu == 1200
    assert icmp.quoted == Packet(False, "tcp", "", 1, 1461, 1460)


def test_hex_cookies_and_notes_without_errno() -> None:
    script = parse("0 < S 0:0(0) win 1 <FO 1234abcd,md5 000102030a0b>\n"
                   "+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)\n"
                   '+0 write(4, "abc"..., 3) = 3\n')
    assert script.events[0].action.options == (  # type: ignore[union-attr]
        TcpOption("FO", (), "1234abcd"), TcpOption("md5", (), "000102030a0b"))
    assert script.events[1].action == Syscall("fcntl", (3, Symbol("F_GETFL")), 2,
                                              None, "flags O_RDWR")
    assert script.events[2].action.args[1] == Text("abc", more=True)  # type: ignore[union-attr]


@pytest.mark.parametrize("text, line, message", [
    ("0 socket(..., SOCK_STREAM) 3", 1, "expected '=' and the expected result"),
    ("0 socket()\n= 3\n+0 < S 0:0 win 1", 3, "expected '(' (start:end(length))"),
    ("0 < S 0:0(0) <bogus 3>", 1, "unknown TCP option 'bogus'"),
    ("0 < Q 0:0(0)", 1, "expected TCP flags, found 'Q'"),
    ("0 read(3, \"abc, 3) = 3", 1, "never closed"),
    ("+0 < S 0:0(0)\n/* open", 2, "never ends"),
    ("hello", 1, "expected a time"),
    ("0 $", 1, "unexpected character '$'"),
    ("+0 < . 1:1(0) ack", 1, "expected the ack number"),
    ("0...1 `ls`", 1, "only a system call may block"),
])
def test_errors_say_where_and_what(text: str, line: int, message: str) -> None:
    with pytest.raises(PacketdrillSyntaxError) as caught:
        parse(text)
    assert caught.value.line == line
    assert message in str(caught.value)


PIECES = [*"0123456789.+*~<>()[]{}:,=|-\"`% \n", "S", "ack", "win", "<mss 1>", "read",
          "...", "%{", "}%", "/*", "//", "x"]


@given(st.lists(st.sampled_from(PIECES), max_size=60).map("".join))
def test_no_text_raises_anything_but_a_syntax_error(text: str) -> None:
    with contextlib.suppress(PacketdrillSyntaxError):
        parse(text)

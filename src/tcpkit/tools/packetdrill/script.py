"""A packetdrill script, parsed: options, events (a time and an action: a packet in or
out, a system call, a shell command or a ``%{ }%`` block) and the commands run before
and after. The grammar is packetdrill's parser.y (shared/packetdrill/syntax.md); this
module reads the text into the dataclasses below and nothing more: what a script means
is the interpreter's business."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import EllipsisType

from tcpkit.tools.packetdrill.lexer import (
    CODE,
    ELLIPSIS,
    END,
    FLOAT,
    HEX,
    INT,
    IPV4,
    OPTION,
    SHELL,
    STRING,
    WORD,
    PacketdrillSyntaxError,
    Token,
    tokenize,
)

# -- what a script holds -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Time:
    """When an event happens: ``start`` seconds after the previous event if
    ``relative``, else after the script began; ``end`` for a range (``a~b``); ``any``
    for ``*`` (whenever it happens)."""

    start: float = 0.0
    relative: bool = False
    end: float | None = None
    any: bool = False


@dataclass(frozen=True, slots=True)
class TcpOption:
    """One option in a packet's ``<...>`` list: ``mss 1460`` is ("mss", (1460,)),
    ``sack 1:2 3:4`` is ("sack", (1, 2, 3, 4)), ``TS val 1 ecr 0`` is ("TS", (1, 0))."""

    name: str
    values: tuple[int, ...] = ()
    blob: str = ""  # md5 and fast open cookies, as written


@dataclass(frozen=True, slots=True)
class Packet:
    """``<`` (injected) or ``>`` (expected) packet. ``options`` is None when the line
    gives none, and ``(...)`` (the Ellipsis alone) for ``<...>``: any options."""

    inbound: bool
    protocol: str = "tcp"  # tcp, udp or icmp
    flags: str = ""  # as written: "S.", "P.", ".", "-"...
    start: int = 0  # relative sequence numbers
    end: int = 0
    length: int = 0
    ack: int | None = None
    window: int | None = None
    urgent: int | None = None
    options: tuple[TcpOption, ...] | EllipsisType | None = None
    ip_info: tuple[str, ...] = ()  # [ect0], (tos 0x1), ...
    icmp: tuple[str, ...] = ()  # ICMP type and code words
    mtu: int | None = None
    quoted: Packet | None = None  # the packet an ICMP error quotes


@dataclass(frozen=True, slots=True)
class Call:
    """A function-like expression: ``htons(8080)``, ``inet_addr("1.2.3.4")``."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Assign:
    """``name=value`` inside braces (``sa_family=AF_INET``, ``msg_iov(1)=[...]``)."""

    target: Expr
    value: Expr


@dataclass(frozen=True, slots=True)
class Or:
    """``A|B``: flags or'ed together."""

    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Struct:
    """``{...}``: a struct, its fields as written."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Array:
    """``[...]``: an array, or an option value passed by pointer (``[1]``)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name: ``SOCK_STREAM``, ``AF_INET``, ``MSG_DONTWAIT``."""

    name: str


@dataclass(frozen=True, slots=True)
class Text:
    """A string literal; ``more`` for ``"abc"...`` (a prefix)."""

    value: str
    more: bool = False


Expr = int | EllipsisType | Symbol | Text | Call | Assign | Or | Struct | Array


@dataclass(frozen=True, slots=True)
class Syscall:
    """``name(args) = result [ERRNO (note)]``; ``end`` is the time a blocking call
    returns (``+0...0.200 accept(...)``)."""

    name: str
    args: tuple[Expr, ...]
    result: Expr
    errno: str | None = None
    note: str = ""
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """A backquoted shell command."""

    text: str


@dataclass(frozen=True, slots=True)
class Code:
    """A ``%{ }%`` block: Python asserting on TCP_INFO fields."""

    text: str


Action = Packet | Syscall | Command | Code


@dataclass(frozen=True, slots=True)
class Event:
    line: int
    time: Time
    action: Action


@dataclass(slots=True)
class Script:
    options: dict[str, str | None] = field(default_factory=dict)
    init: Command | None = None
    events: list[Event] = field(default_factory=list)
    cleanup: Command | None = None


# -- the parser -------------------------------------------------------------------------


def parse(text: str) -> Script:
    """Parse a whole script; :class:`PacketdrillSyntaxError` says where it went wrong."""
    return _Parser(tokenize(text)).script()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    # -- tokens --

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        if token.kind != END:
            self.pos += 1
        return token

    def at(self, kind: str, text: str | None = None, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == kind and (text is None or token.text == text)

    def expect(self, kind: str, what: str | None = None) -> Token:
        token = self.take()
        if token.kind != kind:
            found = token.text or "the end of the script"
            raise PacketdrillSyntaxError(token.line, f"expected {what or kind}, found {found!r}")
        return token

    def integer(self, what: str = "a number") -> int:
        negative = self.at("-")
        if negative:
            self.take()
        token = self.take()
        if token.kind == INT:
            value = int(token.text)
        elif token.kind == HEX:
            value = int(token.text, 16)
        else:
            raise PacketdrillSyntaxError(token.line, f"expected {what}, found {token.text!r}")
        return -value if negative else value

    def keyword(self, word: str) -> bool:
        if self.at(WORD) and self.peek().text.lower() == word:
            self.take()
            return True
        return False

    # -- the script --

    def script(self) -> Script:
        result = Script()
        while self.at(OPTION):
            name, _, value = self.take().text[2:].partition("=")
            result.options[name] = value if "=" in self.tokens[self.pos - 1].text else None
        if self.at(SHELL):
            result.init = Command(self.take().text[1:-1])
        while not self.at(END):
            if self.at(SHELL) and self.at(END, offset=1):
                result.cleanup = Command(self.take().text[1:-1])
                break
            result.events.append(self.event())
        return result

    def event(self) -> Event:
        line = self.peek().line
        time = self.time()
        end: float | None = None
        if self.at(ELLIPSIS):
            self.take()
            end = self.number()
        token = self.peek()
        action: Action
        if token.kind in ("<", ">"):
            action = self.packet()
        elif token.kind == SHELL:
            action = Command(self.take().text[1:-1])
        elif token.kind == CODE:
            action = Code(self.take().text[2:-2])
        elif token.kind == WORD and self.at("(", offset=1):
            action = self.syscall(end)
        else:
            raise PacketdrillSyntaxError(token.line, f"expected a packet, a system call or a "
                                         f"command after the time, found {token.text!r}")
        if end is not None and not isinstance(action, Syscall):
            raise PacketdrillSyntaxError(line, "only a system call may block (time...end)")
        return Event(line, time, action)

    def number(self) -> float:
        token = self.take()
        if token.kind not in (INT, FLOAT):
            raise PacketdrillSyntaxError(token.line, f"expected a time, found {token.text!r}")
        return float(token.text)

    def time(self) -> Time:
        if self.at("*"):
            self.take()
            return Time(any=True)
        relative = self.at("+")
        if relative:
            self.take()
        start = self.number()
        if not self.at("~"):
            return Time(start, relative)
        self.take()
        if relative:
            self.expect("+", "'+' (a relative range is +a~+b)")
        return Time(start, relative, self.number())

    # -- packets --

    def packet(self) -> Packet:
        inbound = self.take().kind == "<"
        ip_info: tuple[str, ...] = ()
        if self.at("[") or (self.at("(") and not self.at(INT, offset=1)):
            ip_info = self.bracketed_words()
        if self.keyword("icmp"):
            return self.icmp(inbound, ip_info)
        if self.at(INT) and self.at(">", offset=1):
            self.take()
            self.take()
            self.integer("a port")
        flags = self.flags()
        start, end, length = self.sequence()
        ack = window = urgent = None
        options: tuple[TcpOption, ...] | EllipsisType | None = None
        while True:
            if self.keyword("ack"):
                ack = self.integer("the ack number")
            elif self.keyword("win"):
                window = self.integer("the window")
            elif self.keyword("urg"):
                urgent = self.integer("the urgent pointer")
            elif self.at("<"):
                options = self.tcp_options()
            else:
                break
        return Packet(inbound, "tcp", flags, start, end, length, ack, window, urgent,
                      options, ip_info)

    def bracketed_words(self) -> tuple[str, ...]:
        close = "]" if self.take().kind == "[" else ")"
        words: list[str] = []
        while not self.at(close):
            token = self.take()
            if token.kind == END:
                raise PacketdrillSyntaxError(token.line, f"expected {close!r}")
            words.append(token.text)
        self.take()
        return tuple(words)

    def flags(self) -> str:
        token = self.take()
        if token.kind in (".", "-"):
            return token.text
        if token.kind == WORD and all(c in "FSRPUEWAN" for c in token.text):
            if self.at("."):
                self.take()
                return token.text + "."
            return token.text
        raise PacketdrillSyntaxError(token.line, f"expected TCP flags, found {token.text!r}")

    def sequence(self) -> tuple[int, int, int]:
        start = self.integer("the starting sequence number")
        self.expect(":", "':' (start:end(length))")
        end = self.integer("the ending sequence number")
        self.expect("(", "'(' (start:end(length))")
        length = self.integer("the length")
        self.expect(")", "')'")
        return start, end, length

    def tcp_options(self) -> tuple[TcpOption, ...] | EllipsisType:
        self.expect("<")
        if self.at(ELLIPSIS):
            self.take()
            self.expect(">", "'>'")
            return Ellipsis
        options: list[TcpOption] = []
        while True:
            options.append(self.tcp_option())
            if self.at(","):
                self.take()
                continue
            self.expect(">", "',' or '>' in the option list")
            return tuple(options)

    def tcp_option(self) -> TcpOption:
        token = self.expect(WORD, "a TCP option")
        name = token.text
        lower = name.lower()
        if lower in ("nop", "eol", "sackok"):
            return TcpOption(lower if lower != "sackok" else "sackOK")
        if lower in ("mss", "wscale"):
            return TcpOption(lower, (self.integer(f"the {lower} value"),))
        if lower == "sack":
            blocks: list[int] = []
            while self.at(INT):
                blocks.append(self.integer())
                self.expect(":", "':' in a SACK block")
                blocks.append(self.integer())
            return TcpOption("sack", tuple(blocks))
        if name == "TS":
            if not self.keyword("val"):
                raise PacketdrillSyntaxError(token.line, "expected 'val' after TS")
            val = self.integer("the TS value")
            if not self.keyword("ecr"):
                raise PacketdrillSyntaxError(token.line, "expected 'ecr' after the TS value")
            return TcpOption("TS", (val, self.integer("the TS echo reply")))
        if lower in ("md5", "fo", "foexp"):
            # A hex blob lexes as digits and words ("1234abcd": 1234, abcd): join them.
            blob = ""
            while self.at(WORD) or self.at(INT) or self.at(HEX):
                blob += self.take().text
            return TcpOption(name, (), blob)
        raise PacketdrillSyntaxError(token.line, f"unknown TCP option {name!r}")

    def icmp(self, inbound: bool, ip_info: tuple[str, ...]) -> Packet:
        words: list[str] = []
        mtu = None
        quoted = None
        while self.at(WORD) and self.peek().text.lower() not in ("mtu", "id"):
            words.append(self.take().text)
        if self.keyword("mtu"):
            mtu = self.integer("the MTU")
        if self.keyword("id"):
            self.integer("the echo id")
        if self.at("["):
            self.take()
            if self.keyword("udp") or self.keyword("raw"):
                self.expect("(")
                length = self.integer("the length")
                self.expect(")")
                quoted = Packet(not inbound, "udp", length=length)
            else:
                start, end, length = self.sequence()
                quoted = Packet(not inbound, "tcp", "", start, end, length)
            self.expect("]", "']'")
        if not words:
            raise PacketdrillSyntaxError(self.peek().line, "expected the ICMP type")
        return Packet(inbound, "icmp", ip_info=ip_info, icmp=tuple(words), mtu=mtu,
                      quoted=quoted)

    # -- system calls --

    def syscall(self, end: float | None) -> Syscall:
        name = self.take().text
        self.expect("(")
        args = self.expression_list(")")
        self.expect("=", "'=' and the expected result")
        result = self.expression()
        errno = None
        note = ""
        if self.at(WORD):
            errno = self.take().text
        if self.at("("):
            note = self.note()
        return Syscall(name, args, result, errno, note, end)

    def note(self) -> str:
        line = self.take().line
        depth = 1
        words: list[str] = []
        while True:
            token = self.take()
            if token.kind == END:
                raise PacketdrillSyntaxError(line, "an errno note '(' that is never closed")
            depth += (token.kind == "(") - (token.kind == ")")
            if depth == 0:
                return " ".join(words)
            words.append(token.text)

    def expression_list(self, close: str) -> tuple[Expr, ...]:
        items: list[Expr] = []
        if self.at(close):
            self.take()
            return ()
        while True:
            items.append(self.expression(assign=True))
            if self.at(","):
                self.take()
                continue
            self.expect(close, f"',' or {close!r}")
            return tuple(items)

    def expression(self, assign: bool = False) -> Expr:
        expr = self.primary()
        while self.at("|"):
            self.take()
            expr = Or(expr, self.primary())
        if assign and self.at("="):
            self.take()
            return Assign(expr, self.expression(assign=True))
        return expr

    def primary(self) -> Expr:
        token = self.peek()
        kind = token.kind
        if kind == ELLIPSIS:
            self.take()
            return Ellipsis
        if kind in (INT, HEX, "-"):
            return self.integer()
        if kind == STRING:
            self.take()
            value = bytes(token.text[1:-1], "utf-8").decode("unicode_escape")
            more = self.at(ELLIPSIS)
            if more:
                self.take()
            return Text(value, more)
        if kind == IPV4:
            self.take()
            return Text(token.text)
        if kind == WORD:
            self.take()
            if self.at("("):
                self.take()
                return Call(token.text, self.expression_list(")"))
            return Symbol(token.text)
        if kind == "[":
            self.take()
            return Array(self.expression_list("]"))
        if kind == "{":
            self.take()
            return Struct(self.expression_list("}"))
        raise PacketdrillSyntaxError(token.line, f"expected an expression, found "
                                     f"{token.text or 'the end of the script'!r}")

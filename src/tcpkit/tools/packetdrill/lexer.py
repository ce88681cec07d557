"""Tokens of the packetdrill script language (the grammar of packetdrill's parser.y, as
shown in shared/packetdrill/syntax.md): numbers, words, strings, backquoted shell
commands, ``%{ }%`` code blocks, ``--option`` lines, IPv4 addresses and punctuation.
Comments (``//`` and ``/* */``) are dropped. A character the language does not have
is a :class:`PacketdrillSyntaxError` naming the line, never a crash."""

from __future__ import annotations

import re
from dataclasses import dataclass

INT = "INT"
HEX = "HEX"
FLOAT = "FLOAT"
IPV4 = "IPV4"
WORD = "WORD"
STRING = "STRING"
SHELL = "SHELL"  # `backquoted`
CODE = "CODE"  # %{ python }%
OPTION = "OPTION"  # --name[=value], the value kept in the token's text after '='
ELLIPSIS = "..."
END = "END"


class PacketdrillSyntaxError(ValueError):
    """A script that does not follow packetdrill's grammar, with where."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # one of the names above, or the punctuation character itself
    text: str
    line: int


_TOKEN = re.compile(r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<option>--[A-Za-z_][\w-]*(?:=[^\s]*)?)
  | (?P<shell>`[^`]*`)
  | (?P<code>%\{.*?\}%)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<ipv4>\d+\.\d+\.\d+\.\d+)
  | (?P<hex>0[xX][0-9a-fA-F]+)
  | (?P<float>\d*\.\d+)
  | (?P<int>\d+)
  | (?P<ellipsis>\.\.\.)
  | (?P<word>[A-Za-z_][\w]*)
  | (?P<punct>[()\[\]{}<>,=:.+*~|\-!;&@])
""", re.VERBOSE | re.DOTALL)

_KINDS = {"shell": SHELL, "code": CODE, "string": STRING, "ipv4": IPV4, "hex": HEX,
          "float": FLOAT, "int": INT, "ellipsis": ELLIPSIS, "word": WORD,
          "option": OPTION}


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an END token."""
    tokens: list[Token] = []
    line = 1
    pos = 0
    length = len(text)
    while pos < length:
        match = _TOKEN.match(text, pos)
        if match is None:
            if text.startswith("/*", pos):
                raise PacketdrillSyntaxError(line, "a /* comment that never ends")
            if text[pos] in "`\"" or text.startswith("%{", pos):
                raise PacketdrillSyntaxError(line, f"a {text[pos]!r} that is never closed")
            raise PacketdrillSyntaxError(line, f"unexpected character {text[pos]!r}")
        group = match.lastgroup
        value = match.group()
        if group == "punct":
            tokens.append(Token(value, value, line))
        elif group in _KINDS:
            tokens.append(Token(_KINDS[group], value, line))
        line += value.count("\n")
        pos = match.end()
    tokens.append(Token(END, "", line))
    return tokens

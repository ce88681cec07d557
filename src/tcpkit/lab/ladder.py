"""A run drawn as a ladder diagram (SVG): the client's lifeline on the left, the
server's on the right, one arrow per segment with its flags, sequence and acknowledgment
numbers (relative) and length, and each program's calls with their results written on
its own side, in the order they happened — the drawing of seed 004, from a real run.

Rows follow the order of events, not a time scale (a story may wait two hours between
two segments); the time of each row is written in the margin, and a long silence is
marked. ICMP errors come from the network, drawn as dashed arrows from the right edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from tcpkit.lab.calls import Call

if TYPE_CHECKING:
    from tcpkit.lab.run import Outcome

WIDTH = 1250
CLIENT_X, SERVER_X = 480, 800
CALL_CHARS = 58  # what fits beside a lifeline at 11 px
ROW = 24
TOP = 70
GAP = 1.0  # seconds of silence that earn a marked break
ERROR_NAMES = ("E", "timeout")  # results shown in red: errno names and timeouts

_STYLE = """
text { font-family: DejaVu Sans Mono, Menlo, Consolas, monospace; font-size: 11px; }
.title { font-size: 14px; font-weight: bold; }
.time { fill: #888; }
.call { fill: #222; }
.error { fill: #c00; font-weight: bold; }
.seg { fill: #124; }
.rst { fill: #c00; }
.gap { fill: #888; font-style: italic; }
line.life { stroke: #999; stroke-width: 2; }
line.seg { stroke: #246; stroke-width: 1.2; marker-end: url(#arrow); }
line.rst { stroke: #c00; stroke-width: 1.6; marker-end: url(#arrow-red); }
line.icmp { stroke: #a60; stroke-dasharray: 5 3; marker-end: url(#arrow); }
"""


def _arrow_marker(name: str, colour: str) -> str:
    return (f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>')


def _segment_label(line: str) -> tuple[str, bool]:
    """``"> P seq 1 ack 1 len 6"`` as ``"P. 1:7 ack 1"``, and whether it is a RST."""
    words = line.split()
    flags, seq, ack, length = words[1], int(words[3]), int(words[5]), int(words[7])
    rest = " ".join(words[8:])
    # tcpdump's spelling: "." is ACK, written after the other flags when it is set.
    shown = flags if flags == "." else flags + ("." if ack else "")
    span = f"{seq}:{seq + length}" if length else f"{seq}"
    label = f"{shown} {span}" + (f" ack {ack}" if ack else "") + (f" {rest}" if rest else "")
    return label, "R" in flags


def _event_rows(outcome: Outcome) -> list[tuple[float, str, object]]:
    """Calls and packets merged by time: (time, kind, item)."""
    from tcpkit.lab.run import packet_records  # noqa: PLC0415 (run imports this module)

    rows: list[tuple[float, int, str, object]] = []
    for order, call in enumerate(outcome.calls):
        rows.append((call.end, order, "call", call))
    for order, (when, line) in enumerate(packet_records(outcome.pcap)):
        rows.append((when, order, "packet", line))
    # At one instant the call comes first: what it sends is captured at that instant,
    # while a packet that ends a call was captured when sent, half a cable earlier.
    rows.sort(key=lambda r: (round(r[0], 6), r[2] == "packet", r[1]))
    return [(when, kind, item) for when, _, kind, item in rows]


def ladder_svg(outcome: Outcome) -> str:
    """The SVG document for ``outcome``."""
    rows = _event_rows(outcome)
    body: list[str] = []
    y = TOP
    previous: float | None = None
    for when, kind, item in rows:
        if previous is not None and when - previous >= GAP:
            body.append(f'<text class="gap" x="{(CLIENT_X + SERVER_X) // 2}" y="{y + 4}" '
                        f'text-anchor="middle">… {when - previous:.1f} s of silence …</text>')
            y += ROW
        previous = when
        body.append(f'<text class="time" x="10" y="{y + 4}">{when:11.4f}</text>')
        if kind == "call":
            body.append(_call_text(item, y))  # type: ignore[arg-type]
        else:
            body.extend(_packet_drawing(str(item), y))
        y += ROW
    height = y + 30
    scenario = outcome.scenario
    knobs = ", ".join(f"{k}={v}" for k, v in outcome.knobs.items())
    head = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">',
        f"<style>{_STYLE}</style>",
        "<defs>" + _arrow_marker("arrow", "#246") + _arrow_marker("arrow-red", "#c00")
        + "</defs>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text class="title" x="10" y="20">{escape(scenario.name)}: '
        f"{escape(scenario.title)}</text>",
        f'<text class="time" x="10" y="38">seed article {escape(scenario.seed)}'
        f"{'; ' + escape(knobs) if knobs else ''}; {outcome.world}; rows in order of "
        "events, times in seconds</text>",
        f'<text class="title" x="{CLIENT_X}" y="{TOP - 14}" text-anchor="middle">client</text>',
        f'<text class="title" x="{SERVER_X}" y="{TOP - 14}" text-anchor="middle">server</text>',
        f'<line class="life" x1="{CLIENT_X}" y1="{TOP - 8}" x2="{CLIENT_X}" y2="{y}"/>',
        f'<line class="life" x1="{SERVER_X}" y1="{TOP - 8}" x2="{SERVER_X}" y2="{y}"/>',
    ]
    return "\n".join([*head, *body, "</svg>"]) + "\n"


def _call_text(call: Call, y: int) -> str:
    is_error = call.result.startswith(ERROR_NAMES) and call.result != "ok"
    text = call.call if len(call.call) + len(call.result) + 4 <= CALL_CHARS else \
        call.call[:max(CALL_CHARS - len(call.result) - 5, 12)] + "…"
    words = escape(f"{text} -> ") + (
        f'<tspan class="error">{escape(call.result)}</tspan>' if is_error
        else escape(call.result))
    if call.actor == "network":
        return (f'<text class="gap" x="{(CLIENT_X + SERVER_X) // 2}" y="{y + 4}" '
                f'text-anchor="middle">✂ {escape(call.call)}</text>')
    if call.actor == "client":
        return f'<text class="call" x="{CLIENT_X - 8}" y="{y + 4}" text-anchor="end">{words}</text>'
    return f'<text class="call" x="{SERVER_X + 8}" y="{y + 4}">{words}</text>'


def _packet_drawing(line: str, y: int) -> list[str]:
    middle = (CLIENT_X + SERVER_X) // 2
    if line.startswith("!"):
        return [f'<line class="icmp" x1="{SERVER_X + 60}" y1="{y - 6}" x2="{CLIENT_X}" '
                f'y2="{y + 6}"/>',
                f'<text class="seg" x="{middle}" y="{y - 2}" text-anchor="middle">'
                f"{escape(line[2:])}</text>"]
    if line == "malformed":
        return [f'<text class="rst" x="{middle}" y="{y + 4}" text-anchor="middle">'
                "a malformed packet</text>"]
    label, reset = _segment_label(line)
    start, end = (CLIENT_X, SERVER_X) if line.startswith(">") else (SERVER_X, CLIENT_X)
    kind = "rst" if reset else "seg"
    return [f'<line class="{kind}" x1="{start}" y1="{y - 6}" x2="{end}" y2="{y + 6}"/>',
            f'<text class="{kind}" x="{middle}" y="{y - 4}" text-anchor="middle">'
            f"{escape(label)}</text>"]

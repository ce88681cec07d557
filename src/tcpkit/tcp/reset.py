"""The reset that answers a segment no connection wants (RFC 9293 §3.5.2, §3.10.7.1).

Used by the host for segments that match no TCB (reset generation case 1) and by the
engine where a state answers with a reset (case 2: LISTEN getting an ACK, SYN-SENT
getting an unacceptable ACK, SYN-RECEIVED getting a bad ACK). Linux builds the same
segment (``tcp_v4_send_reset``): no options, window 0.
"""

from __future__ import annotations

from tcpkit.wire.tcp import ACK, FIN, RST, SYN, TCPSegment


def reset_for(segment: TCPSegment) -> TCPSegment | None:
    """The RST answering ``segment``, or None for a segment that is itself a RST.

    RFC 9293 §3.10.7.1: "If the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>; if the ACK bit
    is off, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>", so that the sender accepts it.
    """
    flags = segment.flags
    if flags & RST:
        return None
    if flags & ACK:
        return TCPSegment(segment.dst_port, segment.src_port, seq=segment.ack, flags=RST)
    seg_len = len(segment.payload) + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
    return TCPSegment(
        segment.dst_port, segment.src_port, seq=0,
        ack=(segment.seq + seg_len) & 0xFFFFFFFF, flags=RST | ACK,
    )

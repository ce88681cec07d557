"""Send buffer, receive queue and out-of-order store against simple models."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tcpkit.tcp.buffers import OutOfOrderQueue, ReceiveQueue, SendBuffer

writes = st.lists(st.binary(min_size=1, max_size=40000), max_size=12)


@given(writes, st.data())
def test_send_buffer_matches_a_bytes_model(chunks: list[bytes], data: st.DataObject) -> None:
    base = 1000
    buf = SendBuffer(base)
    model = b""
    for chunk in chunks:
        buf.append(chunk)
        model += chunk
    assert len(buf) == len(model) and buf.end == base + len(model)
    released = 0
    for _ in range(6):
        if model:
            seq = data.draw(st.integers(base + released, base + len(model)))
            length = data.draw(st.integers(0, 5000))
            offset = seq - base
            assert buf.slice(seq, length) == model[offset : offset + length]
        cut = data.draw(st.integers(base + released, base + len(model)))
        buf.release(cut)
        released = max(released, cut - base)
        assert buf.start == base + released
    assert buf.slice(base + released - 1, 10) == b"" or released == 0


def test_send_buffer_many_small_writes_coalesce() -> None:
    buf = SendBuffer(0)
    for i in range(10000):
        buf.append(bytes([i % 256]))
    assert buf.slice(9990, 20) == bytes(i % 256 for i in range(9990, 10000))
    buf.release(9999)
    assert buf.slice(9999, 5) == bytes([9999 % 256])
    assert len(buf) == 1


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=20),
       st.lists(st.integers(1, 500), max_size=30))
def test_receive_queue_reads_in_order(chunks: list[bytes], reads: list[int]) -> None:
    queue = ReceiveQueue()
    model = b""
    for chunk in chunks:
        queue.append(chunk)
        model += chunk
    for size in reads:
        assert queue.read(size, peek=True) == model[:size]
        assert queue.read(size) == model[:size]
        model = model[size:]
        assert len(queue) == len(model)


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(1, 80)), max_size=25))
def test_out_of_order_store_matches_a_model(segments: list[tuple[int, int]]) -> None:
    stream = bytes(i % 251 for i in range(400))
    ofo = OutOfOrderQueue()
    held: set[int] = set()
    for start, length in segments:
        end = min(start + length, 400)
        duplicate = ofo.add(start, stream[start:end])
        overlap = held & set(range(start, end))
        if overlap:
            assert duplicate is not None
            assert duplicate[0] in overlap
        else:
            assert duplicate is None
        held |= set(range(start, end))
        ranges = ofo.ranges()
        assert set().union(*(range(a, b) for a, b in ranges)) == held if ranges else not held
        assert all(a < b for a, b in ranges) and all(
            ranges[i][1] < ranges[i + 1][0] for i in range(len(ranges) - 1))
        assert ofo.size == len(held)
    # Everything from 0 on comes back in order once RCV.NXT reaches it.
    if 0 in held:
        got = b"".join(d for _s, d in ofo.pop_ready(0))
        contiguous = 0
        while contiguous in held:
            contiguous += 1
        assert got == stream[:contiguous]
        assert all(a > contiguous for a, _b in ofo.ranges())


def test_send_buffer_keep_forgets_what_the_write_could_not_queue() -> None:
    buf = SendBuffer(100)
    buf.append(b"a" * 10)
    buf.append(b"b" * 20_000)  # a chunk of its own
    buf.append(b"c" * 5)
    buf.keep(100 + 10 + 7)
    assert buf.end == 117 and buf.slice(100, 100) == b"a" * 10 + b"b" * 7
    buf.append(b"d" * 3)
    assert buf.slice(110, 100) == b"b" * 7 + b"d" * 3
    buf.keep(500)  # past the end: nothing to forget
    assert buf.end == 120


@given(st.sampled_from(["bytearray", "view of bytearray", "view of array", "view of bytes"]),
       st.integers(16384, 70000), st.integers(0, 70000))
def test_send_buffer_owns_what_it_keeps_of_a_large_write(kind: str, size: int,
                                                          taken: int) -> None:
    """A large write is borrowed until keep(): what it kept must not change when the
    caller reuses its buffer afterwards, whatever kind of buffer it was."""
    import array
    original = bytes(i % 253 for i in range(size))
    source: bytearray | memoryview
    if kind == "bytearray":
        source = bytearray(original)
    elif kind == "view of bytearray":
        source = memoryview(bytearray(original))[:]
    elif kind == "view of array":
        source = memoryview(array.array("i", bytearray(original[: size - size % 4])))
        original = original[: size - size % 4]
    else:
        source = memoryview(original)
    buf = SendBuffer(0)
    buf.append(b"x")
    buf.append(source)
    early = buf.view(1, 4000)  # what a segment sent during the write carries
    buf.keep(1 + min(taken, len(original)))
    kept = original[: min(taken, len(original))]
    late = buf.view(1, 4000)  # and one sent after it
    if not isinstance(source, memoryview) or not source.readonly:
        writable = source if isinstance(source, bytearray) else source.cast("B")
        writable[:] = bytes(len(writable))  # the caller reuses its buffer
    assert buf.end == 1 + len(kept)
    assert buf.slice(0, size + 1) == b"x" + kept
    # A device may write a view after the call returned: never the caller's buffer.
    assert bytes(early) == original[:4000] and bytes(late) == kept[:4000]
    buf.append(b"y" * 20000)
    assert buf.slice(1 + len(kept), 20000) == b"y" * 20000


@given(st.lists(st.tuples(st.binary(min_size=1, max_size=300), st.booleans()), max_size=20),
       st.lists(st.tuples(st.integers(1, 500), st.booleans()), max_size=30))
def test_receive_queue_take_hands_out_the_queued_memory(
        chunks: list[tuple[bytes, bool]], takes: list[tuple[int, bool]]) -> None:
    """``take`` copies nothing: each piece is a queued chunk or a view of one, and the
    pieces hold exactly the bytes a read would have returned."""
    queue = ReceiveQueue()
    model = b""
    backing: set[int] = set()
    for data, as_view in chunks:
        packet = b"hdr" + data  # a device's packet; the payload is a view past its header
        queue.append(memoryview(packet)[3:] if as_view else data)
        backing.add(id(packet) if as_view else id(data))
        model += data
    for size, peek in takes:
        pieces = queue.take(size, peek=peek)
        assert b"".join(pieces) == model[:size]
        for piece in pieces:
            assert id(piece.obj if isinstance(piece, memoryview) else piece) in backing
        if not peek:
            model = model[size:]
        assert len(queue) == len(model)

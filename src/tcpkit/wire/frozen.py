"""Buffers that cannot change under their holder: what a parsed segment, a queue or the
send buffer may keep by reference instead of copying."""

from __future__ import annotations


class ReadOnce(bytearray):
    """A buffer that one read fills and that is then only read, through read-only views,
    until nothing refers to it any more; only then may its owner fill it again (a pool
    of device reads: :mod:`tcpkit.links.read_pool`). For its views it is as good as
    bytes, and the buffer, unlike a fresh bytes object per read, is not allocated again
    (64 KB reads would fault in fresh pages as the heap shrinks and grows)."""

    __slots__ = ()


_FROZEN_OWNERS = (bytes, ReadOnce)


def is_frozen_view(data: object) -> bool:
    """A flat read-only byte view of ``bytes`` (or of a :class:`ReadOnce`): nothing can
    write to the memory it shows (a view of a bytearray or of another program's buffer
    can change once a call returns)."""
    return (type(data) is memoryview and data.readonly and type(data.obj) in _FROZEN_OWNERS
            and data.format == "B" and data.ndim == 1 and data.c_contiguous)


def frozen(data: bytes | bytearray | memoryview) -> bytes | memoryview:
    """``data`` itself when it cannot change (bytes, or :func:`is_frozen_view`), else a
    copy as bytes. A 64 KB super-segment read from a device (immutable bytes) reaches the
    application copied once, by the read, not once more when it is parsed."""
    if isinstance(data, memoryview):
        return data if is_frozen_view(data) else bytes(data)
    return data if type(data) is bytes else bytes(data)

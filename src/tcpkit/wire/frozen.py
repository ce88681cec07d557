"""Buffers that cannot change under their holder: what a parsed segment, a queue or the
send buffer may keep by reference instead of copying."""

from __future__ import annotations


def is_frozen_view(data: object) -> bool:
    """A flat byte view of ``bytes``: nothing can write to the memory it shows (a view of
    a bytearray or of another program's buffer can change once a call returns)."""
    return (type(data) is memoryview and type(data.obj) is bytes and data.format == "B"
            and data.ndim == 1 and data.c_contiguous)


def frozen(data: bytes | bytearray | memoryview) -> bytes | memoryview:
    """``data`` itself when it cannot change (bytes, or :func:`is_frozen_view`), else a
    copy as bytes. A 64 KB super-segment read from a device (immutable bytes) reaches the
    application copied once, by the read, not once more when it is parsed."""
    if isinstance(data, memoryview):
        return data if is_frozen_view(data) else bytes(data)
    return data if type(data) is bytes else bytes(data)

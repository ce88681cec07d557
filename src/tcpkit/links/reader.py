"""The thread a real link reads with (:mod:`tcpkit.links.tun`, :mod:`tcpkit.links.udp`).

It waits on the link's file descriptor and on a pipe that :meth:`LinkReader.stop`
writes to, then reads what is queued without blocking, up to a batch, and delivers the
batch under the runtime's lock in one hold: a bulk transfer then pays for the lock, and
for waking the threads that wait on the runtime, once per batch rather than per packet.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from tcpkit.socket.runtime import RealTimeRuntime

BATCH = 64  # items delivered under one hold of the lock

_Item = TypeVar("_Item")
Wrap = Callable[[Callable[[], None]], Callable[[], None]]


class LinkReader(Generic[_Item]):
    """``read()`` returns the next item, None when this batch should end early, raises
    BlockingIOError when nothing is queued or EOFError when the descriptor is gone (the
    thread then ends quietly). ``deliver(batch)`` runs with the runtime's lock held.
    ``wrap`` wraps the thread's loop (``tcpkit bench tun --profile`` profiles it)."""

    def __init__(self, runtime: RealTimeRuntime, fd: int, read: Callable[[], _Item | None],
                 deliver: Callable[[list[_Item]], None], name: str,
                 wrap: Wrap | None = None) -> None:
        self.runtime = runtime
        self._fd = fd
        self._read = read
        self._deliver = deliver
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=wrap(self._run) if wrap else self._run,
                                        name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        read, deliver, runtime = self._read, self._deliver, self.runtime
        while not self._stop.is_set():
            poller.poll()
            batch: list[_Item] = []
            while len(batch) < BATCH:
                try:
                    item = read()
                except BlockingIOError:
                    break
                except EOFError:
                    return
                except OSError:
                    if self._stop.is_set():
                        return  # the descriptor was closed under us
                    raise
                if item is None:
                    break
                batch.append(item)
            if batch:
                with runtime.lock:
                    deliver(batch)
                    runtime.changed()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End the thread (at once if it waits; after its batch if it delivers)."""
        if self._stop.is_set():
            return
        self._stop.set()
        os.write(self._wake_w, b"x")
        if self._thread is not threading.current_thread():
            self._thread.join(5)
        os.close(self._wake_r)
        os.close(self._wake_w)

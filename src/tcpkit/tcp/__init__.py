"""The TCP engine: one :class:`~tcpkit.tcp.connection.Connection` per TCB, sans-IO.

Nothing here does I/O, reads a clock or starts a thread: the time is an argument
(``now``, seconds as a float), arriving segments come in through
:meth:`Connection.on_segment`, timers through :meth:`Connection.on_timer`, and what the
connection wants to send, and tells the layer above, is pulled with
:meth:`Connection.segments_to_send`, :meth:`Connection.next_event` and
:meth:`Connection.next_deadline`. Where RFC 9293 leaves a choice the engine does what
Linux does, and says so next to the code.
"""

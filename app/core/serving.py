"""How the API's HTTP connections send their answers: uvicorn's httptools protocol, each
answer's head and body sent together.

uvicorn writes an answer's status line and headers to the connection as soon as the app
sends ``http.response.start``, and its body as a second write when the app sends
``http.response.body``, in the same turn of the event loop. Each write is a ``send`` of its
own on the socket (the transport has nothing queued, so it sends at once), and each a TCP
segment of its own (the socket does not wait to fill one: ``TCP_NODELAY``), which the
client's kernel must take in and acknowledge as well. Here a connection's transport holds
a small write (:data:`HELD_UP_TO` bytes: an answer's head) until the next one (its body),
and sends the two as one; what is still held when the event loop's turn ends is sent then,
so nothing waits longer than that turn (a stream's head, say, whose first chunk comes
later). Writes keep their order; a write larger than that passes at once, after what is
held. Measured (``python -m bench.serving``, ``bench/RESULTS.md``, 2026-12-03): a small
answer costs the server about 4 µs (12%) less, and the same two cores serve 7-14% more of
them, the client and the kernel handling one segment an answer instead of two.

``fangfanpin serve`` and the benchmarks' servers use it (:data:`HTTP`, uvicorn's ``http``
setting)."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HTTP = "app.core.serving:HttpProtocol"
"""uvicorn's ``http`` setting (``--http``) for :class:`HttpProtocol`."""
HELD_UP_TO = 8192
"""The largest write held back for the next: an answer's status line and headers are a few
hundred bytes."""


class HeldWrites:
    """A connection's transport that holds a small write until the next write, or the end of
    the event loop's turn, and sends the two as one (see the module). Everything else is the
    transport's own."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(b"".join((held, data)))
        elif len(data) <= HELD_UP_TO:
            self._held = bytes(data)
            self._loop.call_soon(self.release)
        else:
            self._transport.write(data)

    def release(self) -> None:
        """Send what is held, if anything is and the connection is still open."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def writelines(self, chunks: Any) -> None:
        self.release()
        self._transport.writelines(chunks)

    def write_eof(self) -> None:
        self.release()
        self._transport.write_eof()

    def close(self) -> None:
        self.release()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a transport that sends an answer's head and body as
    one write (:class:`HeldWrites`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeldWrites(transport, self.loop))  # type: ignore[arg-type]

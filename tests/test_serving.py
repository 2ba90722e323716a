"""The API's HTTP connections send an answer's head and body as one write
(``app.core.serving``), in order, and hold nothing past the event loop's turn."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from app.core import serving
from app.core.serving import HeldWrites, HttpProtocol


class Transport(asyncio.Transport):
    """A connection's transport that keeps what is written to it, one entry a write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        assert not self.closed, "written after it closed"
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _turn() -> None:
    """Let the event loop finish its turn (callbacks scheduled now run)."""
    await asyncio.sleep(0)


async def test_a_head_and_its_body_written_in_one_turn_are_sent_as_one() -> None:
    transport = Transport()
    held = HeldWrites(transport, asyncio.get_running_loop())
    held.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.writes == []  # held for the body
    held.write(memoryview(b'{"a":1}'))
    assert transport.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a":1}']
    await _turn()
    assert transport.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"a":1}']  # nothing left behind


async def test_a_lone_write_is_sent_when_the_turn_ends_and_order_is_kept() -> None:
    transport = Transport()
    held = HeldWrites(transport, asyncio.get_running_loop())
    held.write(b"head")
    await _turn()
    assert transport.writes == [b"head"]  # a stream's head whose first chunk comes later
    big = b"x" * (serving.HELD_UP_TO + 1)
    held.write(big)  # larger than a head: at once
    assert transport.writes == [b"head", big]
    held.write(b"small")
    held.write(big)  # after what is held, in one write
    assert transport.writes == [b"head", big, b"small" + big]
    held.write(b"last")
    held.close()  # what is held goes out first
    assert transport.writes[-1] == b"last"
    assert transport.closed


async def test_nothing_held_is_written_to_a_connection_that_closed() -> None:
    transport = Transport()
    held = HeldWrites(transport, asyncio.get_running_loop())
    held.write(b"head")
    transport.closed = True  # the client went away
    await _turn()
    assert transport.writes == []
    assert held.get_extra_info("peername") == ("127.0.0.1", 40000)  # the rest is the transport's


async def test_uvicorns_protocol_sends_an_answer_in_one_write() -> None:
    """uvicorn's own protocol, fed a request: the answer's status line, headers and body
    leave in one write (two without :class:`HttpProtocol`)."""
    body = b'{"id":"c1","facts":{}}'

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(body)),
                    (b"etag", b'"7"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    writes = {}
    for name, protocol in (("served", HttpProtocol), ("uvicorn's", HttpProtocol.__mro__[1])):
        config = Config(app, lifespan="off", access_log=False, log_config=None)
        config.load()
        connection = protocol(config=config, server_state=ServerState(), app_state={})
        transport = Transport()
        connection.connection_made(transport)
        connection.data_received(b"GET /c1 HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in range(5):
            await _turn()
        writes[name] = transport.writes
    (answer,) = writes["served"]
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b'etag: "7"\r\n\r\n' + body)
    assert b"".join(writes["uvicorn's"]) == answer
    assert len(writes["uvicorn's"]) == 2


def test_the_server_and_the_benchmarks_serve_with_it(monkeypatch: Any) -> None:
    """``fangfanpin serve`` and every benchmark's server (``bench.transitions.start_server``)
    run uvicorn with :data:`serving.HTTP`, which names :class:`HttpProtocol`."""
    import os
    import subprocess

    import uvicorn
    from uvicorn.importer import import_from_string

    from app import cli
    from bench import transitions

    assert import_from_string(serving.HTTP) is HttpProtocol
    monkeypatch.setattr(os, "environ", {**os.environ})  # (serve sets a variable or two)
    ran: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: ran.update(options))
    monkeypatch.setattr(cli, "_refuse_unsafe", lambda: None)
    cli.serve(host="127.0.0.1", port=8000, workers=1, with_worker=False, demo_clock=False)
    assert ran["http"] == serving.HTTP
    started: list[list[str]] = []
    monkeypatch.setattr(subprocess, "Popen", lambda command, **_: started.append(command))
    transitions.start_server("sqlite+aiosqlite:///:memory:", 8123, 1)
    (command,) = started
    assert command[command.index("--http") + 1] == serving.HTTP

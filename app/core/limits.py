"""Request size limits and response headers, as ASGI middleware outside everything else.

A body larger than the limit is refused with 413 before the application reads it: by its
``Content-Length`` at once, or, sent in chunks, as soon as the bytes received pass the limit.
Uploads (department data) have their own, larger limit. Every response carries headers that
close common browser attacks; the API's responses are never cached and never framed.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import ProblemError, Unprocessable

PROBLEM_JSON = b"application/problem+json"
MAX_INT = 2**63 - 1
"""The largest integer a request may carry (PostgreSQL's bigint, SQLite's INTEGER)."""
UPLOAD_PATH = re.compile(r"^/api/v1/(department-data/[^/]+/snapshots|warning-batches)/?$")
"""The two doors that take files: everything else, a batch's dispositions included, is a
request of the ordinary limit."""


class PayloadTooLarge(ProblemError):
    status = 413


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.max_upload if UPLOAD_PATH.match(path) else self.max_body
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received, too_large, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # the application sees the client go away; the client gets the 413
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if not too_large:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, counted, watch)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    error = PayloadTooLarge(
        "payload_too_large", f"The request body exceeds {limit} bytes.", limit=limit
    )
    await _answer(send, error, close=True)


async def _answer(send: Send, error: ProblemError, *, close: bool = False) -> None:
    """A problem answered by a middleware, before the application has run."""
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", PROBLEM_JSON), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


API_HEADERS = (
    (b"cache-control", b"no-store"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    ),
)
"""On ``/api/`` only: the interactive docs load their own scripts and styles."""


def console_policy(connect: str = "", styles: tuple[str, ...] = ()) -> bytes:
    """The console's content security policy: its own origin only, the identity provider's
    token endpoint (``connect``, an origin) when one is configured, and the hashes of the
    inline style blocks it may show (``styles``: the printable pages')."""
    sources = f"'self' {connect}".strip()
    style = " ".join(("'self'", *styles))
    return (
        f"default-src 'self'; connect-src {sources}; img-src 'self' data:; style-src {style}; "
        "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ).encode()


ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        hsts_seconds: int = 0,
        console_connect: str = "",
        console_styles: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        policy = console_policy(console_connect, console_styles)
        extra: tuple[tuple[bytes, bytes], ...] = (
            ((b"strict-transport-security", f"max-age={hsts_seconds}".encode()),)
            if hsts_seconds
            else ()
        )
        # what each kind of path is given, worked out once: the API, the console, the rest
        self.api = (*ALWAYS, *extra, *API_HEADERS)
        self.console = (*ALWAYS, *extra, (b"content-security-policy", policy))
        self.other = (*ALWAYS, *extra)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        added = (
            self.api
            if path.startswith("/api/")
            else self.console
            if path.startswith("/console")
            else self.other
        )

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in added if header[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class TextSafetyMiddleware:
    """Text the database cannot store is refused at the door (422), never a 500 from deep
    inside: a NUL character or a lone UTF-16 surrogate in the path, the query or a JSON body.
    A JSON body is scanned only when it holds a ``\\u`` escape (raw NULs are not JSON)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = _unsafe_url(scope)
        if where:
            await _unprocessable(send, where)
            return
        headers = dict(scope["headers"])
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"\\u" in body and _unsafe_json(body):
            await _unprocessable(send, "body")
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The messages read already, then the client's own: a response that listens for the
    client leaving (a file streamed) must not hear a disconnect that never happened."""

    async def replayed() -> Message:
        return messages.pop(0) if messages else await receive()

    return replayed


def _unsafe_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return True
    return False


def _unsafe_url(scope: Scope) -> str | None:
    path: str = scope["path"]
    if ("\x00" in path or not path.isascii()) and _unsafe_text(path):  # ASCII: no surrogate
        return "path"
    raw: bytes = scope.get("query_string", b"")
    if not raw:
        return None
    query = unquote_to_bytes(raw.replace(b"+", b" "))
    try:
        decoded = query.decode("utf-8")
    except UnicodeDecodeError:
        return "query"
    return "query" if _unsafe_text(decoded) else None


def _unsafe_json(body: bytes) -> bool:
    try:
        document = json.loads(body)
    except ValueError:
        return False  # the application answers malformed JSON itself

    def walk(value: object) -> bool:
        if isinstance(value, str):
            return _unsafe_text(value)
        if isinstance(value, dict):
            return any(walk(k) or walk(v) for k, v in value.items())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return walk(document)


async def _unprocessable(send: Send, where: str) -> None:
    message = f"The request's {where} holds a NUL character or a lone surrogate: no text may."
    await _answer(send, Unprocessable("text_not_storable", message, field=where))

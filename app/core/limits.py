"""Request size limits and response headers, as ASGI middleware outside everything else.

A body larger than the limit is refused with 413 before the application reads it: by its
``Content-Length`` at once, or, sent in chunks, as soon as the bytes received pass the limit.
Uploads (department data) have their own, larger limit. Every response carries headers that
close common browser attacks; the API's responses are never cached and never framed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import ProblemError

PROBLEM_JSON = b"application/problem+json"
UPLOAD_PATHS = ("/api/v1/department-data/", "/api/v1/warning-batches")


class PayloadTooLarge(ProblemError):
    status, title = 413, "Content too large"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.max_upload if path.startswith(UPLOAD_PATHS) else self.max_body
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
    error = PayloadTooLarge("payload_too_large", f"The request body exceeds {limit} bytes.",
                            limit=limit)  # fmt: skip
    body = json.dumps(error.body()).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", PROBLEM_JSON), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


API_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; "
     b"frame-ancestors 'none'"),
)  # fmt: skip
"""On ``/api/`` only: the interactive docs load their own scripts and styles."""
ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0) -> None:
        self.app = app
        self.extra: tuple[tuple[bytes, bytes], ...] = (
            ((b"strict-transport-security", f"max-age={hsts_seconds}".encode()),)
            if hsts_seconds
            else ()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added: Iterable[tuple[bytes, bytes]] = (*ALWAYS, *self.extra,
                                                        *(API_HEADERS if api else ()))  # fmt: skip
                message["headers"] = [*message.get("headers", []),
                                      *((n, v) for n, v in added if n not in present)]  # fmt: skip
            await send(message)

        await self.app(scope, receive, with_headers)

"""The language of a request's problem titles and rule messages: Chinese unless the client
prefers English (``Accept-Language: en``), read once per request into a context variable."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

LANGUAGE: ContextVar[str] = ContextVar("language", default="zh")


def preferred(header: str | None) -> str:
    """``en`` when the client ranks an English tag above every Chinese one, else ``zh``."""
    best, best_q = "zh", 0.0
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = tag.split("-")[0]
        if primary in ("en", "zh") and q > best_q:
            best, best_q = primary, q
    return best


class LanguageMiddleware:
    """Sets :data:`LANGUAGE` from the request's ``Accept-Language`` (ASGI, so the context
    reaches the handler and every middleware inside this one)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"accept-language"), None
        )
        token = LANGUAGE.set(preferred(header))
        try:
            await self.app(scope, receive, send)
        finally:
            LANGUAGE.reset(token)

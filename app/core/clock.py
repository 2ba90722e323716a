"""The injected clock: no rule reads the wall clock; tests move a :class:`FrozenClock`."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """The wall clock moved forward by an offset: for demonstrations and training only, where
    a notice period must pass in minutes (setting ``DEMO_CLOCK``)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


class FrozenClock:
    """A clock that stands still until moved."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)


CURRENT: ContextVar[Clock | None] = ContextVar("clock", default=None)
"""The serving app's clock, set for each request (so that validators read the same time)."""


def today() -> date:
    """The service's present day in Asia/Shanghai: the request's clock, else the wall clock."""
    clock = CURRENT.get() or SystemClock()
    return clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()


class ClockMiddleware:
    """Makes the app's clock the request's clock (ASGI, so the context reaches the handler)."""

    def __init__(self, app: Any, clock: Clock) -> None:
        self.app, self.clock = app, clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        token = CURRENT.set(self.clock)
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENT.reset(token)

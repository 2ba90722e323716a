"""Rate limits, per process (several processes each count their own: the limits are per
process, documented as such). 429 with ``Retry-After`` past a limit:

* the 12317 intake, per client address;
* failed authentication (401), per client address: a caller who keeps failing is slowed;
* writes (POST, PATCH) per user, once the token is verified.

``RATE_LIMITS=false`` turns them off (the test suite does; the benchmarks keep them on, with
limits they never reach, so that their cost is counted: ``bench.transitions.UNREACHED``).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from typing import Any

from app.core.errors import ProblemError

WINDOW = 60.0


class TooManyRequests(ProblemError):
    status = 429


class Window:
    """At most ``limit`` events per minute for each key (a sliding window of timestamps)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self.seen.setdefault(key, deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        if not times:
            self.seen.pop(key, None)
            times = self.seen.setdefault(key, deque())
        return times

    def retry_after(self, key: str, now: float) -> int | None:
        """Seconds to wait when the key is at its limit, else None."""
        times = self._recent(key, now)
        if len(times) < self.limit:
            return None
        return max(1, math.ceil(times[0] + WINDOW - now))

    def add(self, key: str, now: float) -> None:
        self._recent(key, now).append(now)


class RateLimitMiddleware:
    """The intake and failed authentications, per client address (outside everything)."""

    def __init__(self, app: Any, *, intake: int, auth_failures: int) -> None:
        self.app = app
        self.intake, self.failures = Window(intake), Window(auth_failures)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith("/api/"):
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        address = (scope.get("client") or ("?", 0))[0]
        path, method = scope["path"], scope.get("method", "GET")
        checks = [(self.failures, f"auth:{address}", "failed authentications")]
        if path.startswith("/api/v1/intake/") and method == "POST":
            checks.append((self.intake, f"intake:{address}", "self-declarations"))
        for window, key, what in checks:
            wait = window.retry_after(key, now)
            if wait is not None:
                await _refuse(
                    send, wait, f"Too many {what} from this address; try again in {wait} s."
                )
                return
        if path.startswith("/api/v1/intake/") and method == "POST":
            self.intake.add(f"intake:{address}", now)

        async def watch(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self.failures.add(f"auth:{address}", now)
            await send(message)

        await self.app(scope, receive, watch)


async def _refuse(send: Any, wait: int, detail: str) -> None:
    error = TooManyRequests("rate_limited", detail, retry_after=wait)
    body = json.dumps(error.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"retry-after", str(wait).encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class WriteLimitMiddleware:
    """Writes per user, inside the authentication (the principal is known by then)."""

    def __init__(self, app: Any, *, writes: int) -> None:
        self.app, self.window = app, Window(writes)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] == "http" else None
        if principal is not None and scope.get("method") in ("POST", "PATCH", "PUT", "DELETE"):
            now, key = time.monotonic(), f"write:{principal.sub}"
            wait = self.window.retry_after(key, now)
            if wait is not None:
                await _refuse(
                    send, wait, f"Too many writes by {principal.sub}; try again in {wait} s."
                )
                return
            self.window.add(key, now)
        await self.app(scope, receive, send)

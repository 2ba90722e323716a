"""Metrics in the Prometheus format and one structured log line per request.

Logs are JSON: time, level, message, request id, method, route template, status, duration,
actor (``sub`` and role) and case id when the route names one. Never a body, a query string
or a header value other than the request id: nothing personal reaches a log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)
TRANSITIONS = Counter(
    "fangfanpin_transitions",
    "Transitions asked for, by action and outcome (fired, or the refusal's code).",
    ["action", "outcome"],
    registry=REGISTRY,
)
REFUSALS = Counter(
    "fangfanpin_refusals",
    "Refusals answered, by problem code and by each unmet rule code of a guard.",
    ["code"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "fangfanpin_request_duration_seconds",
    "Request latency by route.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TIMER_LAG = Gauge(
    "fangfanpin_timer_lag_seconds",
    "How long the oldest due, unfired timer has been waiting.",
    registry=REGISTRY,
)
OVERDUE = Gauge(
    "fangfanpin_overdue_cases", "Cases past a time limit, by limit.", ["limit"], registry=REGISTRY
)
EXPORT_LAG = Gauge(
    "fangfanpin_export_lag_entries",
    "Log entries not yet covered by a completed national export.",
    registry=REGISTRY,
)
LOG_LAG = Gauge(
    "fangfanpin_audit_unsequenced_events",
    "Events not yet given their place in the audit log.",
    registry=REGISTRY,
)
CASE_WRITES = Gauge(
    "fangfanpin_case_writes",
    "Case writes of this process in progress and waiting their turn (app.core.turns).",
    ["state"],
    registry=REGISTRY,
)
POOL = Gauge(
    "fangfanpin_db_pool_connections",
    "Database connections of this process, by state.",
    ["state"],
    registry=REGISTRY,
)

access_log = logging.getLogger("fangfanpin.request")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def count_refusal(code: str, body: dict[str, Any]) -> None:
    REFUSALS.labels(code).inc()
    for unmet in body.get("unmet") or []:
        if isinstance(unmet, dict) and unmet.get("code"):
            REFUSALS.labels(str(unmet["code"])).inc()


def exposition() -> bytes:
    return generate_latest(REGISTRY)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the extra fields a record carries are kept.

    Made, it stops the logging module from gathering for every record what no line of it
    ever shows: the caller's file and line (a walk up the stack), the thread's and the
    process's names (the logging HOWTO's "Optimization"). With them and the standard
    library's encoder the request's line cost 18.5 µs of CPU, 8.6 µs without and with
    orjson (a loop of 20,000 to a file)."""

    FIELDS = (
        "request_id",
        "method",
        "route",
        "status",
        "duration_ms",
        "actor",
        "role",
        "case_id",
        "outcome",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        logging._srcfile = None  # (the HOWTO's own switch for it)
        logging.logThreads = False
        logging.logProcesses = False
        logging.logMultiprocessing = False

    def format(self, record: logging.LogRecord) -> str:
        error = None
        if record.exc_info:
            error = self.formatException(record.exc_info).splitlines()[-1]
        given = record.__dict__
        return self.line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            {k: given[k] for k in self.FIELDS if k in given},
            error,
        )

    @staticmethod
    def line(
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: dict[str, Any],
        error: str | None = None,
    ) -> str:
        """The line of a record made at ``created`` (seconds since the epoch), ``fields``
        written as given, in their order (a record's: those of :data:`FIELDS` it carries, in
        that order)."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(created, UTC),  # (orjson writes it as isoformat)
            "level": level,
            "logger": logger,
            "message": message,
            **fields,
        }
        if error is not None:
            line["error"] = error
        try:
            return orjson.dumps(line).decode()
        except TypeError:  # a value orjson does not take (an integer beyond 64 bits)
            line["time"] = line["time"].isoformat()
            return json.dumps(line, ensure_ascii=False, default=str)


class JsonLineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The service's log handler: a stream handler (standard error unless told otherwise)
    that also writes a request's line made already (:meth:`write_line`), without a record.

    Through the logging module a request's line cost a read of a case 77,000 instructions,
    7% of it: the record, its way through the loggers and the handler's lock, its JSON, and
    ``datetime.isoformat`` (11,000 alone; orjson writes the same text). Made straight from
    the request's fields (:func:`line_handler`, :meth:`JsonFormatter.line`) it costs about
    24,000 (``bench/instructions.py``, ``bench/RESULTS.md``, 2026-12-05)."""

    def write_line(self, line: str) -> None:
        """Write ``line`` as :meth:`emit` writes a record's."""
        try:
            with self.lock:  # type: ignore[union-attr]
                self.stream.write(line + self.terminator)
                self.flush()
        except RecursionError:  # (as the logging module's own handlers)
            raise
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": line}))


def line_handler(logger: logging.Logger) -> JsonLineHandler | None:
    """The handler to give a request's line to, made (:meth:`JsonLineHandler.write_line`), when
    the logging set-up is the service's own (``LOG_CONFIG``, :func:`configure_logging`):
    ``logger`` logs at ``INFO`` and filters nothing, and its lines reach one handler only, a
    :class:`JsonLineHandler` writing :class:`JsonFormatter`'s lines that filters nothing.
    Then the line it writes is the one the logging module would have written. Otherwise (a
    handler or a filter added, a test capturing the records) ``None``: the line goes through
    the logging module, a record as any other."""
    if logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    found: logging.Handler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if found is not None:
                return None
            found = handler
        current = current.parent if current.propagate else None
    if (
        type(found) is JsonLineHandler
        and type(found.formatter) is JsonFormatter
        and not found.filters
        and found.level <= logging.INFO
    ):
        return found
    return None


QUIET = ("alembic.runtime.plugins",)
"""Loggers that say nothing an operator needs below a warning: alembic's announces each of
its autogenerate plugins (seven lines) when its commands are first imported, as every process
of the service imports them (``app.health`` reads the revisions it is ready for)."""

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "app.core.observability.JsonFormatter"}},
    "handlers": {"out": {"class": "app.core.observability.JsonLineHandler", "formatter": "json"}},
    "root": {"handlers": ["out"], "level": "INFO"},
    # uvicorn's own access log would repeat each request's line without its id and actor
    "loggers": {name: {"level": "WARNING"} for name in ("uvicorn.access", *QUIET)},
}
"""How a served API logs (uvicorn's ``log_config``): JSON lines on standard error, one a
request (:class:`ObservabilityMiddleware`). ``fangfanpin serve`` and the benchmarks' servers
use it, so what is measured logs as what is deployed."""


def configure_logging(level: int = logging.INFO) -> None:
    handler = JsonLineHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


_LATENCIES: dict[tuple[str, str, int], Any] = {}


def _latency(method: str, route: str, status: int) -> Any:
    """The latency histogram's child for a method, route and status: found once, then kept
    (``labels`` checks and joins its labels under a lock on every call)."""
    key = (method, route, status)
    child = _LATENCIES.get(key)
    if child is None:
        child = _LATENCIES[key] = LATENCY.labels(method, route, str(status))
    return child


class RequestIds:
    """Request ids made here: 32 random hexadecimal digits each (128 bits from the operating
    system's source, :func:`os.urandom`), drawn :data:`AT_ONCE` ids' worth at a time.

    One ``urandom`` call a request was one ``getrandom`` system call a request (strace,
    ``bench/RESULTS.md``, 2026-12-05); now one in :data:`AT_ONCE`. Drawn in bulk, the ids are
    as random and as unlikely to repeat; a forked process draws its own
    (:meth:`forget`, run in the child at each fork), never its parent's unused ones."""

    AT_ONCE = 256

    __slots__ = ("_at", "_digits")

    def __init__(self) -> None:
        self._digits = ""
        self._at = 0

    def draw(self) -> str:
        at = self._at
        if at >= len(self._digits):
            self._digits, at = os.urandom(16 * self.AT_ONCE).hex(), 0
        self._at = at + 32
        return self._digits[at : at + 32]

    def forget(self) -> None:
        """Drop the ids drawn and not yet given: the next is drawn afresh."""
        self._digits, self._at = "", 0


request_ids = RequestIds()
os.register_at_fork(after_in_child=request_ids.forget)


class ObservabilityMiddleware:
    """Request id (kept from ``X-Request-ID`` when well-formed, else 32 random hexadecimal
    digits: :class:`RequestIds`), latency, one log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if given and REQUEST_ID.match(given) else request_ids.draw()
        scope.setdefault("state", {})["request_id"] = request_id
        status, started = 500, time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            _latency(scope["method"], route, status).observe(elapsed)
            principal = scope.get("state", {}).get("principal")
            extra = {  # (in JsonFormatter.FIELDS's order, as its lines write them)
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            }
            if principal is not None:
                extra["actor"], extra["role"] = principal.sub, str(principal.role)
            extra["case_id"] = scope.get("path_params", {}).get("case_id")
            handler = line_handler(access_log)
            if handler is None:
                access_log.info("request", extra=extra)
            else:  # (the line the logging module would write, without its record)
                handler.write_line(
                    JsonFormatter.line(time.time(), "info", access_log.name, "request", extra)
                )

"""Liveness and readiness."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.auth.errors import InvalidToken
from app.core.errors import NotFound, declares
from app.core.observability import (
    CASE_WRITES,
    EXPORT_LAG,
    LOG_LAG,
    OVERDUE,
    POOL,
    TIMER_LAG,
    exposition,
)
from app.core.release import RELEASE, runs_on
from app.core.routing import api_router
from app.migrations import head_revision, known_revisions
from workflows.case import IDENTIFICATION_STATES

router = api_router(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(request: Request) -> JSONResponse:
    """The database answers and its schema is one this release runs against: its own head, or
    a newer revision that declares this release (or an older one) compatible
    (:mod:`app.core.release`). A schema older than the code, or newer and not compatible,
    answers 503, so the pods that cannot serve it leave the service."""
    oldest: str | None = None
    try:
        async with request.app.state.engine.connect() as connection:
            current = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
            head = head_revision()
            if current != head and current not in known_revisions():
                oldest = (
                    await connection.execute(
                        text("SELECT oldest_release FROM schema_release WHERE revision = :r"),
                        {"r": current},
                    )
                ).scalar_one_or_none()
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    shown = {"database": "ok", "migration": current, "head": head, "release": RELEASE}
    if current == head:
        return JSONResponse({"status": "ready", **shown})
    if current in known_revisions():
        return JSONResponse(
            {"status": "unavailable", "reason": "migration_pending", **shown}, status_code=503
        )
    if oldest is not None and runs_on(oldest):
        return JSONResponse(
            {"status": "ready", "schema": "newer, compatible", "oldest_release": oldest, **shown}
        )
    return JSONResponse(
        {
            "status": "unavailable",
            "reason": "schema_newer_than_release",
            "oldest_release": oldest,
            **shown,
        },
        status_code=503,
    )


@router.get("/metrics", response_class=PlainTextResponse, responses=declares(401, 404))
async def metrics(request: Request) -> PlainTextResponse:
    """Prometheus exposition: transitions, refusals, latency, and — read from the database at
    each scrape — timer lag, overdue cases, export and audit-log lag, pool use. Only to the
    scraper holding ``METRICS_TOKEN`` (404 without one configured, outside a demonstration;
    401 with a wrong one). One process per pod, so a scrape counts the whole pod."""
    settings = request.app.state.settings
    expected = settings.metrics_token
    if expected is None and not settings.demo:
        raise NotFound("not_found", "Not Found")
    if expected is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise InvalidToken("Scraping needs the metrics token.")
    now = request.app.state.clock.now()
    engine = request.app.state.engine
    try:
        async with engine.connect() as connection:
            values = (await connection.execute(text(LAGS), {"now": now})).one()
    except SQLAlchemyError:
        values = None
    if values is not None:
        oldest, identification, measures, acceptance, size, exported, events = values
        if isinstance(oldest, str):  # SQLite hands back text
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        TIMER_LAG.set((now - oldest).total_seconds() if oldest else 0)
        OVERDUE.labels("identification").set(identification)
        OVERDUE.labels("measures").set(measures)
        OVERDUE.labels("acceptance").set(acceptance)
        EXPORT_LAG.set(size - exported)
        LOG_LAG.set(events - size)
    pool = engine.pool
    POOL.labels("checked_out").set(getattr(pool, "checkedout", lambda: 0)())
    POOL.labels("idle").set(getattr(pool, "checkedin", lambda: 0)())
    turns = request.app.state.case_writes
    if turns is not None:
        CASE_WRITES.labels("in_progress").set(turns.taken)
        CASE_WRITES.labels("waiting").set(len(turns.waiting))
    return PlainTextResponse(exposition(), media_type=CONTENT_TYPE_LATEST)


LAGS = f"""SELECT
    (SELECT min(due_at) FROM timer WHERE fired_at IS NULL AND due_at <= :now),
    (SELECT count(*) FROM monitoring_case WHERE identification_due_at <= :now
        AND state IN ({", ".join(f"'{s}'" for s in IDENTIFICATION_STATES)})),
    (SELECT count(*) FROM monitoring_case WHERE measures_due_at <= :now),
    (SELECT count(*) FROM monitoring_case WHERE acceptance_due_at <= :now),
    (SELECT coalesce(max(log_index) + 1, 0) FROM audit_log),
    (SELECT coalesce(max(to_index), 0) FROM national_export_batch),
    (SELECT count(*) FROM case_event)"""

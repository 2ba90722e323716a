"""Liveness and readiness."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.errors import NotFound, Unauthorized, declares
from app.core.observability import (
    EXPORT_LAG,
    LOG_LAG,
    OVERDUE,
    POOL,
    TIMER_LAG,
    exposition,
)
from app.migrations import head_revision
from workflows.case import IDENTIFICATION_STATES

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=None)
async def ready(request: Request) -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    try:
        async with request.app.state.engine.connect() as connection:
            current = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    head = head_revision()
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migration": current, "head": head},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "database": "ok", "migration": current})


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
            raise Unauthorized("invalid_token", "Scraping needs the metrics token.")
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

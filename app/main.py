"""The application factory."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig

from app import console, contract, docs, health, wiring
from app.access_log.router import router as access_log_router
from app.audit.router import router as audit_router
from app.auth.dependencies import AuthFirstMiddleware
from app.auth.jwks import JwksCache
from app.cases.router import dashboard_router, inbox_router
from app.cases.router import router as cases_router
from app.cases.service import fire_timer
from app.console_config import router as console_config_router
from app.core import errors
from app.core.clock import Clock, ClockMiddleware, OffsetClock, SystemClock
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.idempotency import IdempotencyMiddleware
from app.core.language import LanguageMiddleware
from app.core.limits import BodyLimitMiddleware, SecurityHeadersMiddleware, TextSafetyMiddleware
from app.core.observability import ObservabilityMiddleware
from app.core.ratelimit import RateLimitMiddleware, WriteLimitMiddleware
from app.core.routing import Dispatch, Route
from app.core.turns import CaseWriteGate, Turns
from app.demo.router import router as demo_router
from app.department_data.router import router as department_data_router
from app.department_warnings.router import router as department_warnings_router
from app.elimination_rounds.router import router as rounds_router
from app.exports.router import router as exports_router
from app.fund.router import ledger_router as fund_ledger_router
from app.fund.router import router as fund_router
from app.households.personal_data import router as personal_data_router
from app.indicators.router import router as indicators_router
from app.intake.router import router as intake_router
from app.notices.documents import PRINT_STYLE_SOURCE
from app.notices.router import router as notices_router
from app.obligations.router import router as obligations_router
from app.policies.router import router as policies_router
from app.register.router import router as households_router
from app.screening.router import router as screening_router
from app.warning_lists.router import router as warning_lists_router
from app.worker import run_worker
from app.workflow_api.router import router as workflow_router

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's OpenTelemetry, off (``Settings.opentelemetry``): FastAPI then never asks on a
request whether a provider is configured."""

DESCRIPTION = """\
防返贫 — the dynamic monitoring and assistance mechanism for rural households at risk of
(returning to) poverty, as a county-level city runs it. Every case moves only through its
workflow; every step and fact is an append-only, hash-chained event.

Errors are RFC 9457 problem+json with a stable `code`. Actions need `If-Match`; every POST
accepts `Idempotency-Key`.
"""


def operation_id(route: APIRoute) -> str:
    """Stable ids (``tag-name``) so generated clients keep their method names; a tag's spaces
    become underscores (an id is an identifier in every generator)."""
    return f"{str(route.tags[0]).replace(' ', '_')}-{route.name}" if route.tags else route.name


def _origin(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _contract(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        app.openapi_schema = contract.build(app)
    return app.openapi_schema


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    wiring.connect()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop, worker = asyncio.Event(), None
        if settings.embedded_worker:
            worker = asyncio.create_task(
                run_worker(
                    app.state.sessionmaker,
                    app.state.clock,
                    fire_timer,
                    interval=settings.worker_interval_seconds,
                    stop=stop,
                    settings=settings,
                )
            )
        if settings.gc_freeze:
            gc.collect()  # what startup left behind is freed, not kept for good
            gc.freeze()
        thresholds = gc.get_threshold()
        if settings.gc_young_threshold:
            gc.set_threshold(settings.gc_young_threshold, *thresholds[1:])
        yield
        gc.set_threshold(*thresholds)  # (an app served in a longer process: tests)
        if settings.gc_freeze:
            gc.unfreeze()  # an app served in a longer process (tests) can be collected
        stop.set()
        if worker is not None:
            await worker
        await app.state.engine.dispose()
        await app.state.read_engine.dispose()

    app = FastAPI(
        title="fangfanpin",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else NO_TELEMETRY,
        generate_unique_id_function=operation_id,
        docs_url=None,  # served by app.docs, with local assets
        redoc_url=None,
    )
    app.router.route_class = Route  # the app's own routes as the routers' (app.core.routing)
    docs.install(app)
    console.install(app)
    app.openapi = lambda: _contract(app)  # type: ignore[method-assign]
    engine = make_engine(
        settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
    )
    app.state.settings = settings
    app.state.jwks = (
        JwksCache(settings.jwt_jwks_url, timedelta(seconds=settings.jwt_jwks_cache_seconds))
        if settings.jwt_jwks_url
        else None
    )
    app.state.clock = clock or (OffsetClock() if settings.demo_clock else SystemClock())
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine, settings)
    app.state.read_engine = (
        make_engine(settings.read_database_url, pool_size=settings.database_pool_size)
        if settings.read_database_url
        else engine
    )
    app.state.read_sessionmaker = make_sessionmaker(app.state.read_engine, settings)
    errors.install(app)
    app.add_middleware(IdempotencyMiddleware)
    # case writes take turns, once through the door's checks (app.core.turns)
    app.state.case_writes = (
        Turns(settings.case_writes_at_once) if settings.case_writes_at_once else None
    )
    if app.state.case_writes is not None:
        app.add_middleware(CaseWriteGate, turns=app.state.case_writes)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "Accept-Language",
                "X-Request-Id",
            ],
            expose_headers=[
                "ETag",
                "Location",
                "Idempotent-Replayed",
                "X-Export-Batch",
                "X-Export-After",
                "X-Export-To",
                "X-Request-Id",
                "Content-Disposition",
                "Retry-After",
            ],
            max_age=600,
        )
    # a body too large is refused before anything reads it; every answer is measured and logged
    if settings.rate_limits:
        app.add_middleware(WriteLimitMiddleware, writes=settings.rate_writes_per_minute)
    app.add_middleware(TextSafetyMiddleware)
    app.add_middleware(AuthFirstMiddleware)
    if settings.rate_limits:
        app.add_middleware(
            RateLimitMiddleware,
            intake=settings.rate_intake_per_minute,
            auth_failures=settings.rate_auth_failures_per_minute,
        )
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts_seconds=settings.hsts_seconds,
        console_connect=_origin(settings.oidc_token_endpoint),
        console_styles=(PRINT_STYLE_SOURCE,),
    )
    app.add_middleware(
        BodyLimitMiddleware, max_body=settings.max_body_bytes, max_upload=settings.max_upload_bytes
    )
    app.add_middleware(ObservabilityMiddleware)
    app.add_middleware(ClockMiddleware, clock=app.state.clock)
    app.add_middleware(LanguageMiddleware)
    app.include_router(health.router)
    app.include_router(cases_router)
    app.include_router(inbox_router)
    app.include_router(dashboard_router)
    app.include_router(console_config_router)
    app.include_router(notices_router)
    app.include_router(department_data_router)
    app.include_router(policies_router)
    app.include_router(households_router)
    app.include_router(fund_router)
    app.include_router(fund_ledger_router)
    app.include_router(indicators_router)
    app.include_router(rounds_router)
    app.include_router(intake_router)
    app.include_router(personal_data_router)
    app.include_router(access_log_router)
    app.include_router(audit_router)
    app.include_router(exports_router)
    app.include_router(warning_lists_router)
    app.include_router(obligations_router)
    app.include_router(screening_router)
    app.include_router(department_warnings_router)
    app.include_router(demo_router)  # 404 unless this is a demonstration
    app.include_router(workflow_router)
    # a request reaches its route in one pass: the same route, the same scope (app.core.routing)
    app.router.middleware_stack = Dispatch(app.router)
    return app


app = create_app()

"""Fixtures: each API test runs on SQLite and on PostgreSQL, schemas made by Alembic.

PostgreSQL is used when ``TEST_POSTGRES_URL`` (default: the local server) answers. With
``REQUIRE_POSTGRES=1`` (as CI sets it) an unreachable PostgreSQL fails the run instead of
being skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.dependencies import models as fastapi_dependencies
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from app import migrations
from app.areas.demo import load as load_demo_areas
from app.core.clock import FrozenClock
from app.core.config import Settings
from app.core.db import make_engine, make_sessionmaker
from app.models import Base
from app.national_sheet import corrections
from app.policies.models import PolicyVersion
from bench.transitions import wait_ready
from tests.helpers import Api
from workflows.policy import POLICIES

REPOSITORY = Path(__file__).resolve().parent.parent

# A served app freezes its heap once started (Settings.gc_freeze), after a full collection:
# in this process, whose heap is the whole suite's, and where schemathesis starts the app's
# lifespan for every call it makes, that collection would cost more than the test.
# tests/test_startup.py turns it on where it is the subject.
os.environ.setdefault("GC_FREEZE", "false")

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/fangfanpin_test"
)
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
APP_ROLE = os.environ.get("TEST_POSTGRES_APP_ROLE", "fangfanpin_app")
"""The service connects as this role, which owns nothing; the URL above migrates (the owner)."""
OWNERS: dict[str, str] = {}
START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Asia/Shanghai, a Monday
SEEDED_BY_MIGRATIONS = {"policy_version", "schema_release"}
TABLES = tuple(sorted(set(Base.metadata.tables) - SEEDED_BY_MIGRATIONS))
"""Emptied between tests on PostgreSQL: every table of the models, so a new one cannot keep
rows from one test into the next (policy versions are put back as the migrations left them)."""


async def _reachable(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


def _backends() -> list[str]:
    return ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Each backend's URL, migrated to head once per session (None: not available)."""
    sqlite_path: Path = tmp_path_factory.mktemp("db") / "test.sqlite3"
    urls: dict[str, str | None] = {"sqlite": f"sqlite+aiosqlite:///{sqlite_path}"}
    problem = asyncio.run(_reachable(POSTGRES_URL))
    if problem and REQUIRE_POSTGRES:
        pytest.exit(f"PostgreSQL is required but unreachable at {POSTGRES_URL}: {problem}", 2)
    urls["postgresql"] = None
    if not problem:
        asyncio.run(_drop_all(POSTGRES_URL))
        asyncio.run(_ensure_role(POSTGRES_URL, APP_ROLE))
        migrations.upgrade(POSTGRES_URL, app_role=APP_ROLE)
        app_url = make_url(POSTGRES_URL).set(username=APP_ROLE).render_as_string(False)
        OWNERS[app_url] = POSTGRES_URL
        urls["postgresql"] = app_url
    migrations.upgrade(f"sqlite+aiosqlite:///{sqlite_path}")
    asyncio.run(_make_template(sqlite_path))
    return urls


def _template_of(database: Path) -> Path:
    return database.with_name("template.sqlite3")


async def _make_template(database: Path) -> None:
    """A migrated SQLite file with the demo areas, copied for each test (the trail's tables
    refuse DELETE, so tests start from a fresh copy instead of emptying them)."""
    engine = make_engine(f"sqlite+aiosqlite:///{database}")
    async with make_sessionmaker(engine)() as session, session.begin():
        await load_demo_areas(session)
    await engine.dispose()
    with closing(sqlite3.connect(database)) as connection:  # fold the WAL into the file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(database, _template_of(database))


async def _ensure_role(url: str, role: str) -> None:
    """The application's login role (CI creates it beforehand; a superuser may create it)."""
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        found = await connection.scalar(
            text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
        )
        if not found:
            await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
    await engine.dispose()


async def _drop_all(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


SEEDED: dict[str, list[dict[str, Any]]] = {}
"""Per PostgreSQL URL, the policy versions its migrations wrote (revision 0004's literal), read
back before the first reset truncates them: the seed the tests restore is the migration's."""


async def reset(url: str) -> None:
    """Every table as the migrations and the demo data leave them."""
    POLICIES.clear()
    corrections.forget()
    if url.startswith("sqlite"):
        database = Path(url.split("///", 1)[1])
        for leftover in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(_template_of(database), database)
        return
    engine = make_engine(OWNERS.get(url, url))
    if url not in SEEDED:
        async with make_sessionmaker(engine)() as session:
            rows = (await session.execute(select(PolicyVersion))).scalars().all()
            SEEDED[url] = [
                {c.name: getattr(r, c.name) for c in PolicyVersion.__table__.columns}
                for r in rows
                if r.created_by == "migration"
            ]
        assert SEEDED[url], "the migrations seeded no policy version"
    async with engine.begin() as connection:
        # TRUNCATE is not a row UPDATE or DELETE: the append-only triggers let it through
        await connection.execute(text(f"TRUNCATE {', '.join(TABLES)}, policy_version CASCADE"))
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add_all(PolicyVersion(**row) for row in SEEDED[url])
        await load_demo_areas(session)
    await engine.dispose()


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest, database_urls: dict[str, str | None]) -> str:
    url = database_urls[request.param]
    if url is None:
        pytest.skip("PostgreSQL is not reachable (CI sets REQUIRE_POSTGRES=1 and never skips)")
    return url


FASTAPI_CALLABLE_CACHES = tuple(
    getattr(fastapi_dependencies, name)
    for name in (
        "_is_gen_callable_cached",
        "_is_async_gen_callable_cached",
        "_is_coroutine_callable_cached",
    )
    if hasattr(fastapi_dependencies, name)
)


def forget_apps() -> None:
    """Let the apps the test made go. FastAPI classifies each endpoint and dependency it
    meets in module-level caches (``lru_cache``, 4,096 callables each), and the callables of
    an app (its own OpenAPI route, the docs' routes) close over it: every app a test made
    stayed alive there with its routes, some 10,000 objects each, millions over the suite,
    which every full collection walked (a minute for the last one alone). A service process
    makes one app; only a test process makes hundreds."""
    for cache in FASTAPI_CALLABLE_CACHES:
        cache.cache_clear()


@pytest.fixture(autouse=True)
def released_apps() -> Iterator[None]:
    yield
    forget_apps()


@pytest.fixture(autouse=True)
def released_code_lists() -> Iterator[None]:
    """Each test ends with the release's code lists, as a new process starts: a test that
    corrected them leaves nothing for the next (app.national_sheet.corrections)."""
    yield
    corrections.forget()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=url,
        database_migration_url=OWNERS.get(url),
        jwt_secret="test-secret-" + "x" * 32,
        rate_limits=False,
        metrics_token="test-metrics-token",
    )


@pytest.fixture
def settings(backend: str) -> Settings:
    return settings_for(backend)


@pytest.fixture
async def api(settings: Settings, clock: FrozenClock) -> AsyncIterator[Api]:
    await reset(settings.database_url)
    async with Api.start(settings, clock) as client:
        yield client


@pytest.fixture
async def postgres_api(
    database_urls: dict[str, str | None], clock: FrozenClock
) -> AsyncIterator[Api]:
    """For what only PostgreSQL has (roles, concurrent writers): runs once, on PostgreSQL."""
    url = database_urls["postgresql"]
    if url is None:
        pytest.skip("PostgreSQL is not reachable (CI sets REQUIRE_POSTGRES=1 and never skips)")
    await reset(url)
    async with Api.start(settings_for(url), clock) as client:
        yield client


def run_cli(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A fresh embedded database with the demo data, served with the demo clock and worker."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}",
        "FANGFANPIN_DEMO": "1",
    }  # as make run serves it
    env.pop("DATABASE_MIGRATION_URL", None)
    run_cli("migrate", env=env)
    assert "illustrative income lines" in run_cli("demo", env=env)
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--with-worker"],
        env=env,
        cwd=REPOSITORY,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(port)
        ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
        assert ready.status_code == 200, "the demo server did not come up"
        yield {"port": port, "env": env}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", REPOSITORY / "test-artifacts"))
"""Screenshots of the browser tests (CI keeps them)."""


def browser_or_skip() -> None:
    """Browser tests need Debian's chromium and ``npm ci`` (playwright-core): without them
    they skip loudly here, and fail where REQUIRE_BROWSER=1 (CI)."""
    missing = [
        what
        for what, there in (
            (CHROMIUM, Path(CHROMIUM).exists()),
            ("node", shutil.which("node") is not None),
            (
                "node_modules/playwright-core (npm ci)",
                (REPOSITORY / "node_modules" / "playwright-core").is_dir(),
            ),
        )
        if not there
    ]
    if not missing:
        return
    message = "browser tests need " + ", ".join(missing)
    if REQUIRE_BROWSER:
        pytest.fail(message + " (REQUIRE_BROWSER=1)")
    pytest.skip(message + " (CI sets REQUIRE_BROWSER=1 and never skips)")

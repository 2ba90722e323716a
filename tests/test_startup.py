"""A server or worker refuses, one line a reason, to start on development or placeholder
secrets unless FANGFANPIN_DEMO=1 says it is a demonstration; bad arguments are one line."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Settings
from app.core.db import make_engine
from app.startup import unsafe_settings

ROOT = Path(__file__).resolve().parent.parent
REAL = {
    "JWT_SECRET": "s" * 48,
    "FIELD_KEYS": "k1:" + base64.b64encode(b"f" * 32).decode(),
    "BLIND_INDEX_KEY": "b" * 32,
    "AUDIT_SIGNING_KEY": base64.b64encode(b"a" * 32).decode(),
}


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in (*REAL, "FANGFANPIN_DEMO", "DEMO_CLOCK")
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=60,
        env={**clean, **env},
    )


def settings(**values: Any) -> Settings:
    """Settings from these values alone (no .env file)."""
    return Settings(_env_file=None, **values)


def test_development_and_placeholder_secrets_are_named_one_line_each() -> None:
    problems = unsafe_settings(settings())
    assert [p.split(" ")[0] for p in problems] == [
        "JWT_SECRET",
        "FIELD_KEYS",
        "BLIND_INDEX_KEY",
        "AUDIT_SIGNING_KEY",
    ]
    placeholders = settings(
        jwt_secret="CHANGE-ME-to-a-long-random-value",
        **{k.lower(): v for k, v in REAL.items() if k != "JWT_SECRET"},
    )
    assert unsafe_settings(placeholders) == [
        "JWT_SECRET is still the placeholder from deploy/: set the real value"
    ]
    malformed = settings(
        **{**{k.lower(): v for k, v in REAL.items()}, "field_keys": "k1:not-base64!"}
    )
    (problem,) = unsafe_settings(malformed)
    assert problem.startswith("FIELD_KEYS is malformed")
    assert "\n" not in problem
    real = settings(**{k.lower(): v for k, v in REAL.items()})
    assert unsafe_settings(real) == []
    assert unsafe_settings(real.model_copy(update={"demo_clock": True})) == [
        "DEMO_CLOCK is for demonstrations only: set FANGFANPIN_DEMO=1 for one"
    ]
    assert unsafe_settings(settings(demo=True)) == []


def test_the_worker_refuses_to_start_on_development_secrets() -> None:
    refused = cli("worker", "--once")
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert lines
    assert all(line.startswith("fangfanpin: refusing to start: ") for line in lines)
    assert "Traceback" not in refused.stderr
    bad_keys = cli("worker", "--once", **{**REAL, "FIELD_KEYS": "garbage"})
    assert bad_keys.returncode == 2
    assert len(bad_keys.stderr.strip().splitlines()) == 1
    assert "FIELD_KEYS" in bad_keys.stderr


def test_serve_refuses_a_port_that_cannot_be() -> None:
    refused = cli("serve", "--port", "99999", FANGFANPIN_DEMO="1")
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    assert "65535" in refused.stderr


def test_command_line_errors_are_one_line(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"
    unknown = cli("migrate", "--revision", "nope", DATABASE_URL=database)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == [
        "fangfanpin: CommandError: Can't locate revision identified by 'nope'"
    ]
    unmigrated = cli("audit", "bundle", str(tmp_path / "new"), DATABASE_URL=database)
    assert unmigrated.returncode == 1
    assert len(unmigrated.stderr.strip().splitlines()) == 1
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "file").write_text("x")
    refused = cli("audit", "bundle", str(taken), DATABASE_URL=database)
    assert refused.returncode == 2
    assert "name a new directory" in refused.stderr
    assert "Traceback" not in unknown.stderr + unmigrated.stderr + refused.stderr


async def test_a_started_app_keeps_its_heap_out_of_full_collections(tmp_path: Path) -> None:
    """Once started, what the app built is frozen (``gc.freeze``): the collector's passes
    track only what came after. Stopped, the heap is the collector's again; off, nothing is
    frozen."""
    import gc

    from app.main import create_app

    url = f"sqlite+aiosqlite:///{tmp_path / 'heap.sqlite3'}"
    for freeze in (True, False):
        app = create_app(settings(database_url=url, jwt_secret="s" * 48, gc_freeze=freeze))
        assert gc.get_freeze_count() == 0
        async with app.router.lifespan_context(app):
            frozen, tracked = gc.get_freeze_count(), len(gc.get_objects())
            if freeze:
                assert frozen > 50_000  # the routes, machines, statements: the bulk of it
                assert tracked < frozen
            else:
                assert frozen == 0
        assert gc.get_freeze_count() == 0


async def test_a_started_app_collects_its_young_objects_less_often(tmp_path: Path) -> None:
    """Once started, the collector's young generation waits for ``gc_young_threshold`` new
    objects (0: Python's own); stopped, the process's thresholds are as they were."""
    import gc

    from app.main import create_app

    url = f"sqlite+aiosqlite:///{tmp_path / 'young.sqlite3'}"
    before = gc.get_threshold()
    for young, expected in ((20_000, 20_000), (5_000, 5_000), (0, before[0])):
        app = create_app(settings(database_url=url, jwt_secret="s" * 48, gc_young_threshold=young))
        async with app.router.lifespan_context(app):
            assert gc.get_threshold() == (expected, *before[1:])
        assert gc.get_threshold() == before


async def test_an_app_a_test_made_is_freed_after_it(tmp_path: Path) -> None:
    """Nothing keeps an app once it stopped and its test forgot it (``forget_apps``, after
    every test): hundreds are made in one test process, each some 10,000 objects, and the
    collector walked every one kept. A cache that begins to hold apps fails this test."""
    import gc
    import weakref

    import httpx

    from app.main import create_app
    from tests.conftest import forget_apps

    url = f"sqlite+aiosqlite:///{tmp_path / 'freed.sqlite3'}"
    app = create_app(settings(database_url=url, jwt_secret="s" * 48))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/health")).status_code == 200
    made = weakref.ref(app)
    del app, transport, client
    forget_apps()
    gc.collect()
    assert made() is None, [type(r).__qualname__ for r in gc.get_referrers(made())]


@pytest.mark.parametrize(
    "url", ["postgresql://u@h/db", "postgresql+psycopg://u@h/db", "sqlite:///x.sqlite3"]
)
def test_a_database_url_with_another_driver_is_refused(url: str) -> None:
    """The direct statements and the idempotency key's claim are written for asyncpg and
    aiosqlite: any other driver is refused when the engine is made, not at a request."""
    with pytest.raises(ValueError, match="postgresql\\+asyncpg or sqlite\\+aiosqlite"):
        make_engine(url)


def test_the_two_drivers_are_accepted(tmp_path: Path) -> None:
    make_engine(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3")
    make_engine("postgresql+asyncpg://u@h/db")  # (no connection is made yet)

"""/ready during a rolling update: a release serves its own head and newer schemas that declare
it compatible, and leaves the service for an older schema or an incompatible newer one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from app import migrations
from app.core.db import make_engine
from app.core.release import RELEASE, release_key, runs_on
from tests.helpers import Api, owner_url

NEWER = "9999_from_a_later_release"


@asynccontextmanager
async def schema_at(api: Api, revision: str, oldest: str | None = None) -> AsyncIterator[None]:
    """The database stamped at ``revision`` (declaring ``oldest`` compatible, if given), as a
    migration of another release would leave it; put back afterwards."""
    head = migrations.head_revision()
    engine = make_engine(owner_url(api.settings))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
            )
            if oldest is not None:
                await connection.execute(
                    text("INSERT INTO schema_release VALUES (:r, :o)"), {"r": revision, "o": oldest}
                )
        yield
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :r"), {"r": head}
            )
            await connection.execute(
                text("DELETE FROM schema_release WHERE revision = :r"), {"r": revision}
            )
        await engine.dispose()


async def test_ready_on_its_own_head(api: Api) -> None:
    answer = await api.client.get("/ready")
    assert answer.status_code == 200
    assert answer.json()["release"] == RELEASE
    assert answer.json()["migration"] == migrations.head_revision()


async def test_a_newer_schema_that_declares_this_release_compatible_is_served(api: Api) -> None:
    async with schema_at(api, NEWER, oldest=RELEASE):
        answer = await api.client.get("/ready")
    assert answer.status_code == 200, answer.text
    assert answer.json()["schema"] == "newer, compatible"


async def test_a_newer_schema_for_later_releases_only_takes_the_pod_out(api: Api) -> None:
    async with schema_at(api, NEWER, oldest="99.0.0"):
        refused = await api.client.get("/ready")
    assert refused.status_code == 503
    assert refused.json()["reason"] == "schema_newer_than_release"
    async with schema_at(api, NEWER):  # a newer revision that declares nothing
        assert (await api.client.get("/ready")).status_code == 503
    assert (await api.client.get("/ready")).status_code == 200  # put back


async def test_an_older_schema_waits_for_the_migration(api: Api) -> None:
    async with schema_at(api, "0031"):
        pending = await api.client.get("/ready")
    assert pending.status_code == 503
    assert pending.json()["reason"] == "migration_pending"


async def test_every_revision_from_0032_declares_its_oldest_release(api: Api) -> None:
    """The head names the release it runs with: a new revision that forgets its row fails."""
    engine = make_engine(owner_url(api.settings))
    async with engine.connect() as connection:
        rows: dict[str, str] = dict(
            (await connection.execute(text("SELECT * FROM schema_release"))).all()
        )
    await engine.dispose()
    assert migrations.head_revision() in rows
    assert all(runs_on(oldest) for oldest in rows.values())  # none excludes this release


def test_releases_compare_number_by_number() -> None:
    assert release_key("0.10.0") > release_key("0.9.3")
    assert runs_on("0.1.0", "0.2.0")
    assert not runs_on("0.3.0", "0.2.0")

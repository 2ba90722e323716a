"""Alembic, the only way a schema is made: used by the CLI, readiness and the tests."""

from __future__ import annotations

import asyncio
import os
import re
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.db import append_only_tables, is_sqlite


def _root() -> Path:
    """Where ``alembic.ini`` and ``alembic/`` are: beside the source tree, or (installed as a
    package, as in the container image) the working directory or ``FANGFANPIN_HOME``."""
    for candidate in (
        os.environ.get("FANGFANPIN_HOME"),
        Path(__file__).resolve().parent.parent,
        Path.cwd(),
    ):
        if candidate and (Path(candidate) / "alembic.ini").exists():
            return Path(candidate)
    return Path(__file__).resolve().parent.parent


ROOT = _root()


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def append_only() -> tuple[str, ...]:
    """Tables whose rows are written once (marked on their models): the application role may
    only read and insert them."""
    import app.models  # noqa: F401 (every model registered on the metadata)

    return append_only_tables()


ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def upgrade(database_url: str, revision: str = "head", *, app_role: str | None = None) -> None:
    """Migrate as the schema owner; on PostgreSQL, then grant ``app_role`` what the service
    needs and no more (see :func:`grant_statements`)."""
    command.upgrade(alembic_config(database_url), revision)
    if app_role and not is_sqlite(database_url):
        asyncio.run(_grant(database_url, app_role))


def grant_statements(role: str) -> list[str]:
    """The application connects as ``role``, not as the owner of the schema: it cannot alter
    or drop tables, disable the append-only triggers, truncate, or change a written row of
    the trail; it reads and inserts there, and reads and writes the working tables."""
    if not ROLE_NAME.match(role):
        raise ValueError(f"not a plain role name: {role!r}")
    once = ", ".join((*append_only(), "alembic_version"))
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE ON {once} FROM {role}",
        f"REVOKE INSERT ON alembic_version FROM {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]


async def _grant(database_url: str, role: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            for statement in grant_statements(role):
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raises when the models and the migrations disagree."""
    command.check(alembic_config(database_url))


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision this code carries (a database at another one is newer than it)."""
    return frozenset(
        r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )

"""The trail, its global log and checkpoints, the fund's ledger, policy versions and the access
log refuse UPDATE and DELETE at the database."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import migrations
from app.core.db import make_engine
from tests.conftest import APP_ROLE
from tests.helpers import Api, owner_url

STATEMENTS = [
    "UPDATE case_event SET actor_sub = 'x'",
    "DELETE FROM case_event",
    "UPDATE policy_version SET reason = 'x'",
    "DELETE FROM policy_version",
    "UPDATE fund_ledger_entry SET amount_fen = 0",
    "DELETE FROM fund_ledger_entry",
    "UPDATE access_log SET purpose = 'x'",
    "DELETE FROM access_log",
    "UPDATE audit_log SET log_index = log_index + 100",
    "DELETE FROM audit_log",
    "UPDATE audit_node SET hash = 'x'",
    "DELETE FROM audit_node",
    "UPDATE audit_checkpoint SET root_hash = 'x'",
    "DELETE FROM audit_checkpoint",
]


@pytest.mark.parametrize("statement", STATEMENTS)
async def test_the_database_refuses_changes_to_written_rows(api: Api, statement: str) -> None:
    await api.open_case()
    signed = await api.post("bureau.jiaohe", "/api/v1/audit/checkpoints")
    assert signed.status_code == 201, signed.text
    engine = make_engine(api.settings.database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO fund_disbursement (id, case_id, area_code, amount_fen, purpose,"
                " status, requested_by, requested_at)"
                " SELECT 'd1', id, area_code, 100, 'x', 'approved',"
                " 'x', opened_at FROM monitoring_case"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO fund_ledger_entry (year, disbursement_id, area_code, amount_fen, kind,"
                " created_by, created_at, note) SELECT 2026, 'd1', area_code, 100, 'disbursement',"
                " 'x', opened_at, 'x' FROM monitoring_case"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO access_log (at, actor_sub, actor_role, actor_area, record_type,"
                " record_id, fields, purpose) SELECT opened_at, 'x', 'village_cadre', '', "
                " 'household', household_id, '[\"id_number\"]', 'x' FROM monitoring_case"
            )
        )
    owner = make_engine(owner_url(api.settings))
    try:
        # the schema's owner (or a superuser who re-enables them) meets the triggers
        with pytest.raises(DBAPIError, match="append-only"):
            async with owner.begin() as connection:
                await connection.execute(text(statement))
        # the service's own role is refused before any trigger: it holds no such privilege
        postgres = api.settings.database_url.startswith("postgresql")
        with pytest.raises(DBAPIError, match="permission denied" if postgres else "append-only"):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()
        await owner.dispose()


async def test_the_service_role_owns_nothing_and_cannot_lift_the_triggers(
    postgres_api: Api,
) -> None:
    api = postgres_api
    engine = make_engine(api.settings.database_url)
    try:
        async with engine.connect() as connection:
            user = await connection.scalar(text("SELECT current_user"))
            owned = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                    " AND tableowner = current_user"
                )
            )
            assert user != "postgres"
            assert owned == 0
        for statement in (
            "ALTER TABLE case_event DISABLE TRIGGER USER",
            "TRUNCATE case_event CASCADE",
            "DROP TABLE audit_checkpoint",
            "UPDATE alembic_version SET version_num = 'x'",
        ):
            with pytest.raises(DBAPIError, match=r"must be owner|permission denied"):
                async with engine.begin() as connection:
                    await connection.execute(text(statement))
        async with engine.begin() as connection:  # …and does its work
            await connection.execute(text("UPDATE monitoring_case SET updated_at = updated_at"))
    finally:
        await engine.dispose()


SQLITE_TRIGGERS = "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger'"
PG_TRIGGERS = (
    "SELECT c.relname, t.tgtype FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    " WHERE NOT t.tgisinternal AND t.tgfoid = 'refuse_change'::regproc"
)
PRIVILEGES = (
    "SELECT has_table_privilege(:r, :t, 'INSERT'), has_table_privilege(:r, :t, 'UPDATE'),"
    " has_table_privilege(:r, :t, 'DELETE')"
)


async def test_every_table_marked_append_only_refuses_changes_at_the_database(api: Api) -> None:
    """Derived from the one mark on the models: each such table has its migration's triggers
    refusing UPDATE and DELETE, and (PostgreSQL) the service's role holds neither privilege
    there, while it holds all three on a working table."""
    marked = migrations.append_only()
    assert {"case_event", "audit_checkpoint", "policy_version"} <= set(marked)
    engine = make_engine(owner_url(api.settings))
    try:
        async with engine.connect() as connection:
            if api.settings.database_url.startswith("sqlite"):
                rows = await connection.execute(text(SQLITE_TRIGGERS))
                refusing = {
                    (table, name.rsplit("_", 1)[-1])
                    for table, name, sql in rows
                    if "RAISE(ABORT" in sql
                }
                assert {(t, op) for t in marked for op in ("update", "delete")} <= refusing
                return
            # tgtype bits: 16 UPDATE, 8 DELETE
            rows = await connection.execute(text(PG_TRIGGERS))
            assert set(marked) <= {table for table, kind in rows if kind & 16 and kind & 8}
            role = APP_ROLE
            for table in marked:
                held = await connection.execute(text(PRIVILEGES), {"r": role, "t": table})
                assert tuple(held.one()) == (True, False, False), table
            working = await connection.execute(
                text(PRIVILEGES), {"r": role, "t": "monitoring_case"}
            )
            assert tuple(working.one()) == (True, True, True)
    finally:
        await engine.dispose()

"""Append-only tables: the database itself refuses UPDATE and DELETE on the trail

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 14:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows that are written once: the case trail, the fund's ledger, policy versions.
TABLES = ('case_event', 'fund_ledger_entry', 'policy_version')


def upgrade() -> None:
    if op.get_context().dialect.name == 'postgresql':
        op.execute("""
            CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'append-only: % on % is refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END $$
        """)
        for table in TABLES:
            op.execute(f"""
                CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION refuse_change()
            """)
    else:
        for table in TABLES:
            for operation in ('UPDATE', 'DELETE'):
                op.execute(f"""
                    CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table}
                    BEGIN SELECT RAISE(ABORT, 'append-only: {operation} on {table} is refused');
                    END
                """)


def downgrade() -> None:
    if op.get_context().dialect.name == 'postgresql':
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION refuse_change()")
    else:
        for table in TABLES:
            for operation in ('update', 'delete'):
                op.execute(f"DROP TRIGGER {table}_no_{operation}")

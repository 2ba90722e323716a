"""The city's corrections of the national code lists

The national code lists shipped with the release only; an item the release could not confirm
needed a release to correct. The city bureau now writes corrections (append-only, each with
the lists whole as they stand after it and a reason); the newest on the release's lists
applies, and documents written with other lists are rewritten before they are read.

Release 0.3.0 runs against it: it never reads the table.

Revision ID: 0036
Revises: 0035
Create Date: 2026-11-30 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JsonDocument, UTCDateTime

revision: str = '0036'
down_revision: str | Sequence[str] | None = '0035'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def refuse_changes(table: str) -> None:
    """Triggers that refuse UPDATE and DELETE on ``table`` (append-only), as this revision
    makes them: ``refuse_change()`` on PostgreSQL, RAISE on SQLite."""
    if op.get_context().dialect.name == 'postgresql':
        op.execute(f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} '
                   'FOR EACH ROW EXECUTE FUNCTION refuse_change()')
        return
    for operation in ('UPDATE', 'DELETE'):
        op.execute(f'CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON '
                   f"{table} BEGIN SELECT RAISE(ABORT, 'append-only: {operation} on {table} "
                   "is refused'); END")


def upgrade() -> None:
    op.create_table(
        'code_list_correction',
        sa.Column('number', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('base_version', sa.String(length=16), nullable=False),
        sa.Column('lists', JsonDocument, nullable=False),
        sa.Column('changed', JsonDocument, nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.Column('reason', sa.String(length=2000), nullable=False),
        sa.PrimaryKeyConstraint('number', name=op.f('pk_code_list_correction')),
    )
    refuse_changes('code_list_correction')
    release = sa.table('schema_release', sa.column('revision', sa.String),
                       sa.column('oldest_release', sa.String))
    op.bulk_insert(release, [{'revision': '0036', 'oldest_release': '0.3.0'}])


def downgrade() -> None:
    op.execute("DELETE FROM schema_release WHERE revision = '0036'")
    op.drop_table('code_list_correction')

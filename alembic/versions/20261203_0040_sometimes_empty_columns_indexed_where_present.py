"""A case's sometimes-empty columns indexed only where present

A step that moves a case writes its row anew, and with it an entry in every one of the
case's indexes (a move changes the state, so PostgreSQL's update is never HOT): seventeen of
them, 10% of PostgreSQL's CPU for a write (``perf`` during ``bench.transitions``,
2026-12-03). Five index columns that most cases leave empty at any moment: the monitoring
type (until the confirmation), the measures', acceptance's and elimination's deadlines and
the end of a public notice. Their indexes now hold only the cases that have a value, which
every query on them names (``<= :now``, ``= :type``, ``IS NOT NULL``), so each query can still
read them, on PostgreSQL as on SQLite; a step on a case without them writes five entries
fewer.

Release 0.3.0 runs against it: an index changes nothing it reads or writes.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-03 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0040'
down_revision: str | Sequence[str] | None = '0039'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SOMETIMES = ('monitoring_type', 'measures_due_at', 'acceptance_due_at', 'notice_ends_at',
             'elimination_due_at')


def upgrade() -> None:
    for column in SOMETIMES:
        name = f'ix_monitoring_case_{column}'
        op.drop_index(name, table_name='monitoring_case')
        present = sa.text(f'{column} IS NOT NULL')
        op.create_index(name, 'monitoring_case', [column], unique=False,
                        postgresql_where=present, sqlite_where=present)
    release = sa.table('schema_release', sa.column('revision', sa.String),
                       sa.column('oldest_release', sa.String))
    op.bulk_insert(release, [{'revision': '0040', 'oldest_release': '0.3.0'}])


def downgrade() -> None:
    op.execute("DELETE FROM schema_release WHERE revision = '0040'")
    for column in SOMETIMES:
        name = f'ix_monitoring_case_{column}'
        op.drop_index(name, table_name='monitoring_case')
        op.create_index(name, 'monitoring_case', [column], unique=False)

"""The inbox reads its order from an index

The township's inbox sorted every open case of its area by a deadline computed in the query
(a full scan and a sort: 266 ms among 100,000 open cases). Each case now keeps its next
deadline and its kind (``due_at``, ``due_kind``), written with every event, so the inbox
walks the partial index ``ix_case_inbox_order`` and stops at its page; its count reads the
partial index ``ix_case_open_area_state``. The existing cases are filled in here with the
expression the inbox used until now, frozen as SQL.

The new columns are kept by this release's write path only: an older release writing a case
would leave its deadline stale, so this revision names release 0.3.0 as the oldest that runs
against it (``schema_release``).

Revision ID: 0033
Revises: 0032
Create Date: 2026-11-30 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision: str = '0033'
down_revision: str | Sequence[str] | None = '0032'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IDENTIFYING = ("'self_declared', 'cadre_found', 'department_flagged', 'village_nomination', "
               "'public_notice', 'township_verification', 'city_confirmation'")
NOTICE_FIRST = (f"notice_ends_at IS NOT NULL AND (state NOT IN ({IDENTIFYING}) "
                "OR notice_ends_at < coalesce(acceptance_due_at, identification_due_at))")
DUE_AT = (f"CASE WHEN {NOTICE_FIRST} THEN notice_ends_at "
          f"WHEN state IN ({IDENTIFYING}) THEN coalesce(acceptance_due_at, identification_due_at) "
          "WHEN measures_due_at IS NOT NULL THEN measures_due_at ELSE elimination_due_at END")
DUE_KIND = (f"CASE WHEN {NOTICE_FIRST} THEN 'notice_end' "
            f"WHEN state IN ({IDENTIFYING}) AND acceptance_due_at IS NOT NULL THEN 'acceptance' "
            f"WHEN state IN ({IDENTIFYING}) THEN 'identification' "
            "WHEN measures_due_at IS NOT NULL THEN 'measures' "
            "WHEN elimination_due_at IS NOT NULL THEN 'elimination' ELSE NULL END")


def upgrade() -> None:
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('due_kind', sa.String(length=16), nullable=True))
    op.execute(f"UPDATE monitoring_case SET due_at = {DUE_AT}, due_kind = {DUE_KIND}")
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.create_index('ix_case_inbox_order', ['due_at', 'opened_at', 'id'], unique=False,
                              postgresql_where=sa.text('is_open'),
                              sqlite_where=sa.text('is_open'))
        batch_op.create_index('ix_case_open_area_state', ['area_code', 'workflow_version', 'state'],
                              unique=False, postgresql_ops={'area_code': 'varchar_pattern_ops'},
                              postgresql_where=sa.text('is_open'),
                              sqlite_where=sa.text('is_open'))
    release = sa.table('schema_release', sa.column('revision', sa.String),
                       sa.column('oldest_release', sa.String))
    op.bulk_insert(release, [{'revision': '0033', 'oldest_release': '0.3.0'}])


def downgrade() -> None:
    op.execute("DELETE FROM schema_release WHERE revision = '0033'")
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_open_area_state', postgresql_where=sa.text('is_open'),
                            sqlite_where=sa.text('is_open'))
        batch_op.drop_index('ix_case_inbox_order', postgresql_where=sa.text('is_open'),
                            sqlite_where=sa.text('is_open'))
        batch_op.drop_column('due_kind')
        batch_op.drop_column('due_at')

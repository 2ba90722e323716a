"""The first measure's deadline on a case (措施落实时限), for listing late households

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 13:49:51.565217
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('measures_due_at', app.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_monitoring_case_measures_due_at'), ['measures_due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_case_measures_due_at'))
        batch_op.drop_column('measures_due_at')


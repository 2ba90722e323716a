"""Periodic elimination assessment rounds (风险消除评估)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 14:00:53.135149
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('elimination_round',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('area_code', sa.String(length=12), nullable=False),
    sa.Column('opened_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_elimination_round'))
    )
    with op.batch_alter_table('elimination_round', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_elimination_round_area_code'), ['area_code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('elimination_round', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_elimination_round_area_code'))

    op.drop_table('elimination_round')

"""Warning indicators the city defines, and the regional alerts they propose

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0024'
down_revision: str | Sequence[str] | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('warning_indicator',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('cause', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('rule', JSON, nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_indicator'))
    )
    op.create_table('alert_proposal',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('indicator_id', sa.String(length=36), nullable=False),
    sa.Column('area_code', sa.String(length=12), nullable=False),
    sa.Column('evidence', JSON, nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('alert_id', sa.String(length=36), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['screening_round.id'], name=op.f('fk_alert_proposal_alert_id_screening_round')),
    sa.ForeignKeyConstraint(['indicator_id'], ['warning_indicator.id'], name=op.f('fk_alert_proposal_indicator_id_warning_indicator')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_proposal'))
    )
    op.create_index('ix_alert_proposal_indicator_area', 'alert_proposal', ['indicator_id', 'area_code'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alert_proposal_indicator_area', table_name='alert_proposal')
    op.drop_table('alert_proposal')
    op.drop_table('warning_indicator')

"""Household members (家庭成员) in the registry

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 13:40:27.709485
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('id_number', sa.String(length=18), nullable=False),
    sa.Column('id_digest', sa.String(length=64), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('sex', sa.String(length=8), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('labour_skill', sa.String(length=16), nullable=True),
    sa.Column('health', sa.String(length=24), nullable=True),
    sa.Column('education', sa.String(length=24), nullable=True),
    sa.Column('school_status', sa.String(length=24), nullable=True),
    sa.Column('medical_insurance', sa.Boolean(), nullable=True),
    sa.Column('social_assistance', sa.String(length=8), nullable=True),
    sa.Column('member_number', sa.String(length=32), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_member_household_id_household')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_member')),
    sa.UniqueConstraint('id_digest', name=op.f('uq_member_id_digest'))
    )
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_household_id'), ['household_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_household_id'))

    op.drop_table('member')

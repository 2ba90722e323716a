"""The monitoring assistance fund (防返贫监测帮扶资金): requests, ledger, spending per year

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 13:58:03.051163
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('fund_year',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('spent_fen', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_fund_year'))
    )
    op.create_table('fund_disbursement',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('area_code', sa.String(length=12), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requested_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_case.id'], name=op.f('fk_fund_disbursement_case_id_monitoring_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_disbursement'))
    )
    with op.batch_alter_table('fund_disbursement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_disbursement_area_code'), ['area_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_disbursement_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fund_disbursement_status'), ['status'], unique=False)

    op.create_table('fund_ledger_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('disbursement_id', sa.String(length=36), nullable=False),
    sa.Column('area_code', sa.String(length=12), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('reverses_entry_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['disbursement_id'], ['fund_disbursement.id'], name=op.f('fk_fund_ledger_entry_disbursement_id_fund_disbursement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fund_ledger_entry'))
    )
    with op.batch_alter_table('fund_ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fund_ledger_entry_year'), ['year'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('fund_ledger_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_ledger_entry_year'))

    op.drop_table('fund_ledger_entry')
    with op.batch_alter_table('fund_disbursement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fund_disbursement_status'))
        batch_op.drop_index(batch_op.f('ix_fund_disbursement_case_id'))
        batch_op.drop_index(batch_op.f('ix_fund_disbursement_area_code'))

    op.drop_table('fund_disbursement')
    op.drop_table('fund_year')

"""12317 self-declarations: receipts with tracking numbers, the acceptance deadline

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 14:12:49.966363
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = '0010'
down_revision: str | Sequence[str] | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('intake_receipt',
    sa.Column('tracking_number', sa.String(length=24), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('received_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_case.id'], name=op.f('fk_intake_receipt_case_id_monitoring_case')),
    sa.PrimaryKeyConstraint('tracking_number', name=op.f('pk_intake_receipt'))
    )
    with op.batch_alter_table('intake_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_receipt_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acceptance_due_at', app.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_monitoring_case_acceptance_due_at'), ['acceptance_due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitoring_case_acceptance_due_at'))
        batch_op.drop_column('acceptance_due_at')

    with op.batch_alter_table('intake_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_receipt_case_id'))

    op.drop_table('intake_receipt')

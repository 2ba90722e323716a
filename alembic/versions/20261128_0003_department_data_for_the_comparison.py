"""Department data snapshots for the data comparison (数据比对)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 13:29:02.574754
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.db

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('department_snapshot',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=64), nullable=False),
    sa.Column('imported_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=200), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department_snapshot'))
    )
    with op.batch_alter_table('department_snapshot', schema=None) as batch_op:
        batch_op.create_index('ix_department_snapshot_latest', ['dataset', 'imported_at'], unique=False)

    op.create_table('department_record',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('snapshot_id', sa.String(length=36), nullable=False),
    sa.Column('dataset', sa.String(length=64), nullable=False),
    sa.Column('id_digest', sa.String(length=64), nullable=False),
    sa.Column('id_masked', sa.String(length=18), nullable=False),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['snapshot_id'], ['department_snapshot.id'], name=op.f('fk_department_record_snapshot_id_department_snapshot')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department_record'))
    )
    with op.batch_alter_table('department_record', schema=None) as batch_op:
        batch_op.create_index('ix_department_record_lookup', ['id_digest', 'snapshot_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('department_record', schema=None) as batch_op:
        batch_op.drop_index('ix_department_record_lookup')

    op.drop_table('department_record')
    with op.batch_alter_table('department_snapshot', schema=None) as batch_op:
        batch_op.drop_index('ix_department_snapshot_latest')

    op.drop_table('department_snapshot')

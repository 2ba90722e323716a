"""The access log of full reads of personal data, append-only like the trail

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 14:23:37.160049
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.db

revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_sub', sa.String(length=200), nullable=False),
    sa.Column('actor_role', sa.String(length=32), nullable=False),
    sa.Column('actor_area', sa.String(length=12), nullable=False),
    sa.Column('record_type', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.String(length=36), nullable=False),
    sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_actor_sub'), ['actor_sub'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_record_id'), ['record_id'], unique=False)



    if op.get_context().dialect.name == 'postgresql':
        op.execute("""CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
                      FOR EACH ROW EXECUTE FUNCTION refuse_change()""")
    else:
        for operation in ('UPDATE', 'DELETE'):
            op.execute(f"""CREATE TRIGGER access_log_no_{operation.lower()} BEFORE {operation}
                           ON access_log BEGIN
                           SELECT RAISE(ABORT, 'append-only: {operation} on access_log is refused');
                           END""")


def downgrade() -> None:
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_record_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_at'))
        batch_op.drop_index(batch_op.f('ix_access_log_actor_sub'))

    op.drop_table('access_log')

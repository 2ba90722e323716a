"""Completions of the recurring duties (the obligations calendar), append-only

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 17:05:00.584404
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = '0017'
down_revision: str | Sequence[str] | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('obligation_completion',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('party', sa.String(length=40), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('evidence_sha256', sa.String(length=64), nullable=True),
    sa.Column('completed_by', sa.String(length=200), nullable=False),
    sa.Column('completed_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_obligation_completion'))
    )
    with op.batch_alter_table('obligation_completion', schema=None) as batch_op:
        batch_op.create_index('ix_obligation_completion_kind_period', ['kind', 'period'], unique=False)

    if op.get_context().dialect.name == 'postgresql':
        op.execute("""CREATE TRIGGER obligation_completion_append_only BEFORE UPDATE OR DELETE
                      ON obligation_completion FOR EACH ROW EXECUTE FUNCTION refuse_change()""")
    else:
        for operation in ('UPDATE', 'DELETE'):
            op.execute(f"""CREATE TRIGGER obligation_completion_no_{operation.lower()}
                           BEFORE {operation} ON obligation_completion BEGIN
                           SELECT RAISE(ABORT, 'append-only: {operation} on obligation_completion is refused');
                           END""")


def downgrade() -> None:
    with op.batch_alter_table('obligation_completion', schema=None) as batch_op:
        batch_op.drop_index('ix_obligation_completion_kind_period')

    op.drop_table('obligation_completion')

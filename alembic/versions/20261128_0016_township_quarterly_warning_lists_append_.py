"""Township quarterly warning lists (乡镇预警名单), append-only

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 16:58:58.721526
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.db

revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('warning_list',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('township_code', sa.String(length=12), nullable=False),
    sa.Column('quarter', sa.String(length=7), nullable=False),
    sa.Column('entries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('submitted_by', sa.String(length=200), nullable=False),
    sa.Column('submitted_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['township_code'], ['area.code'], name=op.f('fk_warning_list_township_code_area')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_list'))
    )
    with op.batch_alter_table('warning_list', schema=None) as batch_op:
        batch_op.create_index('ix_warning_list_quarter_township', ['quarter', 'township_code'], unique=False)

    if op.get_context().dialect.name == 'postgresql':
        op.execute("""CREATE TRIGGER warning_list_append_only BEFORE UPDATE OR DELETE
                      ON warning_list FOR EACH ROW EXECUTE FUNCTION refuse_change()""")
    else:
        for operation in ('UPDATE', 'DELETE'):
            op.execute(f"""CREATE TRIGGER warning_list_no_{operation.lower()}
                           BEFORE {operation} ON warning_list BEGIN
                           SELECT RAISE(ABORT, 'append-only: {operation} on warning_list is refused');
                           END""")


def downgrade() -> None:
    with op.batch_alter_table('warning_list', schema=None) as batch_op:
        batch_op.drop_index('ix_warning_list_quarter_township')

    op.drop_table('warning_list')

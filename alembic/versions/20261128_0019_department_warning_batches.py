"""Department warning batches, their rows and the city's dispositions, append-only

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28 18:08:19.011551
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.db

revision: str = '0019'
down_revision: str | Sequence[str] | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def refuse_changes(table: str) -> None:
    """Triggers that refuse UPDATE and DELETE on ``table`` (append-only), as this revision
    makes them: ``refuse_change()`` on PostgreSQL, RAISE on SQLite."""
    if op.get_context().dialect.name == 'postgresql':
        op.execute(f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} '
                   'FOR EACH ROW EXECUTE FUNCTION refuse_change()')
        return
    for operation in ('UPDATE', 'DELETE'):
        op.execute(f'CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON '
                   f"{table} BEGIN SELECT RAISE(ABORT, 'append-only: {operation} on {table} "
                   "is refused'); END")


def upgrade() -> None:
    op.create_table('warning_batch',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('area_code', sa.String(length=12), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('encoding', sa.String(length=16), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.String(length=200), nullable=False),
    sa.Column('uploaded_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warning_batch')),
    sa.UniqueConstraint('area_code', 'sender', 'reference', name='uq_warning_batch_reference'),
    sa.UniqueConstraint('area_code', 'sender', 'sha256', name='uq_warning_batch_sha256')
    )
    op.create_table('department_warning',
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('id_masked', sa.String(length=18), nullable=True),
    sa.Column('id_digest', sa.String(length=64), nullable=True),
    sa.Column('id_number_encrypted', sa.Text(), nullable=True),
    sa.Column('village_code', sa.String(length=12), nullable=True),
    sa.Column('risk_type', sa.String(length=32), nullable=True),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('flagged_on', sa.Date(), nullable=True),
    sa.Column('household_id', sa.String(length=36), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['warning_batch.id'], name=op.f('fk_department_warning_batch_id_warning_batch')),
    sa.PrimaryKeyConstraint('batch_id', 'line', name=op.f('pk_department_warning'))
    )
    with op.batch_alter_table('department_warning', schema=None) as batch_op:
        batch_op.create_index('uq_department_warning_accepted', ['batch_id', 'id_digest', 'risk_type'], unique=True, postgresql_where=sa.text("status = 'accepted'"), sqlite_where=sa.text("status = 'accepted'"))

    op.create_table('warning_disposition',
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=12), nullable=False),
    sa.Column('risk_type', sa.String(length=32), nullable=True),
    sa.Column('township_code', sa.String(length=9), nullable=True),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('attached', sa.Boolean(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('decided_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id', 'line'], ['department_warning.batch_id', 'department_warning.line'], name=op.f('fk_warning_disposition_batch_id_department_warning')),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_case.id'], name=op.f('fk_warning_disposition_case_id_monitoring_case')),
    sa.PrimaryKeyConstraint('batch_id', 'line', name=op.f('pk_warning_disposition'))
    )
    with op.batch_alter_table('warning_disposition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warning_disposition_case_id'), ['case_id'], unique=False)



    for table in ('warning_batch', 'department_warning', 'warning_disposition'):
        refuse_changes(table)


def downgrade() -> None:
    with op.batch_alter_table('warning_disposition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warning_disposition_case_id'))

    op.drop_table('warning_disposition')
    with op.batch_alter_table('department_warning', schema=None) as batch_op:
        batch_op.drop_index('uq_department_warning_accepted', postgresql_where=sa.text("status = 'accepted'"), sqlite_where=sa.text("status = 'accepted'"))

    op.drop_table('department_warning')
    op.drop_table('warning_batch')

"""Screening rounds (campaigns, regional alerts), their tasks and the visits, append-only

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28 17:37:11.419134
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.db

revision: str = '0018'
down_revision: str | Sequence[str] | None = '0017'
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
    op.create_table('screening_round',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=True),
    sa.Column('cause', sa.String(length=40), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('area_codes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('opened_by', sa.String(length=200), nullable=False),
    sa.Column('opened_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_round'))
    )
    with op.batch_alter_table('screening_round', schema=None) as batch_op:
        batch_op.create_index('ix_screening_round_kind_starts', ['kind', 'starts_on'], unique=False)

    op.create_table('screening_task',
    sa.Column('round_id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_screening_task_household_id_household')),
    sa.ForeignKeyConstraint(['round_id'], ['screening_round.id'], name=op.f('fk_screening_task_round_id_screening_round')),
    sa.PrimaryKeyConstraint('round_id', 'household_id', name=op.f('pk_screening_task'))
    )
    with op.batch_alter_table('screening_task', schema=None) as batch_op:
        batch_op.create_index('ix_screening_task_round_village', ['round_id', 'village_code'], unique=False)

    op.create_table('screening_visit',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('round_id', sa.String(length=36), nullable=True),
    sa.Column('visited_on', sa.Date(), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('risk_type', sa.String(length=32), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('case_id', sa.String(length=36), nullable=True),
    sa.Column('visited_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_case.id'], name=op.f('fk_screening_visit_case_id_monitoring_case')),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_screening_visit_household_id_household')),
    sa.ForeignKeyConstraint(['round_id'], ['screening_round.id'], name=op.f('fk_screening_visit_round_id_screening_round')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_visit')),
    sa.UniqueConstraint('round_id', 'household_id', name='uq_screening_visit_round_household')
    )
    with op.batch_alter_table('screening_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_visit_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_screening_visit_household_id'), ['household_id'], unique=False)
        batch_op.create_index('ix_screening_visit_village_date', ['village_code', 'visited_on'], unique=False)

    for table in ('screening_round', 'screening_task', 'screening_visit'):
        refuse_changes(table)



def downgrade() -> None:
    with op.batch_alter_table('screening_visit', schema=None) as batch_op:
        batch_op.drop_index('ix_screening_visit_village_date')
        batch_op.drop_index(batch_op.f('ix_screening_visit_household_id'))
        batch_op.drop_index(batch_op.f('ix_screening_visit_case_id'))

    op.drop_table('screening_visit')
    with op.batch_alter_table('screening_task', schema=None) as batch_op:
        batch_op.drop_index('ix_screening_task_round_village')

    op.drop_table('screening_task')
    with op.batch_alter_table('screening_round', schema=None) as batch_op:
        batch_op.drop_index('ix_screening_round_kind_starts')

    op.drop_table('screening_round')

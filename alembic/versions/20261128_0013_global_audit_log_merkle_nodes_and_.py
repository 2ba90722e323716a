"""A global audit log over every event, its Merkle nodes and signed checkpoints, append-only

On PostgreSQL ``case_event.txid`` takes the writing transaction's id, so the sequencer can
tell which events no running transaction can still precede. Existing events keep NULL and
come first in the log, in id order. Columns are added in place (no batch copy of the table),
so the append-only triggers on ``case_event`` stay as they are.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 15:15:52.215603
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('audit_log', 'audit_node', 'audit_checkpoint')


def upgrade() -> None:
    op.create_table('audit_checkpoint',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('origin', sa.String(length=100), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_audit_checkpoint'))
    )
    op.create_table('audit_node',
    sa.Column('level', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_audit_node'))
    )
    op.create_table('audit_log',
    sa.Column('log_index', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sequenced_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['case_event.id'], name=op.f('fk_audit_log_event_id_case_event')),
    sa.PrimaryKeyConstraint('log_index', name=op.f('pk_audit_log')),
    sa.UniqueConstraint('event_id', name=op.f('uq_audit_log_event_id'))
    )
    op.add_column('case_event', sa.Column('txid', sa.BigInteger(), nullable=True))
    op.create_index('ix_case_event_log_order', 'case_event', ['txid', 'id'], unique=False)
    op.create_index('ix_case_event_occurred_at', 'case_event', ['occurred_at'], unique=False)
    postgres = op.get_context().dialect.name == 'postgresql'
    if postgres:
        op.execute("ALTER TABLE case_event ALTER COLUMN txid "
                   "SET DEFAULT (pg_current_xact_id()::text)::bigint")
    for table in TABLES:
        if postgres:
            op.execute(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION refuse_change()""")
        else:
            for operation in ('UPDATE', 'DELETE'):
                op.execute(f"""CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation}
                               ON {table} BEGIN
                               SELECT RAISE(ABORT, 'append-only: {operation} on {table} is refused');
                               END""")



def downgrade() -> None:
    op.drop_index('ix_case_event_occurred_at', 'case_event')
    op.drop_index('ix_case_event_log_order', 'case_event')
    # In place on both databases (SQLite ≥ 3.35), so case_event keeps its triggers.
    op.execute("ALTER TABLE case_event DROP COLUMN txid")

    op.drop_table('audit_log')
    op.drop_table('audit_node')
    op.drop_table('audit_checkpoint')

"""Case lifecycle foundation: areas, households, cases, chained events, idempotency keys

Revision ID: 0001
Revises:
Create Date: 2026-11-28 12:52:47.092071
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.db

revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('area',
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=12), nullable=True),
    sa.Column('illustrative', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_area'))
    )
    with op.batch_alter_table('area', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_parent_code'), ['parent_code'], unique=False)

    op.create_table('idempotency_record',
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_headers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('subject', 'method', 'path', 'key', name=op.f('pk_idempotency_record'))
    )
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_record_created_at'), ['created_at'], unique=False)

    op.create_table('household',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('village_code', sa.String(length=12), nullable=False),
    sa.Column('head_name', sa.String(length=100), nullable=False),
    sa.Column('head_id_number', sa.String(length=18), nullable=False),
    sa.Column('head_id_digest', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('household_number', sa.String(length=32), nullable=True),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['village_code'], ['area.code'], name=op.f('fk_household_village_code_area')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household')),
    sa.UniqueConstraint('head_id_digest', name=op.f('uq_household_head_id_digest'))
    )
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_household_village_code'), ['village_code'], unique=False)

    op.create_table('monitoring_case',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('household_id', sa.String(length=36), nullable=False),
    sa.Column('area_code', sa.String(length=12), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=48), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('workflow_version', sa.String(length=32), nullable=False),
    sa.Column('policy_version', sa.String(length=32), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False),
    sa.Column('monitoring_type', sa.String(length=32), nullable=True),
    sa.Column('facts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('opened_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('identification_due_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_monitoring_case_household_id_household')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitoring_case'))
    )
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.create_index('ix_case_list_order', ['opened_at', 'id'], unique=False)
        # Prefix scans (area LIKE '220281%') need pattern ops under a non-C collation.
        batch_op.create_index(batch_op.f('ix_monitoring_case_area_code'), ['area_code'], unique=False, postgresql_ops={'area_code': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_monitoring_case_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_case_household_id'), ['household_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_case_identification_due_at'), ['identification_due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_case_is_open'), ['is_open'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_case_monitoring_type'), ['monitoring_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_monitoring_case_state'), ['state'], unique=False)
        batch_op.create_index('uq_case_household_open', ['household_id'], unique=True, postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'))

    op.create_table('case_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=48), nullable=False),
    sa.Column('from_state', sa.String(length=48), nullable=False),
    sa.Column('to_state', sa.String(length=48), nullable=False),
    sa.Column('actor_sub', sa.String(length=200), nullable=False),
    sa.Column('actor_role', sa.String(length=32), nullable=False),
    sa.Column('actor_area', sa.String(length=12), nullable=False),
    sa.Column('occurred_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('workflow_version', sa.String(length=32), nullable=False),
    sa.Column('policy_version', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_case.id'], name=op.f('fk_case_event_case_id_monitoring_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_event')),
    sa.UniqueConstraint('case_id', 'seq', name=op.f('uq_case_event_case_id_seq'))
    )


def downgrade() -> None:
    op.drop_table('case_event')
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.drop_index('uq_case_household_open', postgresql_where=sa.text('is_open'), sqlite_where=sa.text('is_open'))
        batch_op.drop_index(batch_op.f('ix_monitoring_case_state'))
        batch_op.drop_index(batch_op.f('ix_monitoring_case_monitoring_type'))
        batch_op.drop_index(batch_op.f('ix_monitoring_case_is_open'))
        batch_op.drop_index(batch_op.f('ix_monitoring_case_identification_due_at'))
        batch_op.drop_index(batch_op.f('ix_monitoring_case_household_id'))
        batch_op.drop_index(batch_op.f('ix_monitoring_case_channel'))
        batch_op.drop_index(batch_op.f('ix_monitoring_case_area_code'))
        batch_op.drop_index('ix_case_list_order')

    op.drop_table('monitoring_case')
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_household_village_code'))

    op.drop_table('household')
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_record_created_at'))

    op.drop_table('idempotency_record')
    with op.batch_alter_table('area', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_parent_code'))

    op.drop_table('area')

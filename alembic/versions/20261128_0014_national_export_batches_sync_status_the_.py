"""National export batches (append-only) and sync status, the national projection, ethnicity

Cases already confirmed get their national document composed here from their facts.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 15:34:52.684057
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
import app.core.db
from app.exports.document import compose
from app.exports.projection import project

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('national_export_batch',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('after_index', sa.BigInteger(), nullable=False),
    sa.Column('to_index', sa.BigInteger(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('encoding', sa.String(length=16), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('started_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_national_export_batch'))
    )
    with op.batch_alter_table('national_export_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_national_export_batch_completed_at'), ['completed_at'], unique=False)

    op.create_table('national_sync',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('exported_version', sa.Integer(), nullable=False),
    sa.Column('exported_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('acknowledged_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_case.id'], name=op.f('fk_national_sync_case_id_monitoring_case')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_national_sync'))
    )
    with op.batch_alter_table('national_sync', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_national_sync_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_national_sync_status'), ['status'], unique=False)

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ethnicity', sa.String(length=16), nullable=True))

    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('national', sa.Text(), nullable=True))

    bind = op.get_bind()
    if op.get_context().dialect.name == 'postgresql' and bind.execute(sa.text(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
            " WHERE name = 'default_toast_compression'")).scalar():
        # documents are ~2 KB, so TOASTed: lz4 reads back an order of magnitude faster than
        # pglz, and the national export reads a million of them
        op.execute("ALTER TABLE monitoring_case ALTER COLUMN national SET COMPRESSION lz4")
    cases = bind.execute(sa.text("SELECT id, household_id, facts FROM monitoring_case")).all()
    for case_id, household_id, facts in cases:
        record = project(facts if isinstance(facts, dict) else json.loads(facts))
        if record is None:
            continue
        household = bind.execute(sa.text("SELECT household_number, village_code, head_name, size"
                                         " FROM household WHERE id = :h"), {"h": household_id}).first()
        areas = tuple(bind.execute(sa.text("SELECT name FROM area WHERE code = :c"),
                                   {"c": household.village_code[:n]}).scalar() for n in (6, 9, 12))
        members = bind.execute(sa.text(
            "SELECT id, member_number, name, relation, sex, ethnicity, birth_date, education,"
            " school_status, health, labour_skill, medical_insurance FROM member"
            " WHERE household_id = :h ORDER BY relation <> 'head', birth_date, id"),
            {"h": household_id}).all()
        bind.execute(sa.text("UPDATE monitoring_case SET national = :n WHERE id = :c"),
                     {"n": compose(case_id, record, household, areas, members), "c": case_id})

    if op.get_context().dialect.name == 'postgresql':
        op.execute("""CREATE TRIGGER national_export_batch_append_only BEFORE UPDATE OR DELETE
                      ON national_export_batch FOR EACH ROW EXECUTE FUNCTION refuse_change()""")
    else:
        for operation in ('UPDATE', 'DELETE'):
            op.execute(f"""CREATE TRIGGER national_export_batch_no_{operation.lower()}
                           BEFORE {operation} ON national_export_batch BEGIN
                           SELECT RAISE(ABORT, 'append-only: {operation} on national_export_batch is refused');
                           END""")



def downgrade() -> None:
    with op.batch_alter_table('monitoring_case', schema=None) as batch_op:
        batch_op.drop_column('national')

    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('ethnicity')

    with op.batch_alter_table('national_sync', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_national_sync_status'))
        batch_op.drop_index(batch_op.f('ix_national_sync_batch_id'))

    op.drop_table('national_sync')
    with op.batch_alter_table('national_export_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_national_export_batch_completed_at'))

    op.drop_table('national_export_batch')

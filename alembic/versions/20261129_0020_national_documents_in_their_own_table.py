"""National documents in their own table with their numbers sealed; export items per batch

The national export read each case's document out of TOAST and its members' ciphertexts
through a lookup per case, and marked a million cases sent by upserting a million rows: it
managed 7,500 cases a second. Documents now live in ``national_document``, kept whole in
the page, beside their members' ID numbers sealed together (``numbers``: this revision
opens the members' own ciphertexts to seal them, so it needs FIELD_KEYS, as the service
does); a batch's cases are appended to ``national_export_item``; ``national_sync`` keeps
only the national system's answers. Batches are numbered in the order they ran.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 00:20:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db
from app.core.config import get_settings
from app.core.crypto import cipher_for, context

revision: str = '0020'
down_revision: str | Sequence[str] | None = '0019'
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

MEMBER = re.compile(r'"member_id":"([^"]*)"')  # in the members' order, in any revision
PAGE = 1000


def _postgres() -> bool:
    return op.get_context().dialect.name == 'postgresql'


def _batch_updates(allowed: bool) -> None:
    """national_export_batch is append-only; numbering its rows needs the guard lifted."""
    if _postgres():
        verb = 'DISABLE' if allowed else 'ENABLE'
        op.execute(f'ALTER TABLE national_export_batch {verb} TRIGGER '
                   'national_export_batch_append_only')
    elif allowed:
        op.execute('DROP TRIGGER national_export_batch_no_update')
    else:
        op.execute("""CREATE TRIGGER national_export_batch_no_update
                      BEFORE UPDATE ON national_export_batch BEGIN
                      SELECT RAISE(ABORT, 'append-only: UPDATE on national_export_batch is refused');
                      END""")


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('national_document',
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('numbers', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['monitoring_case.id'], name=op.f('fk_national_document_case_id_monitoring_case')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_national_document'))
    )
    if _postgres():
        # ~2 KB rows stay in the page, uncompressed: no TOAST lookup per case when reading
        op.execute('ALTER TABLE national_document SET (toast_tuple_target = 8160)')
    cipher = cipher_for(get_settings().field_keys)
    after = ''
    while True:
        rows = bind.execute(sa.text(
            'SELECT c.id, c.household_id, c.national FROM monitoring_case c'
            ' WHERE c.national IS NOT NULL AND c.id > :after ORDER BY c.id LIMIT :page'),
            {'after': after, 'page': PAGE}).all()
        if not rows:
            break
        tokens = dict(bind.execute(
            sa.text('SELECT id, id_number_encrypted FROM member WHERE household_id IN :h')
            .bindparams(sa.bindparam('h', expanding=True)),
            {'h': sorted({r.household_id for r in rows})}).all())
        bind.execute(sa.text('INSERT INTO national_document (case_id, document, numbers)'
                             ' VALUES (:c, :d, :n)'), [
            {'c': r.id, 'd': r.national, 'n': cipher.encrypt(",".join(
                cipher.decrypt(tokens[m], context('member', m, 'id_number'))
                for m in MEMBER.findall(r.national)), context("national_document", r.id, "numbers"))}
            for r in rows])
        after = rows[-1].id
    op.execute('ALTER TABLE monitoring_case DROP COLUMN national')

    if _postgres():
        op.add_column('national_export_batch', sa.Column('number', sa.Integer(), nullable=True))
    else:
        op.execute('ALTER TABLE national_export_batch ADD COLUMN number INTEGER NOT NULL DEFAULT 0')
    _batch_updates(True)
    ordered = bind.execute(sa.text('SELECT id FROM national_export_batch'
                                   ' ORDER BY completed_at, started_at, id')).scalars().all()
    for number, batch_id in enumerate(ordered, start=1):
        bind.execute(sa.text('UPDATE national_export_batch SET number = :n WHERE id = :b'),
                     {'n': number, 'b': batch_id})
    _batch_updates(False)
    if _postgres():
        op.alter_column('national_export_batch', 'number', nullable=False)
    op.create_index('uq_national_export_batch_number', 'national_export_batch', ['number'],
                    unique=True)

    op.create_table('national_export_item',
    sa.Column('batch_number', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('batch_number', 'case_id', name=op.f('pk_national_export_item'))
    )
    op.execute("""INSERT INTO national_export_item (case_id, batch_number, version)
                  SELECT s.case_id, b.number, s.exported_version FROM national_sync s
                  JOIN national_export_batch b ON b.id = s.batch_id""")
    refuse_changes('national_export_item')
    op.execute("DELETE FROM national_sync WHERE status = 'exported'")
    op.execute('ALTER TABLE national_sync DROP COLUMN exported_version')
    op.execute('ALTER TABLE national_sync DROP COLUMN exported_at')


def downgrade() -> None:
    bind = op.get_bind()
    op.add_column('national_sync', sa.Column('exported_version', sa.Integer(), nullable=True))
    op.add_column('national_sync', sa.Column('exported_at', app.core.db.UTCDateTime(timezone=True), nullable=True))
    latest = """SELECT i.case_id, i.version, b.id AS batch_id, b.completed_at
        FROM national_export_item i JOIN national_export_batch b ON b.number = i.batch_number
        WHERE i.batch_number = (SELECT max(j.batch_number) FROM national_export_item j
                                WHERE j.case_id = i.case_id)"""
    for row in bind.execute(sa.text(latest)).all():
        answered = bind.execute(sa.text(
            'UPDATE national_sync SET exported_version = :v, exported_at = :at'
            ' WHERE case_id = :c AND batch_id = :b'),
            {'v': row.version, 'at': row.completed_at, 'c': row.case_id, 'b': row.batch_id})
        if not answered.rowcount:
            bind.execute(sa.text('DELETE FROM national_sync WHERE case_id = :c'), {'c': row.case_id})
            bind.execute(sa.text(
                'INSERT INTO national_sync (case_id, status, batch_id, exported_version,'
                ' exported_at) VALUES (:c, :s, :b, :v, :at)'),
                {'c': row.case_id, 's': 'exported', 'b': row.batch_id, 'v': row.version,
                 'at': row.completed_at})
    op.execute('DELETE FROM national_sync WHERE exported_version IS NULL')
    with op.batch_alter_table('national_sync', schema=None) as batch_op:
        batch_op.alter_column('exported_version', nullable=False)
        batch_op.alter_column('exported_at', nullable=False)
    op.drop_table('national_export_item')
    op.drop_index('uq_national_export_batch_number', table_name='national_export_batch')
    op.execute('ALTER TABLE national_export_batch DROP COLUMN number')

    op.add_column('monitoring_case', sa.Column('national', sa.Text(), nullable=True))
    rows = bind.execute(sa.text('SELECT case_id, document FROM national_document')).all()
    for case_id, text in rows:
        bind.execute(sa.text('UPDATE monitoring_case SET national = :n WHERE id = :c'),
                     {'n': text, 'c': case_id})
    op.drop_table('national_document')

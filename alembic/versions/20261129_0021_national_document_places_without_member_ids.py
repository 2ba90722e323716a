"""National documents carry their case's version and area, and mark numbers with ``#``

The export read each document joined to its case for two columns, the version it records as
sent and the area it selects by; hashing a million cases for them cost a second before the
first line. The document now keeps both (the write path stores them with it).

A document held ``"证件号码":"#<member id>"`` where each member's number goes. The export now
cuts a document at its places and lays the numbers between the pieces with list slices,
which needs every piece to start where the field's value ends: the places become
``"证件号码":"#"``. The member's id stays in its own field, ``member_id``, and the
downgrade puts it back into the place from there.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29 02:30:00
"""

import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | Sequence[str] | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACE = re.compile(r'"证件号码":"#[^"]*"')
MEMBER = re.compile(r'("member_id":"([^"]*)".*?"证件号码":"#)(")')
PAGE = 1000


def _rewrite(change: Callable[[str], str]) -> None:
    """Every document through ``change``, a page at a time."""
    bind = op.get_bind()
    after = ''
    while True:
        rows = bind.execute(sa.text(
            'SELECT case_id, document FROM national_document WHERE case_id > :after'
            ' ORDER BY case_id LIMIT :page'), {'after': after, 'page': PAGE}).all()
        if not rows:
            break
        changed = [{'c': r.case_id, 'd': change(r.document)} for r in rows]
        changed = [c for c, r in zip(changed, rows, strict=True) if c['d'] != r.document]
        if changed:
            bind.execute(sa.text('UPDATE national_document SET document = :d WHERE case_id = :c'),
                         changed)
        after = rows[-1].case_id


def upgrade() -> None:
    with op.batch_alter_table('national_document') as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('area_code', sa.String(length=12), nullable=True))
    if op.get_context().dialect.name == 'postgresql':  # one pass over the documents
        op.execute("""UPDATE national_document d
                      SET version = c.version, area_code = c.area_code,
                          document = regexp_replace(d.document, '"证件号码":"#[^"]*"',
                                                    '"证件号码":"#"', 'g')
                      FROM monitoring_case c WHERE c.id = d.case_id""")
    else:
        op.execute('UPDATE national_document SET'
                   ' version = (SELECT c.version FROM monitoring_case c WHERE c.id = case_id),'
                   ' area_code = (SELECT c.area_code FROM monitoring_case c WHERE c.id = case_id)')
        _rewrite(lambda document: PLACE.sub('"证件号码":"#"', document))
    with op.batch_alter_table('national_document') as batch_op:
        batch_op.alter_column('version', nullable=False)
        batch_op.alter_column('area_code', nullable=False)


def downgrade() -> None:
    _rewrite(lambda document: MEMBER.sub(r'\1\2\3', document))
    with op.batch_alter_table('national_document') as batch_op:
        batch_op.drop_column('area_code')
        batch_op.drop_column('version')

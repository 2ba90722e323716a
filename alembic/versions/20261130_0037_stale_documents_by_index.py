"""Stale national documents found by an index

Every national export, ledger and quality report first rewrites the documents written under
another sheet version or other code lists; finding them scanned the whole table (0.7 s for a
million cases, before every export). An index on the version finds them in the ranges below
and above the current one.

Release 0.3.0 runs against it: an index changes nothing it reads or writes.

Revision ID: 0037
Revises: 0036
Create Date: 2026-11-30 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0037'
down_revision: str | Sequence[str] | None = '0036'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_national_document_sheet_version', 'national_document', ['sheet_version'])
    release = sa.table('schema_release', sa.column('revision', sa.String),
                       sa.column('oldest_release', sa.String))
    op.bulk_insert(release, [{'revision': '0037', 'oldest_release': '0.3.0'}])


def downgrade() -> None:
    op.execute("DELETE FROM schema_release WHERE revision = '0037'")
    op.drop_index('ix_national_document_sheet_version', table_name='national_document')

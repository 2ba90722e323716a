"""Data-quality flags: on each national document, counted on each export batch

The national audits' softer checks (a monitored household without a risk type, 缺劳动力 with
able members, ...) are flagged when a document is written and kept beside it; each export
batch records how many of its cases break each rule. Additive: two nullable columns. Every
document is marked stale so `fangfanpin migrate` rewrites it with its flags.

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.db import JsonDocument

revision: str = '0029'
down_revision: str | Sequence[str] | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('national_document', sa.Column('quality', sa.String(length=400), nullable=True))
    op.add_column('national_export_batch', sa.Column('quality', JsonDocument, nullable=True))
    op.execute("UPDATE national_document SET sheet_version = NULL")


def downgrade() -> None:
    # ALTER TABLE, not a batch: a rebuilt SQLite table would lose its append-only triggers
    op.execute('ALTER TABLE national_export_batch DROP COLUMN quality')
    op.execute('ALTER TABLE national_document DROP COLUMN quality')

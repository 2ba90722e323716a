"""National documents record the sheet version they were written under

The national export now follows the national monitored-household sheet column by column
(监测对象信息, version 2022.1). A document written before keeps the former names; it is
rewritten from its case by ``fangfanpin migrate`` (and by the next export) once the service
knows it is stale: every existing row starts without a version. Additive: a nullable column.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0027'
down_revision: str | Sequence[str] | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('national_document', sa.Column('sheet_version', sa.String(length=16),
                                                 nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('national_document') as batch:
        batch.drop_column('sheet_version')

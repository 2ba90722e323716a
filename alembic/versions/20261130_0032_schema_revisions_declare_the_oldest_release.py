"""Schema revisions declare the oldest release that runs against them

``/ready`` answered 503 whenever the database was not at the code's own head, so the documented
migrate-then-roll-out took the serving pods out before the new ones came up. From this
revision on, each revision records the oldest release that runs against the schema it leaves
(expand/contract); a release is ready on its own head and on newer revisions that name it or
an older one. This one adds a table: release 0.1.0 runs against it.

Revision ID: 0032
Revises: 0031
Create Date: 2026-11-30 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0032'
down_revision: str | Sequence[str] | None = '0031'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        'schema_release',
        sa.Column('revision', sa.String(length=32), nullable=False),
        sa.Column('oldest_release', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('revision', name=op.f('pk_schema_release')),
    )
    op.bulk_insert(table, [{'revision': '0032', 'oldest_release': '0.1.0'}])


def downgrade() -> None:
    op.drop_table('schema_release')

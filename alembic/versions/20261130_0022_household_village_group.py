"""Households carry their village group (社/组)

The village notice names the household's group beside its village, as posted in the village.
Additive: a nullable column.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | Sequence[str] | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('household', sa.Column('village_group', sa.String(length=50), nullable=True))


def downgrade() -> None:
    op.drop_column('household', 'village_group')

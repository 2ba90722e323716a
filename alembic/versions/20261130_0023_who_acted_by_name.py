"""Screening visits and fund ledger entries keep the name of who acted

Ledgers show people by name (走访人, 经办人), not by their token's subject. The name is the
token's ``name`` claim when the record was made; rows from before keep none, and ledgers show
their subject instead. Additive: nullable columns (the ledger's append-only trigger is about
its rows, not its columns).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0023'
down_revision: str | Sequence[str] | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('screening_visit', sa.Column('visited_by_name', sa.String(100), nullable=True))
    op.add_column('fund_ledger_entry',
                  sa.Column('created_by_name', sa.String(100), nullable=True))


def downgrade() -> None:
    op.drop_column('fund_ledger_entry', 'created_by_name')
    op.drop_column('screening_visit', 'visited_by_name')

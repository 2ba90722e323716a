"""The account assistance is paid into: encrypted like ID numbers, with a masked copy

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 16:40:31.604971
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_account_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('bank_account_masked', sa.String(length=32), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_column('bank_account_masked')
        batch_op.drop_column('bank_account_encrypted')


"""Policy versions, written once; seeded with the Jiaohe 2022 implementation plan

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 13:32:58.633955
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.core.db

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('policy_version',
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('parameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=2000), nullable=False),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_policy_version'))
    )
    with op.batch_alter_table('policy_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_version_effective_from'), ['effective_from'], unique=False)

    # The version cases have pinned so far; a literal, so this migration never changes meaning.
    policy_version = sa.table(
        'policy_version',
        sa.column('version', sa.String), sa.column('effective_from', sa.Date),
        sa.column('parameters', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')), sa.column('created_at', app.core.db.UTCDateTime),
        sa.column('created_by', sa.String), sa.column('reason', sa.String),
    )
    op.bulk_insert(policy_version, [{
        'version': 'jiaohe-2022.1',
        'effective_from': date(2021, 1, 1),
        'parameters': {
        "notice_days": 5,
        "identification_days": 15,
        "measures_months": 1,
        "elimination_min_months": 6,
        "review_quorum": "2/3",
        "review_majority": "1/2",
        "income_lines": {
            "2021": "6000.00"
        },
        "fund_budgets": {
            "2022": "500000.00"
        }
    },
        'created_at': datetime(2022, 2, 18, 6, 59, tzinfo=UTC),
        'created_by': 'migration',
        'reason': '蛟河市关于健全防止返贫动态监测和帮扶机制实施方案 (2022-02-18)',
    }])



def downgrade() -> None:
    with op.batch_alter_table('policy_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_version_effective_from'))

    op.drop_table('policy_version')

"""Members' phones, sealed, and their 低保/特困 amounts

The national sheet's 家庭成员联系电话 had nothing to be read from. A member's phone is sealed
like the ID number (AES-GCM, bound to its row and column); no answer shows it, the trail keeps
its last four digits, and the national export carries it in full beside the ID numbers. The
registry also keeps what a member receives of 低保 or 特困供养, yuan a month.

Release 0.3.0 runs against it: it leaves the columns empty.

Revision ID: 0035
Revises: 0034
Create Date: 2026-11-30 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0035'
down_revision: str | Sequence[str] | None = '0034'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('social_assistance_monthly', sa.Numeric(precision=10,
                                                                              scale=2),
                                      nullable=True))
    release = sa.table('schema_release', sa.column('revision', sa.String),
                       sa.column('oldest_release', sa.String))
    op.bulk_insert(release, [{'revision': '0035', 'oldest_release': '0.3.0'}])


def downgrade() -> None:
    op.execute("DELETE FROM schema_release WHERE revision = '0035'")
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('social_assistance_monthly')
        batch_op.drop_column('phone_encrypted')

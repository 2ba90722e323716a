"""Blind-index digests name their key, and old digests stay aliases of new ones

The keyed digests of ID numbers could not be rotated: a new key would have stranded every
stored digest, and those inside chained events can never be re-derived. A digest now names its
key (``kid:`` before the hex; the first key's digests stay bare, as they are stored), and this
table keeps each re-keyed digest as an alias of the digest that stands for the person now, so
stored digests still meet after the old key is gone. The columns keep their width: a listed
key's digest is cut to 64 characters.

Release 0.3.0 runs against it while no second key is listed.

Revision ID: 0034
Revises: 0033
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0034'
down_revision: str | Sequence[str] | None = '0033'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'blind_index_alias',
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('current', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('digest', name=op.f('pk_blind_index_alias')),
    )
    with op.batch_alter_table('blind_index_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blind_index_alias_current'), ['current'],
                              unique=False)
    release = sa.table('schema_release', sa.column('revision', sa.String),
                       sa.column('oldest_release', sa.String))
    op.bulk_insert(release, [{'revision': '0034', 'oldest_release': '0.3.0'}])


def downgrade() -> None:
    op.execute("DELETE FROM schema_release WHERE revision = '0034'")
    with op.batch_alter_table('blind_index_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blind_index_alias_current'))
    op.drop_table('blind_index_alias')

"""Checkpoints are also signed as C2SP tlog-checkpoint notes

Transparency-log verifiers and witnesses read checkpoints as signed notes (origin, tree size,
base64 root; an Ed25519 signature line). Each new checkpoint keeps that signature beside the
service's own. Additive: a nullable column on the append-only table; checkpoints signed before
keep none.

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-30 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0031'
down_revision: str | Sequence[str] | None = '0030'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('audit_checkpoint', sa.Column('note_signature', sa.String(length=100),
                                                nullable=True))


def downgrade() -> None:
    # ALTER TABLE, not a batch: a rebuilt SQLite table would lose its append-only triggers
    op.execute('ALTER TABLE audit_checkpoint DROP COLUMN note_signature')

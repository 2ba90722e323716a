"""ID numbers and phones encrypted at rest (AES-GCM), with masked copies for display

A data migration: existing rows are encrypted with the key FIELD_KEYS names last, then the
plain columns are dropped. It uses the service's cipher so old and new rows read the same.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 14:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _mask(number: str) -> str:
    return number[:6] + '*' * (len(number) - 10) + number[-4:]


def upgrade() -> None:
    from app.core.config import get_settings
    from app.core.crypto import cipher_for, context

    cipher = cipher_for(get_settings().field_keys)
    with op.batch_alter_table('household') as batch:
        batch.add_column(sa.Column('head_id_number_encrypted', sa.Text(), nullable=True))
        batch.add_column(sa.Column('head_id_number_masked', sa.String(length=18), nullable=True))
        batch.add_column(sa.Column('phone_encrypted', sa.Text(), nullable=True))
    with op.batch_alter_table('member') as batch:
        batch.add_column(sa.Column('id_number_encrypted', sa.Text(), nullable=True))
        batch.add_column(sa.Column('id_number_masked', sa.String(length=18), nullable=True))
    connection = op.get_bind()
    for row_id, number, phone in connection.execute(
        sa.text('SELECT id, head_id_number, phone FROM household')
    ).all():
        connection.execute(sa.text(
            'UPDATE household SET head_id_number_encrypted = :n, head_id_number_masked = :m,'
            ' phone_encrypted = :p WHERE id = :id'), {
            'id': row_id, 'm': _mask(number),
            'n': cipher.encrypt(number, context('household', row_id, 'head_id_number')),
            'p': cipher.encrypt(phone, context('household', row_id, 'phone')) if phone else None,
        })
    for row_id, number in connection.execute(sa.text('SELECT id, id_number FROM member')).all():
        connection.execute(sa.text(
            'UPDATE member SET id_number_encrypted = :n, id_number_masked = :m WHERE id = :id'), {
            'id': row_id, 'm': _mask(number),
            'n': cipher.encrypt(number, context('member', row_id, 'id_number')),
        })
    with op.batch_alter_table('household') as batch:
        batch.alter_column('head_id_number_encrypted', nullable=False)
        batch.alter_column('head_id_number_masked', nullable=False)
        batch.drop_column('head_id_number')
        batch.drop_column('phone')
    with op.batch_alter_table('member') as batch:
        batch.alter_column('id_number_encrypted', nullable=False)
        batch.alter_column('id_number_masked', nullable=False)
        batch.drop_column('id_number')


def downgrade() -> None:
    from app.core.config import get_settings
    from app.core.crypto import cipher_for, context

    cipher = cipher_for(get_settings().field_keys)
    with op.batch_alter_table('household') as batch:
        batch.add_column(sa.Column('head_id_number', sa.String(length=18), nullable=True))
        batch.add_column(sa.Column('phone', sa.String(length=20), nullable=True))
    with op.batch_alter_table('member') as batch:
        batch.add_column(sa.Column('id_number', sa.String(length=18), nullable=True))
    connection = op.get_bind()
    for row_id, sealed, phone in connection.execute(
        sa.text('SELECT id, head_id_number_encrypted, phone_encrypted FROM household')
    ).all():
        connection.execute(sa.text(
            'UPDATE household SET head_id_number = :n, phone = :p WHERE id = :id'), {
            'id': row_id,
            'n': cipher.decrypt(sealed, context('household', row_id, 'head_id_number')),
            'p': cipher.decrypt(phone, context('household', row_id, 'phone')) if phone else None,
        })
    for row_id, sealed in connection.execute(
        sa.text('SELECT id, id_number_encrypted FROM member')
    ).all():
        connection.execute(sa.text('UPDATE member SET id_number = :n WHERE id = :id'), {
            'id': row_id, 'n': cipher.decrypt(sealed, context('member', row_id, 'id_number')),
        })
    with op.batch_alter_table('household') as batch:
        batch.alter_column('head_id_number', nullable=False)
        batch.drop_column('head_id_number_encrypted')
        batch.drop_column('head_id_number_masked')
        batch.drop_column('phone_encrypted')
    with op.batch_alter_table('member') as batch:
        batch.alter_column('id_number', nullable=False)
        batch.drop_column('id_number_encrypted')
        batch.drop_column('id_number_masked')

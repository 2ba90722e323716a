"""Key rotation for personal data at rest: rewrite rows still sealed with an older key.

Online: each batch is its own short transaction, rows are locked as they are rewritten, and
every listed key keeps decrypting meanwhile, so nothing waits for the rotation to finish.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.crypto import cipher_for, context
from app.exports.models import NationalDocument
from app.households.models import Household, Member

SEALED: tuple[tuple[Any, tuple[tuple[str, str], ...]], ...] = (
    (
        Household,
        (
            ("head_id_number_encrypted", "head_id_number"),
            ("phone_encrypted", "phone"),
            ("bank_account_encrypted", "bank_account"),
        ),
    ),
    (Member, (("id_number_encrypted", "id_number"),)),
    (NationalDocument, (("numbers", "numbers"),)),
)


async def rotate(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, batch: int = 500
) -> int:
    """Re-encrypt with the current key; answers how many rows were rewritten."""
    cipher = cipher_for(settings.field_keys)
    current = f"{cipher.current}:%"
    rewritten = 0
    for model, fields in SEALED:
        stale = or_(*(
            getattr(model, attribute).is_not(None) & ~getattr(model, attribute).like(current)
            for attribute, _ in fields
        ))  # fmt: skip
        while True:
            async with sessionmaker() as session, session.begin():
                query = select(model).where(stale).limit(batch).with_for_update(skip_locked=True)
                rows = list((await session.execute(query)).scalars())
                for row in rows:
                    for attribute, column in fields:
                        token = getattr(row, attribute)
                        if token and not cipher.is_current(token):
                            key = row.case_id if model is NationalDocument else row.id
                            place = context(model.__tablename__, key, column)
                            setattr(
                                row, attribute, cipher.encrypt(cipher.decrypt(token, place), place)
                            )
            rewritten += len(rows)
            if len(rows) < batch:
                break
    return rewritten

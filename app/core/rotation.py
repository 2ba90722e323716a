"""Key rotation for personal data at rest: re-seal, with the newest key of ``FIELD_KEYS``, every
column the models mark :func:`app.core.db.sealed`.

Online: each batch is its own short transaction, rows are locked as they are rewritten, and
every listed key keeps decrypting meanwhile, so nothing waits for the rotation to finish. Rows
of a table written once (:func:`app.core.db.append_only`) are never rewritten: they are counted,
and their key must stay listed while they are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.crypto import cipher_for, context
from app.core.db import sealed_models


@dataclass
class Rotated:
    rewritten: int = 0
    left: dict[str, int] = field(default_factory=dict)
    """Rows of a written-once table still sealed with an older key, by table (only those
    with any)."""


async def rotate(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, batch: int = 500
) -> Rotated:
    """Re-encrypt with the current key; answers how many rows were rewritten and what stays
    under an older key."""
    cipher = cipher_for(settings.field_keys)
    current = f"{cipher.current}:%"
    done = Rotated()
    for model, marked in sealed_models():
        sealed_before = or_(
            *(
                getattr(model, attribute).is_not(None) & ~getattr(model, attribute).like(current)
                for attribute, _ in marked.columns
            )
        )
        if model.__table__.info.get("append_only") or marked.key is None:
            async with sessionmaker() as session:
                count = select(func.count()).select_from(model).where(sealed_before)
                left = (await session.execute(count)).scalar_one()
            if left:
                done.left[model.__tablename__] = left
            continue
        while True:
            async with sessionmaker() as session, session.begin():
                query = (
                    select(model)
                    .where(sealed_before)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
                rows: list[Any] = list((await session.execute(query)).scalars())
                for row in rows:
                    for attribute, place in marked.columns:
                        token = getattr(row, attribute)
                        if token and not cipher.is_current(token):
                            bound = context(model.__tablename__, getattr(row, marked.key), place)
                            setattr(
                                row, attribute, cipher.encrypt(cipher.decrypt(token, bound), bound)
                            )
            done.rewritten += len(rows)
            if len(rows) < batch:
                break
    return done

"""The blind index's key rotation: re-digest the registry's ID numbers with the newest key.

Online: each batch is its own short transaction, rows are locked as they are rewritten, and
every listed key keeps finding its digests meanwhile. (Sealed columns are re-sealed by
:mod:`app.core.rotation`.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.blind import alias, blind_of, stale
from app.core.config import Settings
from app.core.crypto import cipher_for, context
from app.households.models import Household, Member


async def rekey_blind_index(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, batch: int = 500
) -> dict[str, int]:
    """Re-digest the registry with the current blind-index key (app.core.blind): each row's
    digest from its sealed number, the old digest kept as an alias of the new (department
    records, which carry no number, then follow the aliases:
    :func:`app.department_data.repository.follow_aliases`). Answers what was rewritten and
    what is still under an older key."""
    index = blind_of(settings)
    cipher = cipher_for(settings.field_keys)
    done: dict[str, int] = {}
    digested: tuple[tuple[type[Household] | type[Member], Any, str, str], ...] = (
        (Household, Household.head_id_digest, "head_id_number_encrypted", "head_id_number"),
        (Member, Member.id_digest, "id_number_encrypted", "id_number"),
    )
    for model, digest_column, sealed_column, place in digested:
        old_key, last = stale(index, digest_column), ""
        done[model.__tablename__] = 0
        done.setdefault("duplicates", 0)
        while True:
            async with sessionmaker() as session, session.begin():
                key = model.__table__.c.id
                query = (
                    select(model)
                    .where(old_key, key > last)
                    .order_by(key)
                    .limit(batch)
                    .with_for_update(skip_locked=True)
                )
                rows: list[Any] = list((await session.execute(query)).scalars())
                if not rows:
                    break
                last = rows[-1].id
                moved = {}
                for row in rows:
                    sealed = context(model.__tablename__, row.id, place)
                    number = cipher.decrypt(getattr(row, sealed_column), sealed)
                    moved[row.id] = (getattr(row, digest_column.key), index.digest(number))
                taken = set(
                    (
                        await session.execute(
                            select(digest_column).where(
                                digest_column.in_([new for _, new in moved.values()])
                            )
                        )
                    ).scalars()
                )
                for row in rows:
                    new = moved[row.id][1]
                    if new in taken:  # the same person registered twice: left for a person
                        done["duplicates"] += 1
                        continue
                    setattr(row, digest_column.key, new)
                    done[model.__tablename__] += 1
                await session.flush()
                await alias(session, {old: new for old, new in moved.values() if new not in taken})
    async with sessionmaker() as session:
        for name, column in (("household", Household.head_id_digest), ("member", Member.id_digest)):
            left = select(func.count()).where(stale(index, column))
            done[f"{name}_left"] = (await session.execute(left)).scalar_one()
    return done

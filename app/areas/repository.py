"""All SQL about areas."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area


async def names(session: AsyncSession, codes: list[str]) -> dict[str, str]:
    rows = await session.execute(select(Area.code, Area.name).where(Area.code.in_(codes)))
    return dict(rows.all())

"""All SQL about areas."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area


async def names(session: AsyncSession, codes: list[str]) -> dict[str, str]:
    rows = await session.execute(select(Area.code, Area.name).where(Area.code.in_(codes)))
    return dict(rows.all())


async def name(session: AsyncSession, code: str) -> str | None:
    return await session.scalar(select(Area.name).where(Area.code == code))


async def townships(session: AsyncSession, area: str) -> list[tuple[str, str]]:
    """The townships within ``area`` (code, name), by code."""
    query = (
        select(Area.code, Area.name)
        .where(Area.level == "township", Area.code.like(area + "%"))
        .order_by(Area.code)
    )
    return [(code, name) for code, name in (await session.execute(query)).all()]

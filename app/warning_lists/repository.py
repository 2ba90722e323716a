"""All SQL about the townships' quarterly warning lists (乡镇季度预警名单)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from app.cases.models import Case
from app.households.models import Household
from app.warning_lists.models import WarningList


async def open_cases(
    session: AsyncSession, household_ids: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """The open case (id, state) of each of these households that has one."""
    query = select(Case.household_id, Case.id, Case.state).where(
        Case.household_id.in_(list(household_ids)), Case.is_open.is_(True)
    )
    return {h: (c, state) for h, c, state in (await session.execute(query)).all()}


async def villages_among(session: AsyncSession, codes: Iterable[str]) -> set[str]:
    """Those of ``codes`` that are villages."""
    query = select(Area.code).where(Area.code.in_(list(codes)), Area.level == "village")
    return set((await session.execute(query)).scalars())


async def households(session: AsyncSession, ids: Iterable[str]) -> dict[str, Household]:
    query = select(Household).where(Household.id.in_(list(ids)))
    return {h.id: h for h in (await session.execute(query)).scalars()}


async def latest(session: AsyncSession, area: str, quarter: str) -> list[WarningList]:
    """The newest list of each township within ``area`` for ``quarter``, by township."""
    newest = (
        select(WarningList.township_code, func.max(WarningList.submitted_at).label("at"))
        .where(WarningList.quarter == quarter, WarningList.township_code.like(area + "%"))
        .group_by(WarningList.township_code)
        .subquery()
    )
    rows = await session.execute(
        select(WarningList)
        .join(
            newest,
            (newest.c.township_code == WarningList.township_code)
            & (newest.c.at == WarningList.submitted_at),
        )
        .where(WarningList.quarter == quarter)
        .order_by(WarningList.township_code)
    )
    return list(rows.scalars())


async def first_submitted(session: AsyncSession, quarters: str) -> dict[tuple[str, str], datetime]:
    """When each township first submitted its list, per quarter, for the quarters starting
    with ``quarters`` (a quarter, ``2026Q2``, or a year, ``2026``): (quarter, township)."""
    query = (
        select(WarningList.quarter, WarningList.township_code, func.min(WarningList.submitted_at))
        .where(WarningList.quarter.like(f"{quarters}%"))
        .group_by(WarningList.quarter, WarningList.township_code)
    )
    return {(q, township): at for q, township, at in (await session.execute(query)).all()}

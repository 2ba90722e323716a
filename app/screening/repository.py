"""All SQL of the screening endpoints' reads: rounds, tasks and the visits'
ledger (a round's opening, visits and progress are :mod:`app.screening.service`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.households.models import Household
from app.screening.models import ScreeningRound, ScreeningTask, ScreeningVisit


async def rounds(
    session: AsyncSession, kind: str, since: date | None, until: date | None
) -> Sequence[ScreeningRound]:
    """Rounds of ``kind`` starting in the period (either end open), newest first."""
    query = select(ScreeningRound).where(ScreeningRound.kind == kind)
    if since:
        query = query.where(ScreeningRound.starts_on >= since)
    if until:
        query = query.where(ScreeningRound.starts_on <= until)
    query = query.order_by(ScreeningRound.starts_on.desc(), ScreeningRound.opened_at.desc())
    return (await session.execute(query)).scalars().all()


async def campaigns_of(session: AsyncSession, period: str) -> Sequence[ScreeningRound]:
    """The campaigns of a period (``2026-04``), whatever their areas."""
    query = select(ScreeningRound).where(
        ScreeningRound.kind == "campaign", ScreeningRound.period == period
    )
    return (await session.execute(query)).scalars().all()


async def tasks(
    session: AsyncSession, round_id: str, area: str, pending: bool | None
) -> list[tuple[Household, ScreeningVisit | None]]:
    """A round's households within ``area``, each with its visit if recorded (``pending``:
    only those without, or with), by village and head's name."""
    query = (
        select(Household, ScreeningVisit)
        .join(ScreeningTask, ScreeningTask.household_id == Household.id)
        .outerjoin(
            ScreeningVisit,
            (ScreeningVisit.round_id == ScreeningTask.round_id)
            & (ScreeningVisit.household_id == ScreeningTask.household_id),
        )
        .where(ScreeningTask.round_id == round_id, ScreeningTask.village_code.like(area + "%"))
        .order_by(ScreeningTask.village_code, Household.head_name, Household.id)
    )
    if pending is not None:
        query = query.where(
            ScreeningVisit.id.is_(None) if pending else ScreeningVisit.id.is_not(None)
        )
    return [(h, v) for h, v in (await session.execute(query)).all()]


async def visits(session: AsyncSession, area: str, first: date, last: date) -> list[Any]:
    """排查走访台账's rows: each visit within ``area`` dated in the period, with its township's
    and village's names, the household's head (name, masked number) and its round's kind and
    title, by village and date."""
    township, village = aliased(Area), aliased(Area)
    township_code = func.substr(ScreeningVisit.village_code, 1, 9)
    query = (
        select(
            ScreeningVisit,
            township.name,
            village.name,
            Household.head_name,
            Household.head_id_number_masked,
            ScreeningRound.kind,
            ScreeningRound.title,
        )
        .join(Household, Household.id == ScreeningVisit.household_id)
        .outerjoin(ScreeningRound, ScreeningRound.id == ScreeningVisit.round_id)
        .outerjoin(township, township.code == township_code)
        .outerjoin(village, village.code == ScreeningVisit.village_code)
        .where(
            ScreeningVisit.village_code.like(area + "%"),
            ScreeningVisit.visited_on >= first,
            ScreeningVisit.visited_on <= last,
        )
        .order_by(ScreeningVisit.village_code, ScreeningVisit.visited_on, ScreeningVisit.id)
    )
    return list((await session.execute(query)).all())

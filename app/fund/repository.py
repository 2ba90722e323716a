"""All SQL of the fund's reads (booking is :mod:`app.fund.service`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.cases.models import Case
from app.cases.repository import in_area
from app.fund.models import Disbursement, LedgerEntry
from app.households.models import Household


async def ledger(session: AsyncSession, area: str, year: int) -> list[Any]:
    """资金台账's rows: each entry of ``year`` within ``area`` in booking order, with its
    township's and village's names, the household's head and the case."""
    township, village = aliased(Area), aliased(Area)
    query = (
        select(LedgerEntry, township.name, village.name, Household.head_name, Case.id)
        .join(Disbursement, Disbursement.id == LedgerEntry.disbursement_id)
        .join(Case, Case.id == Disbursement.case_id)
        .join(Household, Household.id == Case.household_id)
        .outerjoin(township, township.code == func.substr(LedgerEntry.area_code, 1, 9))
        .outerjoin(village, village.code == LedgerEntry.area_code)
        .where(LedgerEntry.year == year, in_area(LedgerEntry.area_code, area))
        .order_by(LedgerEntry.id)
    )
    return list((await session.execute(query)).all())

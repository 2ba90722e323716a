"""All SQL about the duties marked done by hand (the ones the service sees done in its own
records are :mod:`app.obligations.derived`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.obligations.models import Completion


async def completed_at(
    session: AsyncSession, kind: str, period: str, party: str
) -> datetime | None:
    """When ``party`` marked the duty ``kind`` of ``period`` done, if it did."""
    query = select(Completion.completed_at).where(
        Completion.kind == kind, Completion.period == period, Completion.party == party
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def completions(session: AsyncSession, year: int) -> dict[tuple[str, str, str], datetime]:
    """When each duty of the year was first marked done: (kind, period, party)."""
    query = (
        select(
            Completion.kind, Completion.period, Completion.party, func.min(Completion.completed_at)
        )
        .where(Completion.period.like(f"{year}%"))
        .group_by(Completion.kind, Completion.period, Completion.party)
    )
    return {(k, p, party): at for k, p, party, at in (await session.execute(query)).all()}

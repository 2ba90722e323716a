"""All SQL about warning indicators and their alert proposals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.indicators.models import AlertProposal, WarningIndicator


async def indicators(session: AsyncSession) -> Sequence[WarningIndicator]:
    query = select(WarningIndicator).order_by(WarningIndicator.created_at, WarningIndicator.id)
    return (await session.execute(query)).scalars().all()


async def pending_areas(session: AsyncSession, indicator_id: str) -> set[str]:
    """The areas with a proposal of this indicator still waiting for a decision."""
    query = select(AlertProposal.area_code).where(
        AlertProposal.indicator_id == indicator_id, AlertProposal.status == "proposed"
    )
    return set((await session.execute(query)).scalars())


async def proposals(
    session: AsyncSession, area: str, status: str | None
) -> list[tuple[AlertProposal, str]]:
    """Proposals within ``area`` (of one status when asked), newest first, with their
    indicator's cause."""
    query = (
        select(AlertProposal, WarningIndicator.cause)
        .join(WarningIndicator, WarningIndicator.id == AlertProposal.indicator_id)
        .where(AlertProposal.area_code.like(area + "%"))
        .order_by(AlertProposal.proposed_at.desc(), AlertProposal.id)
    )
    if status:
        query = query.where(AlertProposal.status == status)
    return [(p, cause) for p, cause in (await session.execute(query)).all()]


async def proposal_locked(
    session: AsyncSession, proposal_id: str, area: str
) -> tuple[AlertProposal, WarningIndicator] | None:
    """A proposal within ``area`` with its indicator, the proposal locked for this
    transaction."""
    query = (
        select(AlertProposal, WarningIndicator)
        .join(WarningIndicator, WarningIndicator.id == AlertProposal.indicator_id)
        .where(AlertProposal.id == proposal_id, AlertProposal.area_code.like(area + "%"))
        .with_for_update(of=AlertProposal)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1])

"""All SQL of the audit endpoints' reads: checkpoints, the log's pages, the cases as of a
moment and the activity over a period (the log's own upkeep is :mod:`app.audit.log`). Every
query on cases is within the caller's area."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import Checkpoint, LogEntry
from app.cases.models import Case, CaseEvent
from app.cases.repository import in_area


async def latest_signed(session: AsyncSession) -> Checkpoint | None:
    """The newest checkpoint with a signed note."""
    query = (
        select(Checkpoint)
        .where(Checkpoint.note_signature.is_not(None))
        .order_by(Checkpoint.tree_size.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def checkpoints(
    session: AsyncSession, before: int | None, limit: int
) -> Sequence[Checkpoint]:
    """Checkpoints, largest tree first (below ``before`` when given)."""
    query = select(Checkpoint).order_by(Checkpoint.tree_size.desc()).limit(limit)
    if before is not None:
        query = query.where(Checkpoint.tree_size < before)
    return (await session.execute(query)).scalars().all()


async def event_hash_at(session: AsyncSession, log_index: int) -> str | None:
    """The hash of the event the log holds at ``log_index``."""
    query = (
        select(CaseEvent.hash)
        .join(LogEntry, LogEntry.event_id == CaseEvent.id)
        .where(LogEntry.log_index == log_index)
    )
    return await session.scalar(query)


async def log_page(session: AsyncSession, after: int, limit: int) -> list[tuple[int, CaseEvent]]:
    """The log's entries after index ``after``, in index order."""
    query = (
        select(LogEntry.log_index, CaseEvent)
        .join(CaseEvent, CaseEvent.id == LogEntry.event_id)
        .where(LogEntry.log_index > after)
        .order_by(LogEntry.log_index)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def cases_as_of(
    session: AsyncSession,
    scope: str,
    as_of: datetime,
    *,
    area: str | None,
    state: str | None,
    after: str | None,
    limit: int,
) -> list[tuple[str, str, str, str, int]]:
    """Each case of ``scope`` that existed at ``as_of`` (id, area, channel, the state it then
    stood in, its version then), by id, from its trail."""
    last = (
        select(CaseEvent.case_id, func.max(CaseEvent.seq).label("seq"))
        .where(CaseEvent.occurred_at <= as_of)
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    query = (
        select(Case.id, Case.area_code, Case.channel, CaseEvent.to_state, CaseEvent.seq)
        .join(last, last.c.case_id == Case.id)
        .join(CaseEvent, (CaseEvent.case_id == Case.id) & (CaseEvent.seq == last.c.seq))
        .where(in_area(Case.area_code, scope))
        .order_by(Case.id)
        .limit(limit)
    )
    if area:
        query = query.where(in_area(Case.area_code, area))
    if state:
        query = query.where(CaseEvent.to_state == state)
    if after:
        query = query.where(Case.id > after)
    return [(r[0], r[1], r[2], r[3], r[4]) for r in (await session.execute(query)).all()]


def activity_conditions(
    scope: str,
    *,
    actor: str | None,
    area: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[Any]:
    """The period, actor and area filters of the activity reads, as SQL conditions (always
    within ``scope``); ``until`` is exclusive."""
    conditions = [in_area(Case.area_code, scope)]
    if actor:
        conditions.append(CaseEvent.actor_sub == actor)
    if area:
        conditions.append(in_area(Case.area_code, area))
    if since:
        conditions.append(CaseEvent.occurred_at >= since)
    if until:
        conditions.append(CaseEvent.occurred_at < until)
    return conditions


async def activity(
    session: AsyncSession, conditions: list[Any], after: int, limit: int
) -> list[tuple[int | None, CaseEvent]]:
    """Events meeting ``conditions`` after event id ``after``, oldest first, each with its log
    index (none while not yet sequenced)."""
    query = (
        select(LogEntry.log_index, CaseEvent)
        .join(Case, Case.id == CaseEvent.case_id)
        .outerjoin(LogEntry, LogEntry.event_id == CaseEvent.id)
        .where(*conditions, CaseEvent.id > after)
        .order_by(CaseEvent.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def activity_summary(
    session: AsyncSession, conditions: list[Any]
) -> list[tuple[str, str, str, int]]:
    """Counts of the events meeting ``conditions`` per actor (subject, role) and action."""
    query = (
        select(CaseEvent.actor_sub, CaseEvent.actor_role, CaseEvent.name, func.count())
        .join(Case, Case.id == CaseEvent.case_id)
        .where(*conditions)
        .group_by(CaseEvent.actor_sub, CaseEvent.actor_role, CaseEvent.name)
        .order_by(CaseEvent.actor_sub, CaseEvent.name)
    )
    return [(r[0], r[1], r[2], r[3]) for r in (await session.execute(query)).all()]

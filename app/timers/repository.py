"""All SQL about timers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.direct import DirectInsert
from app.timers.models import Timer

NOTICE_END = "notice_end"
IDENTIFICATION_DEADLINE = "identification_deadline"


async def schedule(
    session: AsyncSession,
    case_id: str,
    kind: str,
    due_at: datetime,
    now: datetime,
    procedure: str | None = None,
) -> None:
    """Schedule work in the same transaction as the change that calls for it."""
    await INSERT_TIMER.run(session, timer_row(case_id, kind, due_at, now, procedure))


def timer_row(
    case_id: str, kind: str, due_at: datetime, now: datetime, procedure: str | None = None
) -> dict[str, Any]:
    """A timer's row, for :data:`INSERT_TIMER` (or for a write that carries it along:
    ``app.core.direct.Chained``'s ``also``)."""
    return {
        "case_id": case_id,
        "kind": kind,
        "procedure": procedure,
        "due_at": due_at,
        "created_at": now,
    }


INSERT_TIMER = DirectInsert(cast(Table, Timer.__table__))


async def claim_due(session: AsyncSession, now: datetime) -> Timer | None:
    """The oldest due timer nobody else holds; locked until this transaction ends.

    ``SKIP LOCKED`` lets several workers on PostgreSQL take different timers at once; on
    SQLite the transaction began ``IMMEDIATE``, so workers take turns.
    """
    query = (
        select(Timer)
        .where(Timer.fired_at.is_(None), Timer.due_at <= now)
        .order_by(Timer.due_at, Timer.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def of_case(session: AsyncSession, case_id: str) -> list[Timer]:
    query = select(Timer).where(Timer.case_id == case_id).order_by(Timer.due_at, Timer.id)
    return list((await session.execute(query)).scalars())

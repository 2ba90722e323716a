"""All SQL of the warning batches' reads: batches, their rows and the departments' feedback
(uploading and distributing are :mod:`app.department_warnings.service`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.models import Case
from app.department_warnings.models import DepartmentWarning, WarningBatch, WarningDisposition


async def batches(
    session: AsyncSession,
    area: str,
    *,
    sender: str | None,
    since: datetime | None,
    limit: int,
) -> Sequence[WarningBatch]:
    """Batches within ``area`` (of one sender, uploaded from ``since``, when asked), newest
    first."""
    query = (
        select(WarningBatch)
        .where(WarningBatch.area_code.like(area + "%"))
        .order_by(WarningBatch.uploaded_at.desc())
        .limit(limit)
    )
    if sender is not None:
        query = query.where(WarningBatch.sender == sender)
    if since is not None:
        query = query.where(WarningBatch.uploaded_at >= since)
    return (await session.execute(query)).scalars().all()


async def rows(
    session: AsyncSession, batch_id: str, *, status: str | None, after: int, limit: int
) -> Sequence[DepartmentWarning]:
    """A batch's rows after line ``after``, by line (of one status when asked)."""
    query = (
        select(DepartmentWarning)
        .where(DepartmentWarning.batch_id == batch_id, DepartmentWarning.line > after)
        .order_by(DepartmentWarning.line)
        .limit(limit)
    )
    if status is not None:
        query = query.where(DepartmentWarning.status == status)
    return (await session.execute(query)).scalars().all()


async def feedback(session: AsyncSession, batch_id: str, after: int, limit: int) -> list[Any]:
    """A batch's accepted rows after line ``after``, by line, each with the city's
    disposition and the state and monitoring type of the case it went to (if any)."""
    query = (
        select(DepartmentWarning, WarningDisposition, Case.state, Case.monitoring_type)
        .outerjoin(
            WarningDisposition,
            (WarningDisposition.batch_id == DepartmentWarning.batch_id)
            & (WarningDisposition.line == DepartmentWarning.line),
        )
        .outerjoin(Case, Case.id == WarningDisposition.case_id)
        .where(
            DepartmentWarning.batch_id == batch_id,
            DepartmentWarning.status == "accepted",
            DepartmentWarning.line > after,
        )
        .order_by(DepartmentWarning.line)
        .limit(limit)
    )
    return list((await session.execute(query)).all())

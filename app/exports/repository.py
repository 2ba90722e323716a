"""All SQL of the exports' endpoints: batches, acknowledgments, sync status, the ledger and the
quality report. (The export's own stream is :mod:`app.exports.national`; the documents'
upkeep :mod:`app.exports.document`.) Area scoping is part of every query that lists cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.areas.models import Area
from app.cases.models import Case
from app.cases.repository import in_area
from app.exports import national
from app.exports.models import ExportBatch, ExportItem, NationalDocument, NationalSync
from app.households.models import Household

SYNC_STATUSES = ("not_exportable", "pending", "exported", "accepted", "rejected")


async def last_batch_of(session: AsyncSession, subject: str) -> ExportBatch | None:
    """The newest batch ``subject`` exported: where its own cursor stands."""
    query = (
        select(ExportBatch)
        .where(ExportBatch.created_by == subject)
        .order_by(ExportBatch.number.desc())
        .limit(1)
    )
    return await session.scalar(query)


async def next_batch_number(session: AsyncSession) -> int:
    """The batch's number; exports run one at a time (PostgreSQL: an advisory lock held to
    the end of the export's transaction; SQLite serialises writers)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": national.EXPORT_LOCK}
        )
    last = await session.scalar(select(func.max(ExportBatch.number)))
    return (last or 0) + 1


async def batches(session: AsyncSession, limit: int) -> Sequence[ExportBatch]:
    """Completed batches, newest first."""
    query = select(ExportBatch).order_by(ExportBatch.number.desc()).limit(limit)
    return (await session.execute(query)).scalars().all()


async def cases_by_id(session: AsyncSession, ids: list[str]) -> dict[str, Case]:
    found = await session.execute(select(Case).where(Case.id.in_(ids)))
    return {c.id: c for c in found.scalars()}


async def newest_batch_of(session: AsyncSession, ids: list[str], since: int) -> dict[str, int]:
    """The newest batch (from number ``since`` on) that sent each of these cases."""
    query = (  # batch by batch from this one: there are few
        select(ExportItem.case_id, func.max(ExportItem.batch_number))
        .join(ExportBatch, ExportBatch.number == ExportItem.batch_number)
        .where(ExportBatch.number >= since, ExportItem.case_id.in_(ids))
        .group_by(ExportItem.case_id)
    )
    return dict((await session.execute(query)).all())  # pairs: case id, number


async def syncs_locked(session: AsyncSession, ids: list[str]) -> dict[str, NationalSync]:
    """The national system's last answers on these cases, locked for this transaction."""
    query = select(NationalSync).where(NationalSync.case_id.in_(ids)).with_for_update()
    return {s.case_id: s for s in (await session.execute(query)).scalars()}


async def last_sent(session: AsyncSession, case_id: str) -> tuple[int, str, datetime] | None:
    """The version of the case the newest batch sent, that batch's id and completion."""
    query = (
        select(ExportItem.version, ExportBatch.id, ExportBatch.completed_at)
        .join(ExportBatch, ExportBatch.number == ExportItem.batch_number)
        .where(ExportItem.case_id == case_id)
        .order_by(ExportBatch.number.desc())
        .limit(1)
    )
    row = (await session.execute(query)).first()
    return None if row is None else (row[0], row[1], row[2])


async def sync_status(
    session: AsyncSession, scope: str, *, refused: int = 100
) -> tuple[dict[str, int], int, list[tuple[str, str, str, str | None]]]:
    """The area's cases by national sync status, how many changed since what was sent, and
    the first ``refused`` cases the national system rejected in their newest batch (by
    village): id, head's name, village, reason."""
    newest = (
        select(ExportItem.case_id, func.max(ExportItem.batch_number).label("number"))
        .group_by(ExportItem.case_id)
        .subquery()
    )
    sent = aliased(ExportItem)
    status = case(
        (NationalSync.status.is_not(None), NationalSync.status),
        (newest.c.number.is_not(None), literal("exported")),
        (NationalDocument.case_id.is_not(None), literal("pending")),
        else_=literal("not_exportable"),
    )

    def joined(*columns: Any) -> Any:
        return (
            select(*columns)
            .select_from(Case)
            .outerjoin(NationalDocument, NationalDocument.case_id == Case.id)
            .outerjoin(newest, newest.c.case_id == Case.id)
            .outerjoin(sent, and_(sent.case_id == Case.id, sent.batch_number == newest.c.number))
            .outerjoin(ExportBatch, ExportBatch.number == newest.c.number)
            .outerjoin(
                NationalSync,
                and_(NationalSync.case_id == Case.id, NationalSync.batch_id == ExportBatch.id),
            )
            .where(in_area(Case.area_code, scope))
        )

    counted = joined(
        status.label("status"),
        func.count(),
        func.sum(case((sent.version < Case.version, 1), else_=0)),
    ).group_by(status)
    by_status = dict.fromkeys(SYNC_STATUSES, 0)
    changed = 0
    for name, n, moved in (await session.execute(counted)).all():
        by_status[name] = int(n)
        changed += int(moved or 0)
    rejected = (
        joined(Case.id, Household.head_name, Case.area_code, NationalSync.reason)
        .join(Household, Household.id == Case.household_id)
        .where(NationalSync.status == "rejected")
        .order_by(Case.area_code, Case.id)
        .limit(refused)
    )
    rows = [(i, n, v, r) for i, n, v, r in (await session.execute(rejected)).all()]
    return by_status, changed, rows


async def last_export_at(session: AsyncSession) -> datetime | None:
    return (await session.execute(select(func.max(ExportBatch.completed_at)))).scalar_one()


def ledger(scope: str) -> Select[Any]:
    """监测对象台账's rows: each confirmed case of the area with its household, the names of
    its county, township and village, and its national document, by village."""
    village, township, county = aliased(Area), aliased(Area), aliased(Area)
    township_code = func.substr(Household.village_code, 1, 9)
    return (
        select(
            Case.id,
            county.name,
            township_code,
            township.name,
            Household.village_code,
            village.name,
            Household.head_name,
            Household.head_id_number_masked,
            Household.size,
            Case.state,
            NationalDocument.document,
        )
        .join(NationalDocument, NationalDocument.case_id == Case.id)
        .join(Household, Household.id == Case.household_id)
        .outerjoin(village, village.code == Household.village_code)
        .outerjoin(township, township.code == township_code)
        .outerjoin(county, county.code == func.substr(Household.village_code, 1, 6))
        .where(in_area(Case.area_code, scope))
        .order_by(Household.village_code, Case.id)
    )


def documents(scope: str) -> Select[str, str]:
    """The area's national documents (case id, document), by village: the quality report's."""
    return (
        select(NationalDocument.case_id, NationalDocument.document)
        .where(in_area(NationalDocument.area_code, scope))
        .order_by(NationalDocument.area_code, NationalDocument.case_id)
    )

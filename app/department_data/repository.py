"""All SQL about department data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.blind import ROTATED, BlindIndex, BlindIndexAlias, equivalents, stale
from app.core.direct import DirectRow
from app.department_data.models import DepartmentRecord, DepartmentSnapshot


async def snapshot_by_digest(
    session: AsyncSession, dataset: str, sha256: str
) -> DepartmentSnapshot | None:
    query = select(DepartmentSnapshot).where(
        DepartmentSnapshot.dataset == dataset, DepartmentSnapshot.sha256 == sha256
    )
    return (await session.execute(query)).scalars().first()


async def add_snapshot(
    session: AsyncSession, snapshot: DepartmentSnapshot, records: list[dict[str, Any]]
) -> None:
    session.add(snapshot)
    await session.flush()
    if records:
        await session.execute(insert(DepartmentRecord), records)


async def latest_records(
    session: AsyncSession, people: Iterable[str]
) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str]]:
    """Records of these people (their digests) in the newest snapshot of every dataset, and
    those snapshots. A digest made under an older key meets the records through its aliases
    (``app.core.blind.equivalents``); whether a key was ever rotated comes with the snapshots,
    and nothing more is asked when there are none."""
    newest = await _NEWEST_SNAPSHOTS.all(session, {})
    snapshots = [snapshot for snapshot, _ in newest]
    if not snapshots:
        return [], []
    digests = await equivalents(session, people, rotated=bool(newest[0][1]))
    if not digests:
        return [], sorted(snapshots)
    found = await session.execute(_RECORDS, {"snapshots": snapshots, "digests": digests})
    rows = [(dataset, masked, attributes) for dataset, masked, attributes in found]
    return rows, sorted(snapshots)


_NEWEST = (
    select(DepartmentSnapshot.dataset, func.max(DepartmentSnapshot.imported_at).label("at"))
    .group_by(DepartmentSnapshot.dataset)
    .subquery()
)
_NEWEST_SNAPSHOTS = DirectRow(
    select(DepartmentSnapshot.id, ROTATED.label("rotated")).join(
        _NEWEST,
        (_NEWEST.c.dataset == DepartmentSnapshot.dataset)
        & (_NEWEST.c.at == DepartmentSnapshot.imported_at),
    )
)
"""Built and compiled once: the comparison runs on every submission to the city."""
_RECORDS = select(
    DepartmentRecord.dataset, DepartmentRecord.id_masked, DepartmentRecord.attributes
).where(
    DepartmentRecord.snapshot_id.in_(bindparam("snapshots", expanding=True)),
    DepartmentRecord.id_digest.in_(bindparam("digests", expanding=True)),
)


async def newest_snapshot(session: AsyncSession, dataset: str) -> DepartmentSnapshot | None:
    query = (
        select(DepartmentSnapshot)
        .where(DepartmentSnapshot.dataset == dataset)
        .order_by(DepartmentSnapshot.imported_at.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def records_of(session: AsyncSession, snapshot_id: str) -> list[tuple[str, dict[str, Any]]]:
    """A snapshot's records: each person's digest and attributes."""
    query = select(DepartmentRecord.id_digest, DepartmentRecord.attributes).where(
        DepartmentRecord.snapshot_id == snapshot_id
    )
    return [(digest, attributes) for digest, attributes in (await session.execute(query)).all()]


async def follow_aliases(session: AsyncSession, index: BlindIndex) -> tuple[int, int]:
    """After a re-key (app.core.blind): records take the current digest of the person their
    digest is an alias of. Answers how many moved, and how many are still under an older key
    (people not registered: they match again once their dataset is uploaded anew)."""
    target = aliased(BlindIndexAlias)
    followed = await session.execute(
        update(DepartmentRecord)
        .where(DepartmentRecord.id_digest.in_(select(target.digest)))
        .values(
            id_digest=select(target.current)
            .where(target.digest == DepartmentRecord.id_digest)
            .scalar_subquery()
        )
    )
    left = select(func.count()).where(stale(index, DepartmentRecord.id_digest))
    return cast(CursorResult[Any], followed).rowcount, (await session.execute(left)).scalar_one()

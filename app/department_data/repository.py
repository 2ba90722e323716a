"""All SQL about department data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import (
    JSON,
    CursorResult,
    String,
    any_,
    bindparam,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.blind import ROTATED, BlindIndex, BlindIndexAlias, others_of, stale
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
    those snapshots: one statement (:data:`_LATEST`) until a key is rotated, then two
    (below). A digest made under an older key meets the records through its aliases
    (``app.core.blind.others_of``, the same people as ``app.core.blind.equivalents`` finds).
    It reads only department data and the aliases, so it runs outside the request's
    transaction even while the step's move waits for the commit (``app.core.direct``): the
    move and the comparison's event are then still one statement, written alone.

    The aliases are read only where there are any. The statement that reads through them
    (:data:`_LATEST_THROUGH_ALIASES`) costs PostgreSQL about 0.3 ms of planning on every
    call: with the aliases' three subqueries its generic plan is estimated dearer than a
    plan made for the digests at hand, so PostgreSQL never keeps one (``pg_stat_statements``
    during ``bench.transitions``: 345 µs planned, 44 µs run). The records are therefore
    first read by the asked digests alone, with whether any alias exists
    (:data:`_LATEST`, planned once per connection); only where one does, after a key was
    rotated, is the read made again through them. (An alias written between the two reads
    changes nothing: the answer is then the one the comparison would have had a moment
    earlier.)"""
    params = {"digests": sorted(set(people))}
    rows = await _LATEST.all(session, params)
    if any(rotated for *_, rotated in rows):
        rows = await _LATEST_THROUGH_ALIASES.all(session, params)
    snapshots = sorted({snapshot for snapshot, *_ in rows})
    records = [
        (dataset, masked, attributes) for _, dataset, masked, attributes, *_ in rows if dataset
    ]
    return records, snapshots


def _latest(*, arrays: bool, through_aliases: bool) -> Any:
    """The read of :func:`latest_records` (parameter ``digests``): a row for each newest
    snapshot with no record of these people, and one for each record of theirs in it (the
    snapshot, the dataset, the masked number, the attributes). ``through_aliases``: the
    records of the other digests of the same people too; without, each row ends with
    whether any alias exists (a key was ever rotated). ``arrays``: the digests as one
    array parameter (PostgreSQL's ``= ANY``), else as SQLite's ``json_each`` of the list as
    JSON text (an ``IN`` list would be rendered and cached anew by SQLAlchemy for each
    call, through the session). Each half of the records
    is found by the index on the digest: the asked digests, then the others that stand for
    the same people (none unless a key was rotated)."""

    def asked(column: Any) -> Any:
        if arrays:
            return column == any_(bindparam("digests", type_=ARRAY(String)))
        # the list as JSON text, one parameter: compiled once and sent straight to SQLite
        listed = func.json_each(bindparam("digests", type_=JSON)).table_valued("value")
        return column.in_(select(listed.c.value))

    record = DepartmentRecord.__table__.c
    columns = (record.snapshot_id, record.dataset, record.id_masked, record.attributes)
    direct = select(*columns).where(asked(record.id_digest))
    theirs = (
        union_all(
            direct,
            select(*columns).where(
                record.id_digest.in_(others_of(asked)), ~asked(record.id_digest)
            ),
        )
        if through_aliases
        else direct
    ).subquery("theirs")
    newest = (
        select(DepartmentSnapshot.id)
        .join(
            _NEWEST,
            (_NEWEST.c.dataset == DepartmentSnapshot.dataset)
            & (_NEWEST.c.at == DepartmentSnapshot.imported_at),
        )
        .subquery("newest")
    )
    read = select(
        newest.c.id, theirs.c.dataset, theirs.c.id_masked, theirs.c.attributes
    ).select_from(newest.outerjoin(theirs, theirs.c.snapshot_id == newest.c.id))
    return read if through_aliases else read.add_columns(ROTATED.label("rotated"))


_NEWEST = (
    select(DepartmentSnapshot.dataset, func.max(DepartmentSnapshot.imported_at).label("at"))
    .group_by(DepartmentSnapshot.dataset)
    .subquery()
)
_LATEST = DirectRow(
    _latest(arrays=True, through_aliases=False),
    elsewhere=_latest(arrays=False, through_aliases=False),
)
"""Built and compiled once: the comparison runs on every submission to the city."""
_LATEST_THROUGH_ALIASES = DirectRow(
    _latest(arrays=True, through_aliases=True),
    elsewhere=_latest(arrays=False, through_aliases=True),
)
"""The same through the aliases, where any exists."""


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

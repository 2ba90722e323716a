"""All SQL about cases and their events (the registry's is app.households.repository). Area
scoping is part of every query."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    false,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.cases.errors import VersionMismatch
from app.cases.models import Case, CaseEvent
from app.cases.snapshot import SNAPSHOT_FIELDS, Snapshot
from app.core.direct import (
    Chained,
    Direct,
    DirectInsert,
    DirectRow,
    begin_with,
    waiting_write,
)
from app.core.errors import Unprocessable
from app.households.card import CARD_FIELDS, HouseholdCard
from app.households.models import Household, Member
from workflows.case import IDENTIFICATION_STATES, WORKFLOWS
from workflows.vocabulary import RiskType

CASE = cast(Table, Case.__table__)
EVENT = cast(Table, CaseEvent.__table__)
HOUSEHOLD = cast(Table, Household.__table__)


OPEN: Any = Case.is_open.expression
"""An open case, written as the bare column: the partial indexes are ``WHERE is_open``, and
PostgreSQL proves a query may use them from ``is_open`` (or ``= true``), not ``IS TRUE``."""


def in_area(column: Any, prefix: str) -> Any:
    """``column`` lies within the area ``prefix`` (codes are digits, so LIKE needs no escape)."""
    return column.like(prefix + "%") if prefix else column.is_not(None)


async def case_in_area(
    session: AsyncSession, case_id: str, area: str, *, lock: bool = False
) -> tuple[Snapshot, HouseholdCard] | None:
    """The case and its household if the case lies within ``area``; with ``lock``, the
    case's row locked for this transaction (the first statement of every write).

    Every request on a case begins here, so it is one round trip, straight to the driver
    where it is asyncpg (:class:`~app.core.direct.DirectRow`), read into a snapshot and a
    household card rather than ORM objects: no identity map to fill, flush and empty again
    at commit, and no earlier read of the case in the session to refresh."""
    statement = _LOCK if lock else _READ
    row = await statement.first(session, {"case_id": case_id, "area": area + "%"})
    if row is None:
        return None
    split = len(SNAPSHOT_FIELDS)
    snap, household = Snapshot(*row[:split]), HouseholdCard(*row[split:])
    session.info.setdefault(HELD_HOUSEHOLDS, {})[household.id] = household
    return snap, household


HELD_HOUSEHOLDS = "held_households"
"""Where a session keeps the households it read with their cases (``session.info``), for
the steps' effects that need one again in the same transaction (the data comparison)."""


def held_household(session: AsyncSession, household_id: str) -> HouseholdCard | None:
    """The household this session read already with its case, if any (no round trip)."""
    card: HouseholdCard | None = session.info.get(HELD_HOUSEHOLDS, {}).get(household_id)
    return card


_CASE_AND_HOUSEHOLD_COLUMNS = select(
    *(CASE.c[name] for name in SNAPSHOT_FIELDS),
    *(HOUSEHOLD.c[name] for name in CARD_FIELDS),
).join_from(CASE, HOUSEHOLD, HOUSEHOLD.c.id == CASE.c.household_id)
"""A case's snapshot and its household's card, in that order (:class:`Snapshot`,
:class:`HouseholdCard`)."""
_CASE_AND_HOUSEHOLD = _CASE_AND_HOUSEHOLD_COLUMNS.where(
    CASE.c.id == bindparam("case_id"), CASE.c.area_code.like(bindparam("area"))
)
"""Built and compiled once (statement building and its cache key were a measurable share
of every request's CPU). The area as a LIKE prefix ('%' for the city)."""
_READ = DirectRow(_CASE_AND_HOUSEHOLD)
_LOCK = DirectRow(_CASE_AND_HOUSEHOLD.with_for_update(of=CASE), begins=True)
_LOCK_AT = Direct(
    select(CASE.c.id)
    .where(CASE.c.id == bindparam("case_id"), CASE.c.version == bindparam("version"))
    .with_for_update()
)


def lock_when_begun(session: AsyncSession, case_id: str, version: int) -> None:
    """The case, read without its lock at ``version``, is locked as the first statement of the
    request's transaction, whenever it begins: 412 ``version_mismatch`` if it moved since
    (:func:`~app.core.direct.begin_with`). Its move (:func:`move_with_event`) takes the lock's
    place when it comes first."""
    begin_with(
        session,
        _LOCK_AT,
        {"case_id": case_id, "version": version},
        VersionMismatch,
        (case_id, version),
    )


async def last_event_at(session: AsyncSession, case_id: str, name: str) -> datetime | None:
    """When the case last recorded an event of this name (None: never)."""
    query = select(func.max(CaseEvent.occurred_at)).where(
        CaseEvent.case_id == case_id, CaseEvent.name == name
    )
    found: datetime | None = (await session.execute(query)).scalar_one()
    return found


async def has_event(session: AsyncSession, case_id: str, names: tuple[str, ...]) -> bool:
    """Whether the case's trail holds an event of one of these names."""
    query = select(CaseEvent.seq).where(CaseEvent.case_id == case_id, CaseEvent.name.in_(names))
    return (await session.execute(query.limit(1))).first() is not None


async def cases_in_states(
    session: AsyncSession, areas: tuple[str, ...], states: Any
) -> list[tuple[Case, Household]]:
    """The cases lying within every one of ``areas`` and in one of ``states``, each with its
    household, by area and opening."""
    query = (
        select(Case, Household)
        .join(Household, Household.id == Case.household_id)
        .where(*(in_area(Case.area_code, a) for a in areas), Case.state.in_(states))
        .order_by(Case.area_code, Case.opened_at)
    )
    return [(case, household) for case, household in (await session.execute(query)).all()]


async def open_case_of(session: AsyncSession, household_id: str) -> Case | None:
    query = select(Case).where(Case.household_id == household_id, Case.is_open).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def other_open_cases(session: AsyncSession, household_id: str, case_id: str) -> int:
    query = select(func.count()).where(
        Case.household_id == household_id, Case.is_open, Case.id != case_id
    )
    return int((await session.execute(query)).scalar_one())


async def cases_of_household(session: AsyncSession, household_id: str) -> list[tuple[str, bool]]:
    """The household's cases, oldest first, and whether each is open: one read, outside the
    request's transaction when nothing began it (:class:`~app.core.direct.DirectRow`)."""
    return [
        (case_id, bool(is_open))
        for case_id, is_open in await _CASES_OF.all(session, {"household": household_id})
    ]


_CASES_OF = DirectRow(
    select(CASE.c.id, CASE.c.is_open)
    .where(CASE.c.household_id == bindparam("household"))
    .order_by(CASE.c.opened_at)
)


async def case_ids_of(session: AsyncSession, household_id: str) -> list[str]:
    query = select(Case.id).where(Case.household_id == household_id).order_by(Case.opened_at)
    return list((await session.execute(query)).scalars())


_INSERT_CASE = DirectInsert(CASE)
"""Openings' INSERTs, compiled once, in the request's transaction (as the appends' are)."""


async def insert_with_event(
    session: AsyncSession,
    values: dict[str, Any],
    event: dict[str, Any],
    also: Sequence[tuple[DirectInsert, dict[str, Any]]] = (),
    *,
    alone: bool = False,
) -> None:
    """A new case, already in the state its first event moved it to, and that event (and the
    rows ``also`` gives, of other tables: its first timer, a new household): on PostgreSQL
    one round trip (:class:`~app.core.direct.Chained`); ``alone``, as its own transaction."""
    inserted = await _WITH_EVENT.run(
        session, _INSERT_CASE.of(tuple(values)), values, event, also=also, alone=alone
    )
    assert inserted  # an INSERT of one row writes it or raises


async def move_with_event(
    session: AsyncSession,
    case_id: str,
    expected_version: int,
    moving: dict[str, Any],
    event: dict[str, Any],
) -> bool:
    """Write the case's new state and append its event, only if nobody moved the case since
    it was read (False: nothing is written). On PostgreSQL one round trip: the guarded UPDATE
    and the event's INSERT in one statement, so the event exists only with the move; on
    SQLite one call on aiosqlite's thread (:class:`~app.core.direct.Chained`). Each statement
    is built and compiled once per column list and sent straight to the driver."""
    statement = _advance_statement(tuple(moving))
    leaves = (case_id, expected_version + 1)
    waiting = waiting_write(session, (case_id, expected_version))
    if waiting is not None:  # the step's earlier move (its effect's event follows it) waits
        _, read = waiting.key  # both as one move from the version the request read
        if _WITH_EVENT.follow(
            session, waiting, statement, _guarded(case_id, read, moving), event, leaves
        ):
            return True
    return await _WITH_EVENT.run(
        session,
        statement,
        _guarded(case_id, expected_version, moving),
        event,
        takes_lock=(case_id, expected_version),
        leaves=leaves,
        refused=VersionMismatch,
    )


async def advance_case(
    session: AsyncSession, case_id: str, expected_version: int, values: dict[str, Any]
) -> bool:
    """Write the case's new state only if nobody moved it since it was read."""
    statement = _advance_statement(tuple(values))
    return await statement.rowcount(session, _guarded(case_id, expected_version, values)) == 1


def _advance_statement(names: tuple[str, ...]) -> Direct:
    statement = _ADVANCE.get(names)
    if statement is None:
        statement = _ADVANCE[names] = Direct(_advance(names))
    return statement


def _guarded(case_id: str, expected_version: int, values: dict[str, Any]) -> dict[str, Any]:
    """The guarded UPDATE's parameters (:func:`_advance`): the new values, and the case with
    the version it must still have."""
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(w_id=case_id, w_version=expected_version)
    return params


def _advance(names: tuple[str, ...]) -> Any:
    return (
        update(CASE)
        .where(CASE.c.id == bindparam("w_id"), CASE.c.version == bindparam("w_version"))
        .values({name: bindparam(f"v_{name}") for name in names})
    )


_WITH_EVENT = Chained(EVENT)
"""A case's write with its event (a move, or an opening)."""
_ADVANCE: dict[tuple[str, ...], Direct] = {}
"""The write path's statements, built and compiled once per column list."""


async def events_of(session: AsyncSession, case_id: str) -> Sequence[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
    return (await session.execute(query)).scalars().all()


def encode_cursor(opened_at: datetime, case_id: str) -> str:
    raw = json.dumps([opened_at.isoformat(), case_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        opened_at, case_id = json.loads(base64.urlsafe_b64decode(padded))
        moment = datetime.fromisoformat(opened_at)
        if moment.tzinfo is None or "\x00" in str(case_id):
            raise ValueError("not a cursor of this service")
        return moment, str(case_id)
    except (ValueError, TypeError) as exc:
        raise Unprocessable("invalid_cursor", "The cursor is not one this service gave.") from exc


def filters(
    *,
    caller_area: str,
    area: str | None,
    state: str | None,
    channel: str | None,
    monitoring_type: str | None,
    name: str | None,
    id_digests: list[str] | None,
) -> list[Any]:
    """The conditions the case list and the inbox share: the caller's area (and a part of
    it), state, channel, type, and a member by the start of a name or a full ID number."""
    conditions = [in_area(Case.area_code, caller_area)]
    if area:
        conditions.append(in_area(Case.area_code, area))
    if state:
        conditions.append(Case.state == state)
    if channel:
        conditions.append(Case.channel == channel)
    if monitoring_type:
        conditions.append(Case.monitoring_type == monitoring_type)
    if name:
        members = select(Member.household_id).where(Member.name.startswith(name, autoescape=True))
        conditions.append(
            or_(
                Household.head_name.startswith(name, autoescape=True),
                Case.household_id.in_(members),
            )
        )
    if id_digests:
        conditions.append(
            Case.household_id.in_(
                select(Member.household_id).where(Member.id_digest.in_(id_digests))
            )
        )
    return conditions


async def list_cases(
    session: AsyncSession,
    *,
    caller_area: str,
    area: str | None,
    state: str | None,
    channel: str | None,
    monitoring_type: str | None,
    overdue_at: datetime | None,
    measures_overdue_at: datetime | None,
    acceptance_overdue_at: datetime | None,
    cursor: str | None,
    limit: int,
    measures_due: bool = False,
    elimination_due_at: datetime | None = None,
    name: str | None = None,
    id_digests: list[str] | None = None,
    with_total: bool = False,
) -> tuple[list[tuple[Snapshot, HouseholdCard]], str | None, int | None]:
    """A page of cases in the caller's area, oldest first, keyset-paginated; with the number
    of cases matching the filters (every page's, not this page's) when asked. Read as the
    inbox reads its page (:func:`inbox`)."""
    conditions = filters(
        caller_area=caller_area,
        area=area,
        state=state,
        channel=channel,
        monitoring_type=monitoring_type,
        name=name,
        id_digests=id_digests,
    )
    if overdue_at is not None:
        conditions += [
            Case.state.in_(IDENTIFICATION_STATES),
            Case.identification_due_at <= overdue_at,
        ]
    if measures_overdue_at is not None:
        conditions.append(Case.measures_due_at <= measures_overdue_at)
    if acceptance_overdue_at is not None:
        conditions.append(Case.acceptance_due_at <= acceptance_overdue_at)
    if measures_due:
        conditions.append(Case.measures_due_at.is_not(None))
    if elimination_due_at is not None:
        conditions.append(Case.elimination_due_at <= elimination_due_at)
    total = None
    if with_total:
        counted = (
            select(func.count())
            .select_from(Case)
            .join(Household, Household.id == Case.household_id)
            .where(*conditions)
        )
        total = (await session.execute(counted)).scalar_one()
    if cursor:
        after_time, after_id = decode_cursor(cursor)
        conditions.append(
            or_(Case.opened_at > after_time, and_(Case.opened_at == after_time, Case.id > after_id))
        )
    query = (
        _CASE_AND_HOUSEHOLD_COLUMNS.where(*conditions)
        .order_by(Case.opened_at, Case.id)
        .limit(limit + 1)
    )
    rows = await _snapshots_and_cards(session, query)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1][0]
        next_cursor = encode_cursor(last.opened_at, last.id)
    return rows, next_cursor, total


def actionable_states(role: str) -> dict[str, set[str]]:
    """By workflow version, the states in which ``role`` may fire an action: the inbox's
    role x state (``ix`` on state serves it)."""
    return {
        version: {source for step in flow.steps if role in step.roles for source in step.sources}
        for version, flow in WORKFLOWS.items()
    }


async def inbox(
    session: AsyncSession,
    *,
    caller_area: str,
    role: str,
    area: str | None,
    state: str | None,
    channel: str | None,
    monitoring_type: str | None,
    name: str | None,
    id_digests: list[str] | None,
    limit: int,
) -> tuple[list[tuple[Snapshot, HouseholdCard]], int]:
    """The caller's work: open cases in their area whose state lets their role act, the
    nearest deadline first (``Case.due_at``); with their number. Read as columns into
    snapshots and household cards, as a single case is (:func:`case_in_area`): with a page
    of ORM objects an inbox of 100 cases cost 29% more instructions (81.1 M against 62.8)."""
    by_version = actionable_states(role)
    conditions = [
        *filters(
            caller_area=caller_area,
            area=area,
            state=state,
            channel=channel,
            monitoring_type=monitoring_type,
            name=name,
            id_digests=id_digests,
        ),
        OPEN,
        or_(
            false(),  # a role that acts in no state has an empty inbox
            *(
                and_(Case.workflow_version == version, Case.state.in_(sorted(states)))
                for version, states in by_version.items()
                if states
            ),
        ),
    ]
    # every case has its household: the count needs only the case's own columns, read from
    # ix_case_open_state_area (each of the role's states narrowed to the area), unless the
    # name filter reads the household's head
    counted = select(func.count()).select_from(Case).where(*conditions)
    if name:
        counted = counted.join(Household, Household.id == Case.household_id)
    total = (await session.execute(counted)).scalar_one()
    # the nearest deadline first: read in the order of ix_case_inbox_order, stopping at limit
    nearest_first = (Case.due_at.asc().nulls_last(), Case.opened_at, Case.id)
    query = _CASE_AND_HOUSEHOLD_COLUMNS.where(*conditions).order_by(*nearest_first).limit(limit)
    return await _snapshots_and_cards(session, query), total


async def _snapshots_and_cards(
    session: AsyncSession, query: Any
) -> list[tuple[Snapshot, HouseholdCard]]:
    """The rows of a query of :data:`_CASE_AND_HOUSEHOLD_COLUMNS`, each a case's snapshot and
    its household's card."""
    split = len(SNAPSHOT_FIELDS)
    rows = (await session.execute(query)).all()
    return [(Snapshot(*row[:split]), HouseholdCard(*row[split:])) for row in rows]


async def counts(
    session: AsyncSession, caller_area: str, area: str | None, now: datetime
) -> dict[str, Any]:
    """The dashboard's numbers for the caller's area (or a part of it): open cases by state,
    monitoring type, channel and village, and how many are late in each way."""
    scope = [in_area(Case.area_code, caller_area), OPEN]
    if area:
        scope.append(in_area(Case.area_code, area))

    async def grouped(column: Any) -> dict[str, int]:
        rows = await session.execute(select(column, func.count()).where(*scope).group_by(column))
        return {str(key): int(n) for key, n in rows.all() if key is not None}

    async def count(*extra: Any) -> int:
        counted = select(func.count()).select_from(Case).where(*scope, *extra)
        return int((await session.execute(counted)).scalar_one())

    risks = [
        func.coalesce(func.sum(case((Case.risk_types.like(f"%,{risk.value},%"), 1), else_=0)), 0)
        for risk in RiskType
    ]
    by_risk = (await session.execute(select(*risks).where(*scope))).one()
    return {
        "by_risk_type": {r.value: int(n) for r, n in zip(RiskType, by_risk, strict=True) if n},
        "measures_due": await count(Case.measures_due_at.is_not(None)),
        "notices_ended": await count(Case.notice_ends_at <= now),
        "elimination_due": await count(Case.elimination_due_at <= now),
        "by_state": await grouped(Case.state),
        "by_monitoring_type": await grouped(Case.monitoring_type),
        "by_channel": await grouped(Case.channel),
        "by_village": await grouped(Case.area_code),
        "identification_overdue": await count(
            Case.state.in_(IDENTIFICATION_STATES), Case.identification_due_at <= now
        ),
        "measures_overdue": await count(Case.measures_due_at <= now),
        "acceptance_overdue": await count(Case.acceptance_due_at <= now),
        "open": await count(),
    }

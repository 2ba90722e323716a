"""All SQL about households and their members, the registry's own (cases read them through
it). Area scoping is the caller's: these answer by key or by digest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import String, Table, any_, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from app.core.direct import Chained, DirectInsert, DirectRow
from app.households.card import CARD_FIELDS, HouseholdCard
from app.households.models import Household, Member


async def household_of_person(session: AsyncSession, digests: list[str]) -> HouseholdCard | None:
    """The household a person is a registered member of (the head is one too), by the
    person's digests under every listed key (app.core.blind)."""
    row = await _HOUSEHOLD_OF_PERSON.first(session, {"digests": digests})
    return None if row is None else HouseholdCard(*row)


def _household_of_person(match: Any) -> Any:
    return (
        select(*(HOUSEHOLD.c[name] for name in CARD_FIELDS))
        .join(MEMBER, MEMBER.c.household_id == HOUSEHOLD.c.id)
        .where(match)
        .limit(1)
    )


HOUSEHOLD = cast(Table, Household.__table__)
MEMBER = cast(Table, Member.__table__)
_HOUSEHOLD_OF_PERSON = DirectRow(
    _household_of_person(MEMBER.c.id_digest == any_(bindparam("digests", type_=ARRAY(String)))),
    elsewhere=_household_of_person(MEMBER.c.id_digest.in_(bindparam("digests", expanding=True))),
)
"""Compiled once: every opening asks it."""


async def members_of(session: AsyncSession, household_id: str) -> Sequence[Member]:
    query = select(Member).where(Member.household_id == household_id).order_by(Member.created_at)
    return (await session.execute(query)).scalars().all()


async def members_head_first(session: AsyncSession, household_id: str) -> Sequence[Member]:
    """The household's members, its head first, then by birth date."""
    query = (
        select(Member)
        .where(Member.household_id == household_id)
        .order_by(Member.relation != "head", Member.birth_date)
    )
    return (await session.execute(query)).scalars().all()


async def labour_counts(session: AsyncSession, household_id: str) -> tuple[int, int]:
    """Members who can work (skilled, ordinary, weak), and members whose skill is unknown."""
    skill = Member.labour_skill
    query = select(
        func.count().filter(skill.in_(("skilled", "ordinary", "weak"))),
        func.count().filter(skill.is_(None)),
    ).where(Member.household_id == household_id)
    labour, unknown = (await session.execute(query)).one()
    return int(labour), int(unknown)


async def village_and_household_of_person(
    session: AsyncSession, code: str, digests: list[str]
) -> tuple[bool, HouseholdCard | None]:
    """Whether ``code`` is a village, and the household a person is a registered member of
    (:func:`household_of_person`): one round trip, as every registration asks both before
    anything else (an opening asks them with the policy in effect: ``app.cases.opening``)."""
    return village_and_household(
        await _VILLAGE_AND_PERSON.first(session, {"code": code, "digests": digests})
    )


def village_and_person(*, arrays: bool) -> Any:
    """The read of :func:`village_and_household_of_person` (parameters ``code`` and
    ``digests``), for a read that asks more beside it; ``arrays``: the digests as one array
    parameter (PostgreSQL's ``= ANY``), else as an ``IN`` list. Its rows answer through
    :func:`village_and_household`, and any further columns follow its own."""
    if arrays:
        match = MEMBER.c.id_digest == any_(bindparam("digests", type_=ARRAY(String)))
    else:
        match = MEMBER.c.id_digest.in_(bindparam("digests", expanding=True))
    person = _household_of_person(match).subquery("person")
    return (
        select(_AREA.c.code, *(person.c[name] for name in CARD_FIELDS))
        .select_from(_AREA.outerjoin(person, true()))
        .where(_AREA.c.code == bindparam("code"), _AREA.c.level == "village")
    )


def village_and_household(row: Sequence[Any] | None) -> tuple[bool, HouseholdCard | None]:
    """A row of :func:`village_and_person`: no row is no such village; a row whose household
    columns are empty, a person registered in no household."""
    if row is None:
        return False, None
    card = row[1 : 1 + len(CARD_FIELDS)]
    return True, None if card[0] is None else HouseholdCard(*card)


_AREA = cast(Table, Area.__table__)
_VILLAGE_AND_PERSON = DirectRow(
    village_and_person(arrays=True), elsewhere=village_and_person(arrays=False)
)
"""Compiled once: every registration asks it."""


async def insert_household(
    session: AsyncSession, values: dict[str, Any], head: dict[str, Any]
) -> None:
    """A new household and its head, its first member: on PostgreSQL one round trip
    (:class:`~app.core.direct.Chained`)."""
    household = _INSERT_HOUSEHOLD.of(tuple(values))
    inserted = await _WITH_HEAD.run(session, household, values, head)
    assert inserted  # an INSERT of one row writes it or raises


def rows_along(
    values: dict[str, Any], head: dict[str, Any]
) -> list[tuple[DirectInsert, dict[str, Any]]]:
    """A new household and its head as rows another statement writes along with its own
    (``Chained.run``'s ``also``): the opening of its first case, written alone."""
    return [(_INSERT_HOUSEHOLD, values), (_WITH_HEAD.then, head)]


_INSERT_HOUSEHOLD = DirectInsert(cast(Table, Household.__table__))
_WITH_HEAD = Chained(cast(Table, Member.__table__))
"""Compiled once, in the request's transaction (as the case's appends are)."""


async def households_per_area(
    session: AsyncSession, digests: Sequence[str], area: str, length: int
) -> list[tuple[str, int]]:
    """How many households within ``area`` have a member among these digests, per area code
    cut to ``length`` (9: township, 12: village)."""
    per = func.substr(Household.village_code, 1, length)
    query = (
        select(per, func.count(func.distinct(Household.id)))
        .join(Member, Member.household_id == Household.id)
        .where(Member.id_digest.in_(list(digests)), Household.village_code.like(area + "%"))
        .group_by(per)
    )
    return [(code, count) for code, count in (await session.execute(query)).all()]

"""Opening rounds of screening work, recording visits, and counting progress."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, case, func, insert, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.areas.models import Area
from app.auth.permissions import permit
from app.auth.tokens import Principal
from app.cases import opening
from app.households.models import Household
from app.screening.errors import (
    AlreadyScreened,
    AreasNested,
    AreasOutside,
    ConcurrentVisit,
    FindingWithoutNote,
    FindingWithoutRisk,
    HouseholdNotInScope,
    HouseholdNotVisible,
    RoundNotFound,
    UnknownAreas,
    VisitInFuture,
    VisitOutsideRound,
)
from app.screening.models import ScreeningRound, ScreeningTask, ScreeningVisit
from workflows.calendar import local_date
from workflows.case import CURRENT as CURRENT_WORKFLOW
from workflows.case import OPEN_ACTIONS
from workflows.permissions import Permission
from workflows.vocabulary import Channel, ScreeningResult


def overlaps(codes: list[str], area: str) -> bool:
    """A round's areas meet the caller's area (one contains the other)."""
    return any(code.startswith(area) or area.startswith(code) for code in codes)


def covering(area_codes: list[str]) -> Any:
    """Households lying in any of ``area_codes``."""
    return or_(*(Household.village_code.like(code + "%") for code in area_codes))


async def check_areas(session: AsyncSession, principal: Principal, codes: list[str]) -> list[str]:
    """Known areas within the caller's, none inside another of the list; sorted."""
    chosen = sorted(set(codes))
    known = set((await session.execute(select(Area.code).where(Area.code.in_(chosen)))).scalars())
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise UnknownAreas(unknown)
    outside = [c for c in chosen if not principal.covers(c)]
    if outside:
        raise AreasOutside(outside)
    nested = [c for c in chosen if any(c != o and c.startswith(o) for o in chosen)]
    if nested:
        raise AreasNested(nested)
    return chosen


async def open_round(
    session: AsyncSession, principal: Principal, now: datetime, **values: Any
) -> ScreeningRound:
    """A round over its areas, with one task per household registered there now (in the
    caller's transaction)."""
    round_ = ScreeningRound(id=str(uuid.uuid4()), opened_by=principal.sub, opened_at=now, **values)
    session.add(round_)
    await session.flush()
    scope = select(literal(round_.id), Household.id, Household.village_code).where(
        covering(round_.area_codes)
    )
    await session.execute(
        insert(ScreeningTask).from_select(["round_id", "household_id", "village_code"], scope)
    )
    return round_


async def visible_round(
    session: AsyncSession, principal: Principal, round_id: str, kind: str | None = None
) -> ScreeningRound:
    round_ = await session.get(ScreeningRound, round_id)
    if (
        round_ is None
        or not overlaps(round_.area_codes, principal.area)
        or (kind is not None and round_.kind != kind)
    ):
        raise RoundNotFound()
    return round_


async def record_visit(
    session: AsyncSession,
    principal: Principal,
    *,
    household_id: str,
    round_id: str | None,
    visited_on: date,
    result: ScreeningResult,
    risk_type: str | None,
    note: str | None,
    now: datetime,
) -> tuple[ScreeningVisit, bool]:
    """Record a visit; a finding reports the household through the ``cadre_found`` channel in
    the same transaction (a new case, or the open case's event). True when it attached."""
    if visited_on > local_date(now):
        raise VisitInFuture()
    if result == ScreeningResult.risk_found and not note:
        raise FindingWithoutNote()
    if result == ScreeningResult.risk_found and not risk_type:
        raise FindingWithoutRisk()
    attached = False
    try:
        async with session.begin_nested():
            household = await session.get(Household, household_id)
            if household is None or not principal.covers(household.village_code):
                raise HouseholdNotVisible()
            permit(principal, Permission.screening_record)
            source = "screening:routine"
            if round_id is not None:
                round_ = await visible_round(session, principal, round_id)
                source = f"screening:{round_.kind}:{round_.id}"
                if await session.get(ScreeningTask, (round_id, household_id)) is None:
                    raise HouseholdNotInScope()
                taken = select(ScreeningVisit.id).where(
                    ScreeningVisit.round_id == round_id, ScreeningVisit.household_id == household_id
                )
                if (await session.execute(taken)).first() is not None:
                    raise AlreadyScreened()
                last = round_.ends_on
                if visited_on < round_.starts_on or (last and visited_on > last):
                    until = last or "further notice"
                    raise VisitOutsideRound(round_.starts_on, until)
            visit = ScreeningVisit(
                id=str(uuid.uuid4()),
                household_id=household.id,
                village_code=household.village_code,
                round_id=round_id,
                visited_on=visited_on,
                result=result.value,
                risk_type=risk_type,
                note=note,
                visited_by=principal.sub,
                visited_by_name=principal.name,
                recorded_at=now,
            )
            if result == ScreeningResult.risk_found:
                step = CURRENT_WORKFLOW.step(OPEN_ACTIONS[Channel.cadre_found], "new")
                assert step is not None
                report = {
                    "channel": Channel.cadre_found.value,
                    "source": source,
                    "description": note,
                    "risk_type": risk_type,
                }
                snap, attached = await opening.report_on_household(
                    session,
                    principal,
                    household,
                    {k: v for k, v in report.items() if v is not None},
                    CURRENT_WORKFLOW,
                    step,
                    now,
                )
                visit.case_id = snap.id
            session.add(visit)
            await session.flush()
    except IntegrityError as exc:  # a concurrent visit or report came first
        raise ConcurrentVisit() from exc
    return visit, attached


def progress_query(round_ids: list[str], area: str, length: int | None) -> Select[Any]:
    """Per round (and per area code prefix of ``length``): households in scope, screened,
    risks found, and cases the findings opened or reported to."""
    visit = ScreeningVisit
    found = func.coalesce(func.sum(case((visit.result == "risk_found", 1), else_=0)), 0)
    columns: list[Any] = [ScreeningTask.round_id]
    if length:
        columns.append(func.substr(ScreeningTask.village_code, 1, length).label("area"))
    query = (
        select(
            *columns,
            func.count().label("households"),
            func.count(visit.id).label("screened"),
            found.label("risk_found"),
            func.count(visit.case_id).label("cases"),
        )
        .select_from(ScreeningTask)
        .outerjoin(
            visit,
            (visit.round_id == ScreeningTask.round_id)
            & (visit.household_id == ScreeningTask.household_id),
        )
        .where(ScreeningTask.round_id.in_(round_ids), ScreeningTask.village_code.like(area + "%"))
        .group_by(*columns)
    )
    return query


async def progress(
    session: AsyncSession, round_ids: list[str], area: str, length: int | None
) -> dict[tuple[str, ...], dict[str, int]]:
    rows = (await session.execute(progress_query(round_ids, area, length))).mappings().all()
    keys = ("households", "screened", "risk_found", "cases")
    return {
        (row["round_id"], row["area"]) if length else (row["round_id"],): {
            k: int(row[k]) for k in keys
        }
        for row in rows
    }

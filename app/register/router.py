"""The household registry: a household with its members and its history of cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response, status

from app.auth.dependencies import ClockDep, CurrentPrincipal, SettingsDep
from app.core.db import SessionDep
from app.core.errors import declares
from app.core.routing import api_router
from app.households.schemas import (
    HouseholdChange,
    HouseholdFound,
    HouseholdIn,
    HouseholdOut,
    MemberChange,
    MemberIn,
    MemberOut,
)
from app.register import service

router = api_router(prefix="/api/v1/households", tags=["households"])


@router.post("", response_model=HouseholdOut, status_code=status.HTTP_201_CREATED)
async def register_household(
    body: HouseholdIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
) -> HouseholdOut:
    """A village cadre enters a household in the village's register (the head becomes its
    first member) without reporting a risk; campaigns and regional alerts cover registered
    households. 409 ``household_exists`` when the head's household is registered already."""
    out = await service.register(session, principal, body, clock.now(), settings)
    response.headers["Location"] = f"/api/v1/households/{out.id}"
    return out


@router.get("", response_model=list[HouseholdFound], responses=declares(404))
async def find_households(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    area: Annotated[str | None, Query(pattern=r"^\d{6,12}$")] = None,
    name: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    id_number: Annotated[str | None, Query(pattern=r"^\d{17}[\dXx]$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[HouseholdFound]:
    """Registered households of your area (or a part of it), by a member's name (any part of
    it) or a member's full ID number (an exact match; numbers are never searched in part),
    each with its open case if it is in a procedure. Ordered by village, then head's name."""
    return await service.find(
        session, principal, settings, area=area, name=name, id_number=id_number, limit=limit
    )


@router.get("/{household_id}", response_model=HouseholdOut)
async def get_household(
    household_id: str, principal: CurrentPrincipal, session: SessionDep
) -> HouseholdOut:
    """The household, its members (ID numbers masked) and every case it has had."""
    return await service.get_household(session, principal, household_id)


@router.patch("/{household_id}", response_model=HouseholdOut)
async def change_household(
    household_id: str,
    body: HouseholdChange,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> HouseholdOut:
    """Set the household's 户编号 once the national system has given one, or the account
    assistance is paid into (stored encrypted, shown masked), as a village cadre; with an open
    case, the change is an event of its trail."""
    return await service.change_household(
        session, principal, household_id, body, clock.now(), settings
    )


@router.post(
    "/{household_id}/members", response_model=MemberOut, status_code=status.HTTP_201_CREATED
)
async def add_member(
    household_id: str,
    body: MemberIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> MemberOut:
    """A member, recorded by a village cadre; sex and birth date come from the ID number.
    With an open case, the addition is an event of its trail."""
    return await service.add_member(session, principal, household_id, body, clock.now(), settings)


@router.patch("/{household_id}/members/{member_id}", response_model=MemberOut)
async def change_member(
    household_id: str,
    member_id: str,
    body: MemberChange,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> MemberOut:
    """Correct or update a member's facts (labour, health, schooling, phone …); only the
    fields given change. With an open case, the change is an event of its trail."""
    return await service.change_member(
        session, principal, household_id, member_id, body, clock.now(), settings
    )

"""The 12317 platform's door: self-declarations in, tracking numbers out, status by number."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Literal

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import ClockDep, CurrentPrincipal, SettingsDep
from app.auth.errors import RoleRefused
from app.auth.tokens import Principal
from app.cases import opening
from app.cases import repository as cases_repo
from app.cases.models import Case
from app.cases.schemas import OpenCaseIn
from app.core.db import SessionDep
from app.core.routing import api_router
from app.households.schemas import HouseholdIn, IdNumber, Phone, VillageCode
from app.intake import repository
from app.intake.errors import DeclarationNotFound
from app.intake.models import IntakeReceipt
from workflows.calendar import local_date
from workflows.case import ENTRY_STATES
from workflows.case import PUBLIC_STAGES as STAGES
from workflows.permissions import Permission, allowed
from workflows.vocabulary import Channel, RiskType

router = api_router(prefix="/api/v1/intake", tags=["intake"])


class SelfDeclarationIn(BaseModel):
    """农户自主申报 through 12317: the minimal data of SPEC §3."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    phone: Phone
    id_number: IdNumber
    village_code: VillageCode
    household_size: int = Field(default=1, ge=1, le=30)
    hardship: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
    ]
    risk_type: RiskType
    """The risk the household names (part of the minimal data)."""


class ReceiptOut(BaseModel):
    tracking_number: str
    received_at: datetime
    attached: bool
    """True when the household already had an open case: the declaration joined it."""


class StatusOut(BaseModel):
    """What a household may learn by its number: never a personal detail."""

    tracking_number: str
    received_at: datetime
    stage: Literal[
        "received", "under_review", "monitored", "risk_eliminated", "not_included", "withdrawn"
    ]
    accepted: bool


def _platform_only(principal: Principal) -> None:
    if not allowed(principal.role, Permission.intake_declare):
        raise RoleRefused("Only the 12317 platform uses this door.")


@router.post(
    "/self-declarations",
    response_model=ReceiptOut,
    status_code=status.HTTP_201_CREATED,
)
async def declare(
    body: SelfDeclarationIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ReceiptOut:
    """A household declares through the 12317 app; the answer is the number it can quote.
    The village must accept it within the policy's acceptance time (late ones are listed)."""
    _platform_only(principal)
    now = clock.now()
    tracking = f"{local_date(now):%Y%m%d}{secrets.randbelow(10**10):010d}"
    report = OpenCaseIn(
        channel=Channel.self_declared,
        household=HouseholdIn(
            head_name=body.name,
            head_id_number=body.id_number,
            village_code=body.village_code,
            size=body.household_size,
            phone=body.phone,
        ),
        description=body.hardship,
        risk_type=body.risk_type,
        source=f"12317:{tracking}",
    )
    _, _, attached = await opening.open_case(
        session,
        principal,
        report,
        now,
        settings,
        only_write=True,
        with_case=lambda case_id: [repository.receipt(tracking, case_id, now)],
    )
    return ReceiptOut(tracking_number=tracking, received_at=now, attached=attached)


@router.get("/self-declarations/{tracking_number}", response_model=StatusOut)
async def declaration_status(
    tracking_number: Annotated[str, StringConstraints(pattern=r"^\d{18}$")],
    principal: CurrentPrincipal,
    session: SessionDep,
) -> StatusOut:
    """Where a declaration stands, for the household that quotes its number."""
    _platform_only(principal)
    receipt = await session.get(IntakeReceipt, tracking_number)
    case = None if receipt is None else await session.get(Case, receipt.case_id)
    if receipt is None or case is None:
        raise DeclarationNotFound()
    return StatusOut(
        tracking_number=receipt.tracking_number,
        received_at=receipt.received_at,
        stage=STAGES[case.state],
        accepted=await _accepted(session, case),
    )


async def _accepted(session: AsyncSession, case: Case) -> bool:
    """受理: the village took the case into verification (or the city distributed it). A case
    rejected or withdrawn straight from its entry state was never accepted."""
    if case.state in ENTRY_STATES:
        return False
    if case.state not in ("rejected", "withdrawn"):
        return True
    return await cases_repo.has_event(session, case.id, ("start_village_review", "distribute"))

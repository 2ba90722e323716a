"""The monitoring assistance fund (防返贫监测帮扶资金)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.core.db import SessionDep
from app.fund import service
from app.fund.models import Disbursement

router = APIRouter(prefix="/api/v1/fund", tags=["fund"])


class DisbursementOut(BaseModel):
    id: str
    case_id: str
    area_code: str
    amount: str
    purpose: str
    status: str
    year: int | None
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


def _out(d: Disbursement) -> DisbursementOut:
    return DisbursementOut(
        id=d.id, case_id=d.case_id, area_code=d.area_code, amount=service.yuan(d.amount_fen),
        purpose=d.purpose, status=d.status, year=d.year, requested_by=d.requested_by,
        requested_at=d.requested_at, decided_by=d.decided_by, decided_at=d.decided_at,
        decision_reason=d.decision_reason,
    )  # fmt: skip


@router.post("/disbursements", response_model=DisbursementOut, status_code=status.HTTP_201_CREATED)
async def request_disbursement(
    body: service.DisbursementIn, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> DisbursementOut:
    """Ask for money for a household under assistance; the city bureau decides."""
    return _out(await service.request(session, principal, body, clock.now()))


@router.post("/disbursements/{disbursement_id}/decision", response_model=DisbursementOut)
async def decide_disbursement(
    disbursement_id: str,
    body: service.Decision,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> DisbursementOut:
    """Approve (paid from this year's budget, never beyond it) or reject with a reason."""
    return _out(await service.decide(session, principal, disbursement_id, body, clock.now()))


@router.post("/disbursements/{disbursement_id}/reversal", response_model=DisbursementOut)
async def reverse_disbursement(
    disbursement_id: str,
    body: service.Reversal,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> DisbursementOut:
    """Correct a paid disbursement with a reversal entry; the ledger is never edited."""
    return _out(await service.reverse(session, principal, disbursement_id, body, clock.now()))


@router.get("/balances", response_model=dict[str, Any])
async def fund_balances(
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    """The year's budget, spending and balance, and spending by township in your area."""
    now = clock.now()
    return await service.balances(session, principal, year or now.year, now)

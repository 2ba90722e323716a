"""The fund's rules: who asks and approves, where money may go, and never beyond the budget."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import permit
from app.auth.tokens import Principal
from app.cases import repository as cases_repo
from app.cases import service as cases
from app.cases.errors import CaseNotFound
from app.fund.errors import (
    BudgetExceeded,
    CaseNotAssisted,
    DisbursementDecided,
    DisbursementNotFound,
    DisbursementNotPaid,
    NoBudget,
    RejectionWithoutReason,
)
from app.fund.models import Disbursement, FundYear, LedgerEntry
from app.policies import service as policies
from workflows.calendar import local_date
from workflows.case import FUNDED_STATES
from workflows.money import Payment
from workflows.permissions import Permission

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class DisbursementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str
    amount: Payment
    """Yuan, as a decimal string ("1200.00")."""
    purpose: Text


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: StrictBool
    reason: Text | None = None


class Reversal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


def fen(amount: Decimal) -> int:
    return int((amount * 100).to_integral_exact())


def yuan(amount_fen: int) -> str:
    return f"{Decimal(amount_fen) / 100:.2f}"


async def request(
    session: AsyncSession, principal: Principal, body: DisbursementIn, now: datetime
) -> Disbursement:
    found = await cases_repo.case_in_area(session, body.case_id, principal.area)
    if found is None:
        raise CaseNotFound(body.case_id)
    permit(principal, Permission.fund_request)
    case = found[0]
    if case.state not in FUNDED_STATES:
        raise CaseNotAssisted()
    disbursement = Disbursement(
        id=str(uuid.uuid4()),
        case_id=case.id,
        area_code=case.area_code,
        amount_fen=fen(body.amount),
        purpose=body.purpose,
        status="requested",
        requested_by=principal.sub,
        requested_at=now,
    )
    session.add(disbursement)
    return disbursement


async def _locked_disbursement(
    session: AsyncSession, principal: Principal, disbursement_id: str
) -> Disbursement:
    query = (
        select(Disbursement)
        .where(
            Disbursement.id == disbursement_id,
            cases_repo.in_area(Disbursement.area_code, principal.area),
        )
        .with_for_update()
    )
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise DisbursementNotFound(disbursement_id)
    return found


def _city_only(principal: Principal) -> None:
    permit(principal, Permission.fund_decide)


async def decide(
    session: AsyncSession,
    principal: Principal,
    disbursement_id: str,
    body: Decision,
    now: datetime,
) -> Disbursement:
    if not body.approve and not body.reason:
        raise RejectionWithoutReason()
    disbursement = await _locked_disbursement(session, principal, disbursement_id)
    _city_only(principal)
    if disbursement.status != "requested":
        raise DisbursementDecided(disbursement.status)
    disbursement.decided_by, disbursement.decided_at = principal.sub, now
    disbursement.decision_reason = body.reason
    if not body.approve:
        disbursement.status = "rejected"
        return disbursement
    year = local_date(now).year
    budget = (await policies.in_effect(session, now)).fund_budgets.get(year)
    if budget is None:
        raise NoBudget(year)
    amount = disbursement.amount_fen
    await _spend(session, year, amount, fen(budget))
    session.add(
        LedgerEntry(
            year=year,
            disbursement_id=disbursement.id,
            area_code=disbursement.area_code,
            amount_fen=amount,
            kind="disbursement",
            created_by=principal.sub,
            created_by_name=principal.name,
            created_at=now,
            note=disbursement.purpose,
        )
    )
    disbursement.status, disbursement.year = "approved", year
    await cases.record_fund_event(
        session,
        principal,
        disbursement.case_id,
        "fund_disbursement",
        {
            "disbursement_id": disbursement.id,
            "amount": yuan(amount),
            "year": year,
            "purpose": disbursement.purpose,
        },
        now,
    )
    return disbursement


async def _spend(session: AsyncSession, year: int, amount: int, budget: int) -> None:
    """Take ``amount`` from the year's budget in one conditional UPDATE, or refuse."""
    try:
        async with session.begin_nested():
            await session.execute(insert(FundYear).values(year=year, spent_fen=0))
    except IntegrityError:
        pass  # the year's row exists already
    result = await session.execute(
        update(FundYear)
        .where(FundYear.year == year, FundYear.spent_fen + amount <= budget)
        .values(spent_fen=FundYear.spent_fen + amount)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        spent = (
            await session.execute(select(FundYear.spent_fen).where(FundYear.year == year))
        ).scalar_one()
        raise BudgetExceeded(year, yuan(budget - spent), yuan(amount))


async def reverse(
    session: AsyncSession,
    principal: Principal,
    disbursement_id: str,
    body: Reversal,
    now: datetime,
) -> Disbursement:
    """A correction: a negative ledger entry, never an edit."""
    disbursement = await _locked_disbursement(session, principal, disbursement_id)
    _city_only(principal)
    if disbursement.status != "approved" or disbursement.year is None:
        raise DisbursementNotPaid()
    year, amount = disbursement.year, disbursement.amount_fen
    entry = (
        await session.execute(
            select(LedgerEntry).where(
                LedgerEntry.disbursement_id == disbursement.id,
                LedgerEntry.kind == "disbursement",
            )
        )
    ).scalar_one()
    await session.execute(
        update(FundYear).where(FundYear.year == year).values(spent_fen=FundYear.spent_fen - amount)
    )
    session.add(
        LedgerEntry(
            year=year,
            disbursement_id=disbursement.id,
            area_code=disbursement.area_code,
            amount_fen=-amount,
            kind="reversal",
            reverses_entry_id=entry.id,
            created_by=principal.sub,
            created_by_name=principal.name,
            created_at=now,
            note=body.reason,
        )
    )
    disbursement.status = "reversed"
    await cases.record_fund_event(
        session,
        principal,
        disbursement.case_id,
        "fund_reversal",
        {
            "disbursement_id": disbursement.id,
            "amount": yuan(amount),
            "year": year,
            "reason": body.reason,
        },
        now,
    )
    return disbursement


async def balances(
    session: AsyncSession, principal: Principal, year: int, now: datetime
) -> dict[str, Any]:
    """The year's budget, what is spent, and spending by township within your area."""
    permit(principal, Permission.fund_read)
    budget = (await policies.in_effect(session, now)).fund_budgets.get(year)
    query = select(FundYear.spent_fen).where(FundYear.year == year)
    spent = (await session.execute(query)).scalar_one_or_none() or 0
    township = func.substr(LedgerEntry.area_code, 1, 9)
    rows = await session.execute(
        select(township, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.year == year, cases_repo.in_area(LedgerEntry.area_code, principal.area))
        .group_by(township)
        .order_by(township)
    )
    by_area = {code: yuan(int(total)) for code, total in rows}
    return {
        "year": year,
        "budget": None if budget is None else f"{budget:.2f}",
        "spent": yuan(spent),
        "balance": None if budget is None else yuan(fen(budget) - spent),
        "spent_by_township": by_area,
    }

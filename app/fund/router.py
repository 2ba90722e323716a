"""The monitoring assistance fund (防返贫监测帮扶资金)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Query, status
from pydantic import BaseModel

from app.access_log.record import log_ledger_read
from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.auth.permissions import permit
from app.core import workbook
from app.core.db import ReadSessionDep, SessionDep
from app.core.errors import declares
from app.core.routing import api_router
from app.fund import repository, service
from app.fund.models import Disbursement
from workflows.calendar import local_date
from workflows.permissions import Permission

router = api_router(prefix="/api/v1/fund", tags=["fund"])


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
        id=d.id,
        case_id=d.case_id,
        area_code=d.area_code,
        amount=service.yuan(d.amount_fen),
        purpose=d.purpose,
        status=d.status,
        year=d.year,
        requested_by=d.requested_by,
        requested_at=d.requested_at,
        decided_by=d.decided_by,
        decided_at=d.decided_at,
        decision_reason=d.decision_reason,
    )


@router.post(
    "/disbursements",
    response_model=DisbursementOut,
    status_code=status.HTTP_201_CREATED,
    responses=declares(404),
)
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


ledger_router = api_router(prefix="/api/v1/ledgers", tags=["fund"])
LEDGER_HEADERS = [
    "记账时间",
    "年度",
    "乡镇代码",
    "乡镇",
    "村代码",
    "村",
    "户主姓名",
    "案件编号",
    "类型",
    "金额（元）",
    "说明",
    "经办人",
]
KINDS = {"disbursement": "支付", "reversal": "冲正"}
CENT = Decimal("0.01")


@ledger_router.get(
    "/fund",
    responses={
        200: {
            "content": {"application/json": {}, workbook.MEDIA: {}},
            "description": "The ledger as JSON rows, or an Excel workbook.",
        }
    },
)
async def fund_ledger(
    principal: CurrentPrincipal,
    session: SessionDep,
    reading: ReadSessionDep,
    clock: ClockDep,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    format: Literal["json", "xlsx"] = "json",
) -> Any:
    """资金台账: every entry of the year in your area, payments and their reversals, in the
    order they were booked; amounts in yuan (numbers in Excel, so a column sums to what was
    spent), times in Asia/Shanghai, who booked each by name."""
    permit(principal, Permission.fund_read)
    now = clock.now()
    chosen = year or local_date(now).year
    await log_ledger_read(session, principal, f"fund:{chosen}", now)
    rows = [
        [
            e.created_at,
            e.year,
            e.area_code[:9],
            township_name or "",
            e.area_code,
            village_name or "",
            head,
            case_id,
            KINDS.get(e.kind, e.kind),
            (Decimal(e.amount_fen) / 100).quantize(CENT),
            e.note,
            e.created_by_name or e.created_by,
        ]
        for e, township_name, village_name, head, case_id in await repository.ledger(
            reading, principal.area, chosen
        )
    ]
    if format == "json":
        return {"year": chosen, "columns": LEDGER_HEADERS, "rows": workbook.json_rows(rows)}
    return workbook.xlsx_response("资金台账", LEDGER_HEADERS, rows, f"fund-{chosen}.xlsx")

"""Township warning lists: submitted quarterly to the city; late townships listed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select

from app.access_log.ledgers import log_ledger_read
from app.areas import repository as areas
from app.areas.models import Area
from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.auth.permissions import permit
from app.core.db import ReadSessionDep, SessionDep
from app.core.errors import Forbidden, Unprocessable
from app.exports import workbook
from app.exports.labels import RISK_TYPE
from app.warning_lists import quarters
from app.warning_lists.models import WarningList
from workflows.vocabulary import RiskType

router = APIRouter(prefix="/api/v1", tags=["warning-lists"])

Quarter = Annotated[str, StringConstraints(pattern=r"^\d{4}-Q[1-4]$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
VillageCode = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]


class Entry(BaseModel):
    """One household at risk: no ID number (the list goes to the city's desk, not the system)."""

    model_config = ConfigDict(extra="forbid")
    village_code: VillageCode
    head_name: Name
    risk_type: RiskType
    description: Text


class WarningListIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quarter: Quarter | None = None
    """Default: the current quarter."""
    entries: list[Entry] = Field(max_length=5000)
    note: Text | None = None


class WarningListOut(BaseModel):
    id: str
    township_code: str
    quarter: str
    entries: list[Entry]
    note: str | None
    submitted_by: str
    submitted_at: datetime


class TownshipDue(BaseModel):
    township_code: str
    name: str
    submitted_at: datetime | None


class QuarterStatus(BaseModel):
    quarter: str
    late_from: datetime
    submitted: list[TownshipDue]
    late: list[TownshipDue]
    """Past the due time with nothing submitted for the quarter."""
    pending: list[TownshipDue]
    """Not submitted yet, still in time."""


def _out(row: WarningList) -> WarningListOut:
    return WarningListOut(id=row.id, township_code=row.township_code, quarter=row.quarter,
                          entries=[Entry(**e) for e in row.entries], note=row.note,
                          submitted_by=row.submitted_by, submitted_at=row.submitted_at)  # fmt: skip


@router.post("/warning-lists", status_code=status.HTTP_201_CREATED, response_model=WarningListOut)
async def submit(
    body: WarningListIn, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> WarningListOut:
    """A township submits its warning list for a quarter (again, if it must: the newest
    counts). Every household's village must lie in the township."""
    permit(principal, "warning_list.submit")
    if len(principal.area) != 9:
        raise Forbidden("area_forbidden", "A warning list is a township's: your area is not one.")
    now = clock.now()
    quarter = body.quarter or quarters.of(now)
    # a past quarter's list is still taken when it comes late; its date shows it was late
    if quarter > quarters.of(now):
        raise Unprocessable("quarter_in_future", f"{quarter} has not begun.", field="quarter")
    async with session.begin():
        codes = {e.village_code for e in body.entries}
        villages = select(Area.code).where(Area.code.in_(codes), Area.level == "village")
        known = set((await session.execute(villages)).scalars())
        unknown = sorted(codes - known)
        if unknown:
            raise Unprocessable("unknown_village", "No such village: " + ", ".join(unknown),
                                field="entries", villages=unknown)  # fmt: skip
        outside = sorted(c for c in codes if not c.startswith(principal.area))
        if outside:
            raise Forbidden("area_forbidden", "Villages outside your township: "
                            + ", ".join(outside), villages=outside)  # fmt: skip
        row = WarningList(id=str(uuid.uuid4()), township_code=principal.area, quarter=quarter,
                          entries=[e.model_dump(mode="json") for e in body.entries],
                          note=body.note, submitted_by=principal.sub, submitted_at=now)  # fmt: skip
        session.add(row)
    return _out(row)


async def _latest(session: Any, area: str, quarter: str) -> list[WarningList]:
    newest = (select(WarningList.township_code, func.max(WarningList.submitted_at).label("at"))
              .where(WarningList.quarter == quarter, WarningList.township_code.like(area + "%"))
              .group_by(WarningList.township_code).subquery())  # fmt: skip
    rows = await session.execute(
        select(WarningList).join(newest, (newest.c.township_code == WarningList.township_code)
                                 & (newest.c.at == WarningList.submitted_at))
        .where(WarningList.quarter == quarter).order_by(WarningList.township_code))  # fmt: skip
    return list(rows.scalars())


@router.get("/warning-lists", response_model=list[WarningListOut])
async def list_submissions(
    principal: CurrentPrincipal, session: ReadSessionDep, clock: ClockDep,
    quarter: Quarter | None = None,
) -> list[WarningListOut]:  # fmt: skip
    """The newest list of each township in your area for a quarter (default: the current)."""
    permit(principal, "warning_list.read")
    chosen = quarter or quarters.of(clock.now())
    return [_out(r) for r in await _latest(session, principal.area, chosen)]


@router.get("/warning-lists/status", response_model=QuarterStatus)
async def quarter_status(
    principal: CurrentPrincipal, session: ReadSessionDep, clock: ClockDep,
    quarter: Quarter | None = None,
) -> QuarterStatus:  # fmt: skip
    """Which townships of your area submitted their list for the quarter, which are late (the
    quarter is over and none came), which still have time."""
    permit(principal, "warning_list.read")
    now = clock.now()
    chosen = quarter or quarters.of(now)
    due = quarters.late_from(chosen)
    townships = (await session.execute(
        select(Area.code, Area.name).where(Area.level == "township",
                                           Area.code.like(principal.area + "%"))
        .order_by(Area.code))).all()  # fmt: skip
    earliest = (
        select(WarningList.township_code, func.min(WarningList.submitted_at))
        .where(WarningList.quarter == chosen)
        .group_by(WarningList.township_code)
    )
    first = {row[0]: row[1] for row in (await session.execute(earliest)).all()}
    submitted: list[TownshipDue] = []
    late: list[TownshipDue] = []
    pending: list[TownshipDue] = []
    for code, name in townships:
        at = first.get(code)
        entry = TownshipDue(township_code=code, name=name, submitted_at=at)
        (submitted if at else late if now >= due else pending).append(entry)
    return QuarterStatus(quarter=chosen, late_from=due, submitted=submitted, late=late,
                         pending=pending)  # fmt: skip


HEADERS = ["乡镇代码", "乡镇", "村代码", "村", "户主姓名", "风险类型", "风险情况", "报送时间"]


@router.get(
    "/ledgers/warning-list",
    responses={200: {"content": {"application/json": {}, "application/vnd.openxmlformats-"
                                 "officedocument.spreadsheetml.sheet": {}}}},
)  # fmt: skip
async def warning_list_ledger(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    reading: ReadSessionDep,
    clock: ClockDep,
    quarter: Quarter | None = None,
    format: Literal["json", "xlsx"] = "json",
) -> Any:
    """乡镇季度预警名单台账: every household on the newest lists of your area's townships, areas
    by name beside their code; 报送时间 in Asia/Shanghai (an Excel time in the workbook)."""
    permit(principal, "ledger.read")
    chosen = quarter or quarters.of(clock.now())
    await log_ledger_read(session, principal, f"warning_list:{chosen}", clock.now())
    entries = [(s, e) for s in await _latest(reading, principal.area, chosen) for e in s.entries
               if e["village_code"].startswith(principal.area)]  # fmt: skip
    codes = {c for s, e in entries for c in (s.township_code, e["village_code"])}
    named = await areas.names(reading, sorted(codes))
    rows = [[s.township_code, named.get(s.township_code, ""), e["village_code"],
             named.get(e["village_code"], ""), e["head_name"],
             RISK_TYPE.get(e["risk_type"], e["risk_type"]), e["description"], s.submitted_at]
            for s, e in entries]  # fmt: skip
    if format == "json":
        return {"quarter": chosen, "columns": HEADERS, "rows": workbook.json_rows(rows)}
    return workbook.xlsx_response("乡镇季度预警名单", HEADERS, rows,
                                  f"warning-list-{chosen}.xlsx")  # fmt: skip

"""Cadre screening (基层干部排查): routine visits, April and October campaigns, the screening
regional risk alerts call for, their progress, and the screening ledger (排查走访台账)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.access_log.record import log_ledger_read
from app.areas import repository as areas
from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.auth.permissions import permit
from app.core import workbook
from app.core.db import ReadSessionDep, SessionDep
from app.core.errors import declares
from app.core.routing import api_router
from app.households import idnumber
from app.national_sheet.labels import REGIONAL_RISK, RISK_TYPE, SCREENING_KIND, SCREENING_RESULT
from app.screening import repository, service
from app.screening.errors import CampaignExists, CampaignOver, LedgerPeriodReversed
from app.screening.models import ScreeningRound
from workflows.calendar import local_date
from workflows.permissions import Permission
from workflows.vocabulary import RegionalRisk, RiskType, ScreeningResult

router = api_router(prefix="/api/v1", tags=["screening"])

AreaCode = Annotated[str, StringConstraints(pattern=r"^\d{6}(\d{3}(\d{3})?)?$")]
AreaCodes = Annotated[list[AreaCode], Field(min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Month = Annotated[str, StringConstraints(pattern=r"^[1-9]\d{3}-(04|10)$")]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]


class Counts(BaseModel):
    households: int = 0
    """In the round's scope."""
    screened: int = 0
    """With a result recorded."""
    risk_found: int = 0
    cases: int = 0
    """Cases the findings opened, or open cases they were reported to."""


class ScreeningRoundOut(BaseModel):
    id: str
    kind: Literal["campaign", "regional_alert"]
    title: str
    period: str | None
    cause: RegionalRisk | None
    description: str | None
    area_codes: list[str]
    starts_on: date
    ends_on: date | None
    opened_by: str
    opened_at: datetime
    counts: Counts
    """Within the caller's area."""


class CampaignIn(BaseModel):
    """A concentrated screening campaign (集中排查): April or October, over chosen areas."""

    model_config = ConfigDict(extra="forbid")
    period: Month
    area_codes: AreaCodes
    title: Title | None = None


class AlertIn(BaseModel):
    """An area-wide risk (区域性、规模性返贫风险)."""

    model_config = ConfigDict(extra="forbid")
    cause: RegionalRisk
    area_codes: AreaCodes
    starts_on: date
    ends_on: date | None = None
    """The last day screening visits for the alert may be dated; none: until further notice."""
    description: Text
    title: Title | None = None

    @model_validator(mode="after")
    def _dates(self) -> AlertIn:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    household_id: Id
    round_id: Id | None = None
    """The campaign or alert this is the household's result in; none for a routine visit."""
    visited_on: date
    result: ScreeningResult
    risk_type: RiskType | None = None
    """The risk found; required for a finding."""
    note: Text | None = None
    """What was seen; required for a finding (it becomes the case's hardship description)."""


class VisitOut(BaseModel):
    id: str
    household_id: str
    village_code: str
    round_id: str | None
    visited_on: date
    result: ScreeningResult
    risk_type: RiskType | None
    note: str | None
    case_id: str | None
    attached: bool
    """True when the finding was reported to the household's open case."""
    visited_by: str
    recorded_at: datetime


class AreaProgress(Counts):
    area_code: str
    name: str


class ProgressOut(BaseModel):
    round: ScreeningRoundOut
    townships: list[AreaProgress]
    villages: list[AreaProgress]


class TaskOut(BaseModel):
    household_id: str
    head_name: str
    head_id_number_masked: str
    village_code: str
    result: ScreeningResult | None
    visited_on: date | None
    case_id: str | None


class CauseCounts(Counts):
    cause: RegionalRisk
    alerts: int


class AlertReport(BaseModel):
    """区域性、规模性返贫风险: the early signal of scale return to poverty."""

    alerts: list[ScreeningRoundOut]
    by_cause: list[CauseCounts]
    by_area: list[AreaProgress]
    """Per township, over every alert in the report."""


def _round_out(round_: ScreeningRound, counts: dict[str, int] | None) -> ScreeningRoundOut:
    return ScreeningRoundOut(
        id=round_.id,
        kind=round_.kind,
        title=round_.title,
        period=round_.period,
        cause=round_.cause,
        description=round_.description,
        area_codes=round_.area_codes,
        starts_on=round_.starts_on,
        ends_on=round_.ends_on,
        opened_by=round_.opened_by,
        opened_at=round_.opened_at,
        counts=Counts(**(counts or {})),
    )


async def _rounds(
    session: Any, principal: Any, kind: str, since: date | None, until: date | None
) -> list[ScreeningRoundOut]:
    rounds = [
        r
        for r in await repository.rounds(session, kind, since, until)
        if service.overlaps(r.area_codes, principal.area)
    ]
    counts = await service.progress(session, [r.id for r in rounds], principal.area, None)
    return [_round_out(r, counts.get((r.id,))) for r in rounds]


async def _opened(session: Any, principal: Any, round_: ScreeningRound) -> ScreeningRoundOut:
    counts = await service.progress(session, [round_.id], principal.area, None)
    return _round_out(round_, counts.get((round_.id,)))


@router.post(
    "/screening/campaigns", status_code=status.HTTP_201_CREATED, response_model=ScreeningRoundOut
)
async def open_campaign(
    body: CampaignIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> ScreeningRoundOut:
    """The city opens the April or October campaign over chosen areas (townships, villages or
    the whole city): every household registered there becomes work for its village."""
    permit(principal, Permission.screening_campaign)
    year, month = int(body.period[:4]), int(body.period[5:])
    starts, ends = date(year, month, 1), date(year, month + 1, 1) - timedelta(days=1)
    if ends < local_date(clock.now()):
        raise CampaignOver(body.period)
    codes = await service.check_areas(session, principal, body.area_codes)
    for other in await repository.campaigns_of(session, body.period):
        if any(service.overlaps(other.area_codes, code) for code in codes):
            raise CampaignExists(body.period, other.id)
    round_ = await service.open_round(
        session,
        principal,
        clock.now(),
        kind="campaign",
        period=body.period,
        title=body.title or f"{year}年{month}月集中排查",
        area_codes=codes,
        starts_on=starts,
        ends_on=ends,
    )
    out = await _opened(session, principal, round_)
    response.headers["Location"] = f"/api/v1/screening/rounds/{round_.id}/progress"
    return out


@router.get("/screening/campaigns", response_model=list[ScreeningRoundOut])
async def list_campaigns(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    year: int | None = Query(None, ge=2000, le=2100),
) -> list[ScreeningRoundOut]:
    """Campaigns touching your area, newest first, counted within your area."""
    permit(principal, Permission.screening_read)
    since = date(year, 1, 1) if year else None
    until = date(year, 12, 31) if year else None
    return await _rounds(session, principal, "campaign", since, until)


@router.post(
    "/regional-alerts", status_code=status.HTTP_201_CREATED, response_model=ScreeningRoundOut
)
async def register_alert(
    body: AlertIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> ScreeningRoundOut:
    """The city registers an area-wide risk: every household registered in its areas becomes
    screening work, and the cases findings open are linked to it."""
    permit(principal, Permission.regional_alert_register)
    codes = await service.check_areas(session, principal, body.area_codes)
    round_ = await service.open_round(
        session,
        principal,
        clock.now(),
        kind="regional_alert",
        cause=body.cause.value,
        title=body.title or f"{REGIONAL_RISK[body.cause.value]}风险排查",
        area_codes=codes,
        description=body.description,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
    )
    out = await _opened(session, principal, round_)
    response.headers["Location"] = f"/api/v1/screening/rounds/{round_.id}/progress"
    return out


@router.get("/regional-alerts", response_model=AlertReport)
async def alert_report(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
) -> AlertReport:
    """Alerts touching your area (starting in the period, if given), with counts by alert, by
    cause and by township: households to screen, screened, risks found, cases."""
    permit(principal, Permission.regional_alert_read)
    alerts = await _rounds(session, principal, "regional_alert", since, until)
    by_cause: dict[str, CauseCounts] = {}
    for alert in alerts:
        assert alert.cause is not None
        row = by_cause.setdefault(alert.cause, CauseCounts(cause=alert.cause, alerts=0))
        row.alerts += 1
        for key, value in alert.counts.model_dump().items():
            setattr(row, key, getattr(row, key) + value)
    per_area = await service.progress(session, [a.id for a in alerts], principal.area, 9)
    return AlertReport(
        alerts=alerts,
        by_cause=sorted(by_cause.values(), key=lambda c: c.cause),
        by_area=await _areas(session, per_area),
    )


async def _areas(session: Any, counts: dict[tuple[str, ...], dict[str, int]]) -> list[AreaProgress]:
    """Counts summed per area code (over rounds), with the areas' names."""
    total: dict[str, dict[str, int]] = {}
    for (_, code), values in counts.items():
        into = total.setdefault(code, dict.fromkeys(values, 0))
        for key, value in values.items():
            into[key] += value
    names = await areas.names(session, list(total))
    return [
        AreaProgress(area_code=code, name=names.get(code, ""), **values)
        for code, values in sorted(total.items())
    ]


@router.get("/screening/rounds/{round_id}/progress", response_model=ProgressOut)
async def round_progress(
    round_id: str, principal: CurrentPrincipal, session: ReadSessionDep
) -> ProgressOut:
    """A campaign's or alert's progress in your area, per township and per village."""
    round_ = await service.visible_round(session, principal, round_id)
    permit(principal, Permission.screening_read)
    totals = await service.progress(session, [round_.id], principal.area, None)
    townships = await service.progress(session, [round_.id], principal.area, 9)
    villages = await service.progress(session, [round_.id], principal.area, 12)
    return ProgressOut(
        round=_round_out(round_, totals.get((round_.id,))),
        townships=await _areas(session, townships),
        villages=await _areas(session, villages),
    )


@router.get("/screening/rounds/{round_id}/tasks", response_model=list[TaskOut])
async def round_tasks(
    round_id: str,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    village_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    pending: bool | None = None,
) -> list[TaskOut]:
    """The households in scope in your area (or one village), with their result if recorded;
    ``pending=true``: the ones still to visit."""
    round_ = await service.visible_round(session, principal, round_id)
    permit(principal, Permission.screening_read)
    area = principal.area
    if village_code is not None:
        if not principal.covers(village_code):
            return []
        area = village_code
    rows = await repository.tasks(session, round_.id, area, pending)
    return [
        TaskOut(
            household_id=h.id,
            head_name=h.head_name,
            village_code=h.village_code,
            head_id_number_masked=idnumber.shown(h.head_id_number_masked),
            result=v.result if v else None,
            visited_on=v.visited_on if v else None,
            case_id=v.case_id if v else None,
        )
        for h, v in rows
    ]


@router.post(
    "/screening/visits",
    status_code=status.HTTP_201_CREATED,
    response_model=VisitOut,
    responses=declares(404),
)
async def record_visit(
    body: VisitIn, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> VisitOut:
    """A village cadre records a visit: routine, or the household's result in a campaign or
    alert. A finding opens a ``cadre_found`` case linked to the round (or is reported to the
    household's open case) in the same transaction."""
    visit, attached = await service.record_visit(
        session,
        principal,
        household_id=body.household_id,
        round_id=body.round_id,
        visited_on=body.visited_on,
        result=body.result,
        risk_type=body.risk_type.value if body.risk_type else None,
        note=body.note,
        now=clock.now(),
    )
    return VisitOut(
        id=visit.id,
        household_id=visit.household_id,
        village_code=visit.village_code,
        round_id=visit.round_id,
        visited_on=visit.visited_on,
        result=visit.result,
        risk_type=visit.risk_type,
        note=visit.note,
        case_id=visit.case_id,
        attached=attached,
        visited_by=visit.visited_by,
        recorded_at=visit.recorded_at,
    )


LEDGER_HEADERS = [
    "乡镇代码",
    "乡镇",
    "村代码",
    "村",
    "户主姓名",
    "户主证件号码",
    "走访日期",
    "排查类型",
    "排查批次",
    "排查结果",
    "风险类型",
    "情况说明",
    "走访人",
    "案件编号",
]


@router.get(
    "/ledgers/screening",
    responses={
        200: {
            "content": {
                "application/json": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
)
async def screening_ledger(
    principal: CurrentPrincipal,
    session: SessionDep,
    reading: ReadSessionDep,
    clock: ClockDep,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
    format: Literal["json", "xlsx"] = "json",
) -> Any:
    """排查走访台账 of your area: every visit dated in the period (default: this year so far),
    by township, village and date, areas by name beside their code and visitors by name. ID
    numbers are masked; in Excel the visit's day is a date."""
    permit(principal, Permission.ledger_read)
    today = local_date(clock.now())
    first = since or date(today.year, 1, 1)
    last = until or today
    if last < first:
        raise LedgerPeriodReversed()
    await log_ledger_read(session, principal, f"screening:{first}:{last}", clock.now())
    rows = [
        [
            v.village_code[:9],
            township_name or "",
            v.village_code,
            village_name or "",
            name,
            idnumber.shown(masked),
            v.visited_on,
            SCREENING_KIND[kind or "routine"],
            title or "",
            SCREENING_RESULT[v.result],
            RISK_TYPE.get(v.risk_type or "", ""),
            v.note or "",
            v.visited_by_name or v.visited_by,
            v.case_id or "",
        ]
        for v, township_name, village_name, name, masked, kind, title in await repository.visits(
            reading, principal.area, first, last
        )
    ]
    if format == "json":
        return {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "columns": LEDGER_HEADERS,
            "rows": workbook.json_rows(rows),
        }
    return workbook.xlsx_response(
        "排查走访台账", LEDGER_HEADERS, rows, f"screening-{first}-{last}.xlsx"
    )

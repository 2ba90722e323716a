"""Township warning lists: submitted quarterly to the city; late townships listed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.access_log.record import log_ledger_read
from app.areas import repository as areas
from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.auth.errors import RoleRefused
from app.auth.permissions import permit
from app.cases import opening
from app.core import workbook
from app.core.db import ReadSessionDep, SessionDep
from app.core.errors import Unprocessable
from app.core.routing import api_router
from app.households.models import Household
from app.households.schemas import OpenCaseRef
from app.national_sheet.labels import RISK_TYPE
from app.warning_lists import quarters, repository
from app.warning_lists.errors import (
    EntryNotFound,
    EntryNotLinked,
    NotATownship,
    QuarterInFuture,
    UnknownVillages,
    VillagesOutside,
)
from app.warning_lists.models import WarningList
from workflows.case import CURRENT as CURRENT_WORKFLOW
from workflows.case import OPEN_ACTIONS
from workflows.permissions import Permission
from workflows.vocabulary import Channel, RiskType

router = api_router(prefix="/api/v1", tags=["warning-lists"])

Quarter = Annotated[str, StringConstraints(pattern=r"^[1-9]\d{3}-Q[1-4]$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
VillageCode = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]


class Entry(BaseModel):
    """One household at risk: no ID number (the list goes to the city's desk, not the system).
    A registered household is linked by choosing it (``household_id``, from
    ``GET /api/v1/households``), never by a typed ID number."""

    model_config = ConfigDict(extra="forbid")
    village_code: VillageCode
    head_name: Name
    risk_type: RiskType
    description: Text
    household_id: Annotated[str, StringConstraints(min_length=1, max_length=36)] | None = None
    """The registered household, chosen in the register: it lies in ``village_code`` and its
    head is ``head_name``."""


class EntryOut(Entry):
    open_case: OpenCaseRef | None = None
    """The linked household's open case: it is already in a procedure."""


class VillageEntry(EntryOut):
    """An entry of the newest list of a township, as the village works it."""

    list_id: str
    number: int
    """The entry's place in its list, from 1."""
    township_code: str
    quarter: str


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
    entries: list[EntryOut]
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


async def _open_cases(session: Any, rows: list[WarningList]) -> dict[str, OpenCaseRef]:
    """The open case of each household the lists link, if any."""
    linked = {e["household_id"] for r in rows for e in r.entries if e.get("household_id")}
    if not linked:
        return {}
    found = await repository.open_cases(session, linked)
    return {h: OpenCaseRef(id=c, state=state) for h, (c, state) in found.items()}


def _entry(entry: dict[str, Any], cases: dict[str, OpenCaseRef]) -> EntryOut:
    return EntryOut(**entry, open_case=cases.get(entry.get("household_id") or ""))


def _out(row: WarningList, cases: dict[str, OpenCaseRef]) -> WarningListOut:
    return WarningListOut(
        id=row.id,
        township_code=row.township_code,
        quarter=row.quarter,
        entries=[_entry(e, cases) for e in row.entries],
        note=row.note,
        submitted_by=row.submitted_by,
        submitted_at=row.submitted_at,
    )


@router.post("/warning-lists", status_code=status.HTTP_201_CREATED, response_model=WarningListOut)
async def submit(
    body: WarningListIn, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> WarningListOut:
    """A township submits its warning list for a quarter (again, if it must: the newest
    counts). Every household's village must lie in the township."""
    permit(principal, Permission.warning_list_submit)
    if len(principal.area) != 9:
        raise NotATownship()
    now = clock.now()
    quarter = body.quarter or quarters.of(now)
    # a past quarter's list is still taken when it comes late; its date shows it was late
    if quarter > quarters.of(now):
        raise QuarterInFuture(quarter)
    codes = {e.village_code for e in body.entries}
    known = await repository.villages_among(session, codes)
    unknown = sorted(codes - known)
    if unknown:
        raise UnknownVillages(unknown)
    outside = sorted(c for c in codes if not c.startswith(principal.area))
    if outside:
        raise VillagesOutside(outside)
    await _check_links(session, body.entries)
    row = WarningList(
        id=str(uuid.uuid4()),
        township_code=principal.area,
        quarter=quarter,
        entries=[e.model_dump(mode="json") for e in body.entries],
        note=body.note,
        submitted_by=principal.sub,
        submitted_at=now,
    )
    session.add(row)
    cases = await _open_cases(session, [row])
    return _out(row, cases)


async def _check_links(session: Any, entries: list[Entry]) -> None:
    """Each linked household is registered in the entry's village, headed by its name."""
    linked = {e.household_id for e in entries if e.household_id}
    found = await repository.households(session, linked) if linked else {}
    problems = []
    for number, entry in enumerate(entries, start=1):
        if entry.household_id is None:
            continue
        household = found.get(entry.household_id)
        field = f"entries.{number - 1}.household_id"
        if household is None or household.village_code != entry.village_code:
            problems.append(
                {
                    "field": field,
                    "type": "household_not_in_village",
                    "message": f"No registered household {entry.household_id} in "
                    f"village {entry.village_code}.",
                }
            )
        elif household.head_name != entry.head_name:
            problems.append(
                {
                    "field": f"entries.{number - 1}.head_name",
                    "type": "head_name_differs",
                    "message": f"The household's head is {household.head_name}.",
                }
            )
    if problems:
        raise Unprocessable(
            "validation_failed",
            "Invalid input: " + ", ".join(p["field"] for p in problems) + ".",
            errors=problems,
        )


@router.get("/warning-lists", response_model=list[WarningListOut])
async def list_submissions(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    clock: ClockDep,
    quarter: Quarter | None = None,
) -> list[WarningListOut]:
    """The newest list of each township in your area for a quarter (default: the current)."""
    permit(principal, Permission.warning_list_read)
    chosen = quarter or quarters.of(clock.now())
    rows = await repository.latest(session, principal.area, chosen)
    cases = await _open_cases(session, rows)
    return [_out(r, cases) for r in rows]


@router.get("/warning-lists/entries", response_model=list[VillageEntry])
async def list_entries(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    clock: ClockDep,
    quarter: Quarter | None = None,
) -> list[VillageEntry]:
    """The entries of your area on the townships' newest lists for a quarter (default: the
    current), with the household each links and the case it is in: what a village works."""
    permit(principal, Permission.warning_list_entries)
    chosen = quarter or quarters.of(clock.now())
    rows = await repository.latest(session, principal.area[:9], chosen)
    cases = await _open_cases(session, rows)
    return [
        VillageEntry(
            **_entry(e, cases).model_dump(),
            list_id=r.id,
            number=n,
            township_code=r.township_code,
            quarter=r.quarter,
        )
        for r in rows
        for n, e in enumerate(r.entries, start=1)
        if e["village_code"].startswith(principal.area)
    ]


class CaseFromEntry(BaseModel):
    case_id: str
    attached: bool
    """True when the household already had an open case: the entry was reported to it."""


@router.post(
    "/warning-lists/{list_id}/entries/{number}/case",
    response_model=CaseFromEntry,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": CaseFromEntry, "description": "Attached to the open case."}},
)
async def open_case_from_entry(
    list_id: Annotated[str, Path(max_length=36)],
    number: Annotated[int, Path(ge=1, le=5000)],
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> CaseFromEntry:
    """A village cadre opens a cadre-found case from an entry in one step: the linked
    household, the entry's risk type and description, the list as its source. A household
    with an open case gets the entry as a report on it instead (200, ``attached``)."""
    now = clock.now()
    step = CURRENT_WORKFLOW.step(OPEN_ACTIONS[Channel.cadre_found], "new")
    assert step is not None
    row = await session.get(WarningList, list_id)
    entries = row.entries if row is not None else []
    entry = entries[number - 1] if number <= len(entries) else None
    if row is None or entry is None or not entry["village_code"].startswith(principal.area):
        raise EntryNotFound()
    if principal.role not in step.roles:
        raise RoleRefused("A village cadre opens a case from an entry.")
    if not entry.get("household_id"):
        raise EntryNotLinked()
    household = await session.get(Household, entry["household_id"])
    assert household is not None
    report = {
        "channel": Channel.cadre_found.value,
        "risk_type": entry["risk_type"],
        "description": entry["description"],
        "source": f"warning_list:{row.id}:{number}",
    }
    snap, attached = await opening.report_on_household(
        session, principal, household, report, CURRENT_WORKFLOW, step, now
    )
    if attached:
        response.status_code = status.HTTP_200_OK
    else:
        response.headers["Location"] = f"/api/v1/cases/{snap.id}"
    return CaseFromEntry(case_id=snap.id, attached=attached)


@router.get("/warning-lists/status", response_model=QuarterStatus)
async def quarter_status(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    clock: ClockDep,
    quarter: Quarter | None = None,
) -> QuarterStatus:
    """Which townships of your area submitted their list for the quarter, which are late (the
    quarter is over and none came), which still have time."""
    permit(principal, Permission.warning_list_read)
    now = clock.now()
    chosen = quarter or quarters.of(now)
    due = quarters.late_from(chosen)
    townships = await areas.townships(session, principal.area)
    first = {t: at for (_, t), at in (await repository.first_submitted(session, chosen)).items()}
    submitted: list[TownshipDue] = []
    late: list[TownshipDue] = []
    pending: list[TownshipDue] = []
    for code, name in townships:
        at = first.get(code)
        entry = TownshipDue(township_code=code, name=name, submitted_at=at)
        (submitted if at else late if now >= due else pending).append(entry)
    return QuarterStatus(
        quarter=chosen, late_from=due, submitted=submitted, late=late, pending=pending
    )


HEADERS = ["乡镇代码", "乡镇", "村代码", "村", "户主姓名", "风险类型", "风险情况", "报送时间"]


@router.get(
    "/ledgers/warning-list",
    responses={
        200: {
            "content": {
                "application/json": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        }
    },
)
async def warning_list_ledger(
    principal: CurrentPrincipal,
    session: SessionDep,
    reading: ReadSessionDep,
    clock: ClockDep,
    quarter: Quarter | None = None,
    format: Literal["json", "xlsx"] = "json",
) -> Any:
    """乡镇季度预警名单台账: every household on the newest lists of your area's townships, areas
    by name beside their code; 报送时间 in Asia/Shanghai (an Excel time in the workbook)."""
    permit(principal, Permission.ledger_read)
    chosen = quarter or quarters.of(clock.now())
    await log_ledger_read(session, principal, f"warning_list:{chosen}", clock.now())
    entries = [
        (s, e)
        for s in await repository.latest(reading, principal.area, chosen)
        for e in s.entries
        if e["village_code"].startswith(principal.area)
    ]
    codes = {c for s, e in entries for c in (s.township_code, e["village_code"])}
    named = await areas.names(reading, sorted(codes))
    rows = [
        [
            s.township_code,
            named.get(s.township_code, ""),
            e["village_code"],
            named.get(e["village_code"], ""),
            e["head_name"],
            RISK_TYPE.get(e["risk_type"], e["risk_type"]),
            e["description"],
            s.submitted_at,
        ]
        for s, e in entries
    ]
    if format == "json":
        return {"quarter": chosen, "columns": HEADERS, "rows": workbook.json_rows(rows)}
    return workbook.xlsx_response("乡镇季度预警名单", HEADERS, rows, f"warning-list-{chosen}.xlsx")

"""The national export with its batches and acknowledgments, and the ledgers (台账)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.access_log import record as access_log
from app.access_log.record import log_ledger_read
from app.areas import repository as areas
from app.audit import log
from app.auth.dependencies import ClockDep, CurrentPrincipal, SettingsDep
from app.auth.permissions import permit, scope_within
from app.cases import views as case_views
from app.core import workbook
from app.core.crypto import cipher_for
from app.core.db import ReadSessionDep, SessionDep
from app.core.errors import declares
from app.core.limits import MAX_INT
from app.core.routing import api_router
from app.exports import document, national, quality, repository
from app.exports.errors import (
    BatchNotFound,
    CaseAcknowledgedTwice,
    CasesNotInBatch,
    CursorAhead,
    EncodingNotApplicable,
    MemberNotInHousehold,
    UnknownBatch,
    UnknownCases,
)
from app.exports.models import (
    ExportBatch,
    NationalDocument,
    NationalSync,
)
from app.households import idnumber
from app.households.models import Household, Member
from app.national_sheet import corrections, labels, sheet
from workflows.calendar import local_date
from workflows.case import STATE_TITLES
from workflows.permissions import Permission

router = api_router(prefix="/api/v1", tags=["exports"])

MEDIA = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Purpose = Annotated[str, Query(min_length=2, max_length=500, description="Logged with the read.")]
Token = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class ExportBatchOut(BaseModel):
    id: str
    number: int
    """1, 2, 3…: the order exports ran in (one at a time)."""
    after_index: int
    to_index: int
    format: str
    encoding: str
    cases: int
    rows: int
    sha256: str
    created_by: str
    started_at: datetime
    completed_at: datetime
    quality: dict[str, int] | None
    """How many of its cases break each data-quality rule (``GET /api/v1/quality`` lists the
    rules); none for batches from before quality was kept."""


def _batch_out(batch: ExportBatch) -> ExportBatchOut:
    return ExportBatchOut(**{name: getattr(batch, name) for name in ExportBatchOut.model_fields})


@router.get(
    "/exports/national",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {m: {} for m in MEDIA.values()},
            "description": "The cases changed since the cursor, streamed.",
        }
    },
)
async def national_export(
    request: Request,
    principal: CurrentPrincipal,
    settings: SettingsDep,
    clock: ClockDep,
    after: Annotated[
        int | None,
        Query(
            ge=-1,
            le=MAX_INT,
            description="Log index already exported; "
            "default: where your last completed export ended (each consumer its own).",
        ),
    ] = None,
    format: Literal["jsonl", "csv", "xlsx"] = "jsonl",
    encoding: Annotated[Literal["utf-8", "gb18030"], Query(description="CSV only.")] = "utf-8",
    purpose: Purpose = "全国防返贫监测信息系统数据报送",
) -> StreamingResponse:
    """Confirmed cases that changed since ``after`` (and those the national system rejected),
    with their members, under the national sheet's column names (监测对象信息, version in
    ``/exports/national/columns``); ID numbers in full. XLSX: a title on row 1, notes on row
    2, the header on row 3, data from row 4; dates YYYYMMDD, months YYYYMM, flags 是/否. Streamed;
    when the body is complete the export is recorded as a batch and each case as sent. JSON
    Lines: one object per case, its members under ``成员``; a field with no value is left
    out (read a missing name as empty). CSV and XLSX take one row per member, with every
    column; an XLSX sheet takes the 1,048,576 rows Excel opens (the header one of them), and
    the rows after go on in the next sheet."""
    permit(principal, Permission.export_national)
    if format != "csv" and encoding != "utf-8":
        raise EncodingNotApplicable()
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    batch_id, started = str(uuid.uuid4()), clock.now()
    async with sessions() as session, session.begin():
        await log.sequence_all(session, started)
        to = await log.size(session)
        if after is None:
            # each consumer has its own cursor: the city's export never moves the national
            # exporter's past changes it has not sent
            last = await repository.last_batch_of(session, principal.sub)
            after = last.to_index - 1 if last else -1
        if after >= to:
            raise CursorAhead(to, after)
        # logged before a single ID number leaves
        access_log.record(
            session,
            principal,
            "national_export",
            batch_id,
            fields=["id_number"],
            purpose=purpose,
            at=started,
        )
    cipher = cipher_for(settings.field_keys)
    async with sessions() as session:
        area_name = await areas.name(session, principal.area)
    caption = (
        f"{sheet.TITLE}　{area_name or ''}（{principal.area}）　导出时间："
        f"{workbook.excel_value(started):%Y-%m-%d %H:%M:%S}",
        f"表式 {sheet.VERSION}；批次 {batch_id}；每行一名家庭成员，户的信息在每名成员行重复；"
        "证件号码为全号，仅限监测帮扶工作使用。",
    )
    await document.refresh(sessions)  # documents of an older sheet version, rewritten first

    async def body() -> AsyncIterator[bytes]:
        digest, tally = hashlib.sha256(), national.Tally()
        async with sessions() as writer, writer.begin():
            batch = national.Batch(
                await repository.next_batch_number(writer),
                {"area": principal.area + "%", "after": after, "to": to},
                deferred=format != "jsonl",
            )
            hashed: asyncio.Future[None] | None = None
            async with national.reading(sessions, writer, batch) as reader:
                async for chunk in _render(reader, batch, format, encoding, cipher, tally, caption):
                    if hashed is not None:
                        await hashed
                    # hashlib lets go of the GIL: the digest runs beside the next block's work
                    hashed = asyncio.get_running_loop().run_in_executor(None, digest.update, chunk)
                    yield chunk
                if hashed is not None:
                    await hashed
            writer.add(
                ExportBatch(
                    id=batch_id,
                    number=batch.number,
                    after_index=after,
                    to_index=to,
                    format=format,
                    encoding=encoding,
                    cases=tally.cases,
                    rows=tally.rows,
                    sha256=digest.hexdigest(),
                    created_by=principal.sub,
                    started_at=started,
                    completed_at=clock.now(),
                    quality=tally.flagged(),
                )
            )

    extension = {"jsonl": "jsonl", "csv": "csv", "xlsx": "xlsx"}[format]
    media = MEDIA[format] + (f"; charset={encoding}" if format == "csv" else "")
    return StreamingResponse(
        body(),
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="national-{batch_id}.{extension}"',
            "X-Export-Batch": batch_id,
            "X-Export-After": str(after),
            "X-Export-To": str(to),
        },
    )


async def _render(
    session: AsyncSession,
    batch: national.Batch,
    format: str,
    encoding: str,
    cipher: Any,
    tally: national.Tally,
    caption: tuple[str, str],
) -> AsyncIterator[bytes]:
    if format == "jsonl":
        async for chunk in national.stream_jsonl(session, batch, cipher, tally):
            yield chunk
        return
    header = national.headers()
    if format == "csv":
        encode, start = national.csv_lines(header, encoding)
        yield start
        async for block in national.flat_blocks(session, batch, cipher, tally):
            yield encode(block)  # never empty: a block holds whole cases
        return

    async def cells() -> AsyncIterator[list[Any]]:
        """Rows as cells: the numeric columns' decimal strings as numbers (a document's other
        values are text already, and the writer takes them as they are)."""
        async for rows in national.flat_blocks(session, batch, cipher, tally, Decimal):
            for row in rows:
                yield row

    async for chunk in workbook.write_xlsx(sheet.TITLE, header, cells(), caption):
        yield chunk


@router.get("/exports/national/batches", response_model=list[ExportBatchOut])
async def list_batches(
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ExportBatchOut]:
    """Completed national exports, newest first (by number): cursor range, counts, SHA-256
    of the body."""
    permit(principal, Permission.export_batches)
    return [_batch_out(b) for b in await repository.batches(session, limit)]


@router.get("/exports/national/batches/{batch_id}", response_model=ExportBatchOut)
async def get_batch(
    batch_id: str, principal: CurrentPrincipal, session: SessionDep
) -> ExportBatchOut:
    permit(principal, Permission.export_batches)
    batch = await session.get(ExportBatch, batch_id)
    if batch is None:
        raise BatchNotFound(batch_id)
    return _batch_out(batch)


class MemberNumber(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: str = Field(max_length=36)
    member_number: Token
    """人编号."""


class Acknowledgment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: str = Field(max_length=36)
    status: Literal["accepted", "rejected"]
    household_number: Token | None = None
    """户编号, once the national system has given one."""
    members: list[MemberNumber] = Field(default_factory=list, max_length=30)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> Acknowledgment:
        if self.status == "rejected" and not self.reason:
            raise ValueError("a rejection states its reason")
        return self


class AcknowledgmentsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_id: str = Field(max_length=36)
    items: list[Acknowledgment] = Field(min_length=1, max_length=1000)


class AcknowledgmentsOut(BaseModel):
    batch_id: str
    accepted: int
    rejected: int


@router.post("/exports/national/acknowledgments", response_model=AcknowledgmentsOut)
async def acknowledge(
    body: AcknowledgmentsIn, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> AcknowledgmentsOut:
    """The national system's answer per case of a batch: accepted (with its 户编号 and 人编号,
    kept on the household) or rejected with a reason (sent again in the next export). All
    or nothing: one unknown case, or a case that batch did not send, refuses the whole."""
    permit(principal, Permission.export_national)
    now = clock.now()
    batch = await session.get(ExportBatch, body.batch_id)
    if batch is None:
        raise UnknownBatch(body.batch_id)
    ids = [item.case_id for item in body.items]
    if len(set(ids)) != len(ids):
        raise CaseAcknowledgedTwice()
    known = await repository.cases_by_id(session, ids)
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise UnknownCases(unknown)
    latest = await repository.newest_batch_of(session, ids, batch.number)
    outside = [i for i in ids if latest.get(i) != batch.number]
    if outside:
        raise CasesNotInBatch(outside)
    syncs = await repository.syncs_locked(session, ids)
    for item in body.items:
        sync = syncs.get(item.case_id) or NationalSync(case_id=item.case_id)
        session.add(sync)
        sync.status, sync.batch_id, sync.reason = item.status, body.batch_id, item.reason
        sync.acknowledged_at, sync.acknowledged_by = now, principal.sub
        if item.status == "accepted":
            case = known[item.case_id]
            await _keep_numbers(session, case.household_id, item)
            await document.keep(session, case)
    statuses = [item.status for item in body.items]
    return AcknowledgmentsOut(
        batch_id=body.batch_id,
        accepted=statuses.count("accepted"),
        rejected=statuses.count("rejected"),
    )


async def _keep_numbers(session: AsyncSession, household_id: str, item: Acknowledgment) -> None:
    household = await session.get(Household, household_id)
    if household is not None and item.household_number:
        household.household_number = item.household_number
    for numbered in item.members:
        member = await session.get(Member, numbered.member_id)
        if member is None or member.household_id != household_id:
            raise MemberNotInHousehold(numbered.member_id, item.case_id)
        member.member_number = numbered.member_number


class SyncOut(BaseModel):
    case_id: str
    status: Literal["not_exportable", "pending", "exported", "accepted", "rejected"]
    """not_exportable before confirmation; pending when never sent."""
    batch_id: str | None = None
    exported_version: int | None = None
    exported_at: datetime | None = None
    current_version: int
    changed_since_export: bool
    """The case moved on after what was sent: the next export sends it again."""
    reason: str | None = None
    acknowledged_at: datetime | None = None


@router.get("/cases/{case_id}/national-sync", response_model=SyncOut, tags=["exports"])
async def national_sync(case_id: str, principal: CurrentPrincipal, session: SessionDep) -> SyncOut:
    """Where the case stands with the national system."""
    snap, _ = await case_views.read_case(session, principal, case_id, Permission.export_sync)
    sent = await repository.last_sent(session, case_id)
    if sent is None:
        exportable = await session.get(NationalDocument, case_id) is not None
        status = "pending" if exportable else "not_exportable"
        return SyncOut(
            case_id=case_id,
            status=status,
            current_version=snap.version,
            changed_since_export=status == "pending",
        )
    version, batch_id, completed_at = sent
    answer = await session.get(NationalSync, case_id)
    if answer is not None and answer.batch_id != batch_id:
        answer = None  # about an earlier batch: the case was sent again since
    return SyncOut(
        case_id=case_id,
        status=answer.status if answer else "exported",
        batch_id=batch_id,
        exported_version=version,
        exported_at=completed_at,
        current_version=snap.version,
        changed_since_export=snap.version > version,
        reason=answer.reason if answer else None,
        acknowledged_at=answer.acknowledged_at if answer else None,
    )


class SheetColumn(BaseModel):
    name: str
    """Exactly as the national sheet spells it."""
    level: Literal["户", "人"]
    """户: the household's, repeated on each of its member rows; 人: the member's."""
    format: Literal["text", "id", "number", "date", "month", "flag"]
    """id: an identifier (a text cell); number: a numeric cell; date: YYYYMMDD; month: YYYYMM;
    flag: 是/否."""
    collected: bool
    """False where the registry does not collect the field yet: the column is there, empty."""


class SheetOut(BaseModel):
    title: str
    version: str
    columns: list[SheetColumn]
    """In the sheet's order; the service's own columns (case_id, member_id, …) follow them in
    CSV and XLSX."""
    service_columns: list[str]


COLUMNS_DESCRIPTION = (
    "The national sheet (监测对象信息) the export follows: its columns in order, from the "
    "versioned table `app/national_sheet/sheets`. In XLSX, row 1 is a title, row 2 notes, "
    "row 3 the header and data start on row 4, on every sheet. The columns, version "
    f"{sheet.VERSION}: " + " · ".join(sheet.NAMES) + "."
)


@router.get("/exports/national/columns", response_model=SheetOut, description=COLUMNS_DESCRIPTION)
async def national_columns(principal: CurrentPrincipal) -> SheetOut:
    permit(principal, Permission.export_sync)
    return SheetOut(
        title=sheet.TITLE,
        version=sheet.VERSION,
        columns=[
            SheetColumn(name=c.name, level=c.level, format=c.format, collected=c.source is not None)
            for c in sheet.COLUMNS
        ],
        service_columns=list(national.SERVICE_COLUMNS),
    )


class RejectedCase(BaseModel):
    case_id: str
    head_name: str
    village_code: str
    reason: str | None


class AreaSyncOut(BaseModel):
    """Where an area's cases stand with the national system, counted."""

    area: str
    by_status: dict[Literal["not_exportable", "pending", "exported", "accepted", "rejected"], int]
    """Every case of the area by its status, as ``/cases/{id}/national-sync`` gives it."""
    changed_since_export: int
    """Cases sent at least once that moved on since: the next export sends them again."""
    last_export_at: datetime | None
    """When the newest batch was completed (any area's: the cursor is the city's)."""
    rejected: list[RejectedCase]
    """The cases the national system refused in their newest batch, first 100 by village."""


@router.get("/exports/national/sync-status", response_model=AreaSyncOut, responses=declares(404))
async def area_sync_status(
    principal: CurrentPrincipal,
    session: SessionDep,
    area: Annotated[str | None, Query(pattern=r"^\d{6,12}$")] = None,
) -> AreaSyncOut:
    """Your area's (or a part of it) cases by national sync status, with the refused ones."""
    permit(principal, Permission.export_sync)
    scope = scope_within(principal, area)
    by_status, changed, refused = await repository.sync_status(session, scope)
    rejected = [
        RejectedCase(case_id=i, head_name=n, village_code=v, reason=r) for i, n, v, r in refused
    ]
    last = await repository.last_export_at(session)
    return AreaSyncOut(
        area=area or principal.area,
        by_status=by_status,
        changed_since_export=changed,
        last_export_at=last,
        rejected=rejected,
    )


LEDGER_HEAD = [
    "案件编号",
    "县",
    "乡镇代码",
    "乡镇",
    "村代码",
    "村",
    "户主姓名",
    "户主证件号码",
    "家庭人口数",
    "当前状态",
]
LEDGER_FIELDS = [
    *(c.name for c in sheet.HOUSEHOLD if c.name not in ("县", "乡", "村", *document.SEALED)),
    "家庭纯收入",
    "收入核查日期",
    "帮扶责任人单位",
]
"""After the ledger's own head: the national sheet's household columns, then the service's."""
DAYS = {"收入核查日期"}


def typed(field: str, value: Any) -> Any:
    """A national field as a cell: amounts as numbers, days as dates, the rest as text."""
    if value in ("", None):
        return None
    if field in DAYS:
        return date.fromisoformat(value)
    return sheet.cell(field, value)


@router.get(
    "/ledgers/monitored-households",
    responses={
        200: {
            "content": {"application/json": {}, MEDIA["xlsx"]: {}},
            "description": "The ledger as JSON rows, or an Excel workbook.",
        }
    },
)
async def monitored_households_ledger(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    reading: ReadSessionDep,
    clock: ClockDep,
    area: Annotated[str | None, Query(pattern=r"^\d{6,12}$")] = None,
    format: Literal["json", "xlsx"] = "json",
    purpose: Purpose = "台账",
) -> Any:
    """监测对象台账 of your area (or a part of it): every confirmed household with its risk
    types, responsible person, measures by category and elimination. ID numbers masked; in
    Excel, amounts are numbers and days are dates."""
    permit(principal, Permission.ledger_read)
    scope = scope_within(principal, area)
    await document.refresh(request.app.state.sessionmaker)  # as the lists now stand
    query = repository.ledger(scope)
    header = LEDGER_HEAD + LEDGER_FIELDS

    def row(values: Any) -> list[Any]:
        *head, masked, size, state, stored = values
        record = json.loads(stored)
        return [
            *head,
            idnumber.shown(masked),
            size,
            STATE_TITLES.get(state, state),
            *(typed(f, record.get(f)) for f in LEDGER_FIELDS),
        ]

    await log_ledger_read(session, principal, f"monitored_households:{scope}", clock.now(), purpose)
    if format == "json":
        rows = workbook.json_rows(row(r) for r in (await reading.execute(query)).all())
        return {"columns": header, "rows": rows}

    replica: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker

    async def rows_of() -> AsyncIterator[list[Any]]:
        async with replica() as streaming:  # the request's session ends before the body does
            async for values in await streaming.stream(query.execution_options(yield_per=1000)):
                yield row(values)

    return StreamingResponse(
        workbook.write_xlsx("监测对象台账", header, rows_of()),
        media_type=MEDIA["xlsx"],
        headers={"Content-Disposition": f'attachment; filename="ledger-{scope}.xlsx"'},
    )


class QualityRuleOut(BaseModel):
    code: str
    message: str
    """In Chinese, as the report shows it."""
    message_en: str
    households: int
    """How many households of the area break it."""


class FlaggedHousehold(BaseModel):
    case_id: str
    village_code: str
    village: str
    head_name: str
    codes: list[str]


class QualityReport(BaseModel):
    """数据质量: the national audits' softer checks, on the national documents as exported."""

    area: str
    on: date
    """The day ages are counted on: the report's own date."""
    households: int
    """Confirmed households of the area, every one checked."""
    rules: list[QualityRuleOut]
    """Every rule, whether or not any household breaks it."""
    flagged: list[FlaggedHousehold]
    """The households breaking at least one rule, by village."""


QUALITY_HEAD = ["案件编号", "村代码", "村", "户主姓名", "规则代码", "问题"]


@router.get(
    "/quality",
    response_model=QualityReport,
    tags=["exports"],
    responses={
        200: {
            "content": {"application/json": {}, MEDIA["xlsx"]: {}},
            "description": "The report as JSON, or an Excel workbook of its rows.",
        },
        **declares(404),
    },
)
async def quality_report(
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    reading: ReadSessionDep,
    clock: ClockDep,
    area: Annotated[str | None, Query(pattern=r"^\d{6,12}$")] = None,
    format: Literal["json", "xlsx"] = "json",
    purpose: Purpose = "数据质量核查",
) -> Any:
    """The data-quality report of your area (or a part of it): every confirmed household
    checked against each rule at today's date, the count per rule and the households flagged
    with their rules. XLSX: one row per household and rule."""
    permit(principal, Permission.ledger_read)
    scope = scope_within(principal, area)
    today = local_date(clock.now())
    await document.refresh(request.app.state.sessionmaker)  # as the lists now stand
    await log_ledger_read(session, principal, f"quality:{scope}", clock.now(), purpose)
    query = repository.documents(scope)
    counts = dict.fromkeys(quality.BY_CODE, 0)
    flagged: list[FlaggedHousehold] = []
    checked = 0
    for case_id, stored in (await reading.execute(query)).all():
        record = json.loads(stored)
        checked += 1
        codes = quality.flags(record, today)
        for code in codes:
            counts[code] += 1
        if codes:
            flagged.append(
                FlaggedHousehold(
                    case_id=case_id,
                    village_code=record.get("行政区划代码", ""),
                    village=record.get("村", ""),
                    head_name=record.get("户主姓名", ""),
                    codes=codes,
                )
            )
    rules = [
        QualityRuleOut(code=r.code, message=r.zh, message_en=r.en, households=counts[r.code])
        for r in quality.RULES
    ]
    if format == "json":
        return QualityReport(area=scope, on=today, households=checked, rules=rules, flagged=flagged)
    rows = [
        [h.case_id, h.village_code, h.village, h.head_name, code, quality.BY_CODE[code].zh]
        for h in flagged
        for code in h.codes
    ]
    summary = "；".join(f"{r.message} {r.households}户" for r in rules if r.households)
    caption = (
        f"数据质量核查　{scope}　核查日期：{today:%Y-%m-%d}　共{checked}户",
        summary or "未发现问题",
    )
    return StreamingResponse(
        workbook.write_xlsx("数据质量", QUALITY_HEAD, _each(rows), caption),
        media_type=MEDIA["xlsx"],
        headers={"Content-Disposition": f'attachment; filename="quality-{scope}.xlsx"'},
    )


async def _each(rows: list[list[Any]]) -> AsyncIterator[list[Any]]:
    for row in rows:
        yield row


class CodeListsOut(BaseModel):
    version: str
    """``2022.1`` as released, ``2022.1/c<n>`` after the city's n-th correction."""
    lists: dict[str, Any]
    """Each list: its column, the national items, the service identifiers' mapping, and
    ``provisional`` where the item spellings were not confirmed (the city may correct them)."""


class CorrectionOut(BaseModel):
    number: int
    base_version: str
    changed: list[str]
    created_at: datetime
    created_by: str
    reason: str


@router.get("/code-lists", response_model=CodeListsOut)
async def code_lists(principal: CurrentPrincipal, session: SessionDep) -> CodeListsOut:
    """The national code lists the exports use now: the release's, as the city corrected them."""
    permit(principal, Permission.policy_read)
    await corrections.ensure_current(session)
    return CodeListsOut(version=labels.ACTIVE, lists=labels.CODE_LISTS)


@router.get("/code-lists/corrections", response_model=list[CorrectionOut])
async def code_list_corrections(
    principal: CurrentPrincipal, session: SessionDep
) -> list[CorrectionOut]:
    """Every correction, oldest first: who changed which lists, when and why."""
    permit(principal, Permission.policy_read)
    rows = await corrections.listed(session)
    return [
        CorrectionOut(
            number=r.number,
            base_version=r.base_version,
            changed=r.changed,
            created_at=r.created_at,
            created_by=r.created_by,
            reason=r.reason,
        )
        for r in rows
    ]


@router.post(
    "/code-lists/corrections",
    response_model=CodeListsOut,
    status_code=status.HTTP_201_CREATED,
    responses=declares(422, 409),
)
async def correct_code_lists(
    body: corrections.CorrectionIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> CodeListsOut:
    """Correct national code lists without a release (the city bureau): for each list, its
    national items and every service identifier's item. Written once, with a reason; the
    national documents are rewritten with the corrected lists before the next export, ledger
    or quality report."""
    await corrections.correct(session, principal, body, clock.now())
    return CodeListsOut(version=labels.ACTIVE, lists=labels.CODE_LISTS)

"""部门筛查预警: sector departments send warning batches (CSV, XLSX, JSON); each row is checked
and reported on; the city classifies and distributes the accepted warnings to townships; the
department gets back, per warning, the verification outcome and whether the household became
a monitored household. Media and petition (信访) signals enter the same way, sent by the city."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.auth.dependencies import ClockDep, CurrentPrincipal, SettingsDep
from app.auth.permissions import permit
from app.core.db import SessionDep
from app.core.errors import Unprocessable
from app.core.limits import MAX_INT
from app.core.routing import api_router
from app.department_warnings import parsing, repository, service
from app.department_warnings.models import DepartmentWarning, WarningBatch, WarningDisposition
from app.households import idnumber
from workflows.calendar import start_of_local_day
from workflows.case import PUBLIC_STAGES
from workflows.permissions import Permission
from workflows.vocabulary import RiskType, Role

router = api_router(prefix="/api/v1/warning-batches", tags=["department warnings"])

Source = Literal["department", "media", "petition"]
Reference = Annotated[str, StringConstraints(pattern=r"^[\w.\-/]{1,64}$")]
Filename = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RowReason(BaseModel):
    code: str
    field: str
    message: str


class RowOut(BaseModel):
    line: int
    status: Literal["accepted", "rejected"]
    reasons: list[RowReason]
    """Why a rejected row was refused, every reason."""
    notes: list[RowReason] = []
    """What the report says of an accepted row (``village_differs``: routed to the village the
    person is registered in)."""
    name: str | None
    id_number_masked: str | None
    village_code: str | None
    risk_type: str | None
    flagged_on: date | None
    matched: Literal["household", "open_case"] | None
    """The person belongs to a registered household; ``open_case``: one with an open case."""


class WarningBatchOut(BaseModel):
    id: str
    source: Source
    sender: str
    area_code: str
    reference: str | None
    format: Literal["csv", "xlsx", "json"]
    encoding: str | None
    filename: str | None
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    rows: int
    accepted: int
    rejected: int
    matched_households: int
    matched_open_cases: int
    distributed: int
    dismissed: int
    rejected_rows: list[RowOut]
    """The first 100 rejected rows; all of them: ``GET …/rows?status=rejected``."""


class RowPage(BaseModel):
    items: list[RowOut]
    next_after: int | None


class DispositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: int = Field(ge=1, le=MAX_INT)
    decision: Literal["distribute", "dismiss"]
    risk_type: RiskType | None = None
    """The city's classification; default: the risk the department named."""
    reason: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
        | None
    ) = None
    """Required to dismiss."""

    @model_validator(mode="after")
    def _reason(self) -> DispositionIn:
        if self.decision == "dismiss" and not self.reason:
            raise ValueError("a dismissal gives its reason")
        return self


class DispositionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[DispositionIn] = Field(min_length=1, max_length=500)


class DispositionOut(BaseModel):
    line: int
    decision: Literal["distributed", "dismissed"]
    risk_type: str | None
    township_code: str | None
    reason: str | None
    case_id: str | None
    attached: bool | None
    decided_by: str
    decided_at: datetime


class FeedbackOut(BaseModel):
    """What the department learns of one accepted warning (核实结果反馈)."""

    line: int
    name: str | None
    id_number_masked: str | None
    village_code: str | None
    risk_type: str | None
    disposition: Literal["pending", "distributed", "dismissed"]
    dismissal_reason: str | None
    outcome: Literal[
        "awaiting_distribution",
        "dismissed",
        "received",
        "under_review",
        "monitored",
        "risk_eliminated",
        "not_included",
        "withdrawn",
    ]
    """Where the verification stands."""
    became_monitored: bool | None
    """Once determined: whether the household became a monitored household (监测对象)."""
    monitoring_type: str | None


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next_after: int | None


def _shown(masked: str | None) -> str | None:
    return idnumber.shown(masked) if masked else None


def _row_out(w: DepartmentWarning) -> RowOut:
    matched = "open_case" if w.case_id else "household" if w.household_id else None
    said = [RowReason(**r) for r in w.reasons or []]
    accepted = w.status == "accepted"
    return RowOut(
        line=w.line,
        status=w.status,
        reasons=[] if accepted else said,
        notes=said if accepted else [],
        name=w.name,
        id_number_masked=_shown(w.id_masked),
        village_code=w.village_code,
        risk_type=w.risk_type,
        flagged_on=w.flagged_on,
        matched=matched,
    )


async def _batch_out(
    session: Any, batch: WarningBatch, counts: dict[str, int] | None = None
) -> WarningBatchOut:
    counts = counts or (await service.summary(session, [batch.id]))[batch.id]
    rejected = await repository.rows(
        session, batch.id, status="rejected", after=0, limit=service.SHOWN_REJECTED
    )
    return WarningBatchOut(
        id=batch.id,
        source=batch.source,
        sender=batch.sender,
        area_code=batch.area_code,
        reference=batch.reference,
        format=batch.format,
        encoding=batch.encoding,
        filename=batch.filename,
        sha256=batch.sha256,
        uploaded_by=batch.uploaded_by,
        uploaded_at=batch.uploaded_at,
        **counts,
        rejected_rows=[_row_out(w) for w in rejected],
    )


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": True},
                }
            },
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WarningBatchOut,
    openapi_extra=UPLOAD_BODY,
    responses={200: {"description": "The same file was sent before: that batch, unchanged."}},
)
async def upload(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    source: Source = "department",
    reference: Reference | None = None,
    filename: Filename | None = None,
) -> WarningBatchOut:
    """A batch of warnings, as the file itself: ``text/csv; charset=utf-8`` (or ``gb18030``),
    an XLSX workbook (first sheet), or a JSON array of objects. The first row (or the keys)
    names the columns: 姓名, 证件号码, 村代码, 风险类型 (the identifier or its Chinese name),
    预警信息, optionally 预警日期. Every row is checked; rejected rows are reported with every
    reason and never block the others. A file not readable as declared is refused whole (422,
    nothing stored). The same file again answers 200 with the batch it made; a ``reference``
    sent again with other contents is 409."""
    permit(principal, Permission.warning_batch_upload)
    sender = service.sender_of(principal, source)
    fmt, charset = service.media_of(request.headers.get("content-type"))
    try:
        encoding = parsing.sniff_encoding(charset) if fmt == "csv" else None
        if fmt == "json" and charset and parsing.sniff_encoding(charset) != "utf-8":
            raise parsing.Unreadable("encoding_unsupported", "JSON is UTF-8.")
    except parsing.Unreadable as exc:
        raise Unprocessable(exc.code, exc.detail) from exc
    file, sha256 = await service.spool(request.stream())
    with file:
        batch, created = await service.take(
            session,
            principal,
            file,
            sha256,
            source=source,
            sender=sender,
            reference=reference,
            fmt=fmt,
            encoding=encoding,
            filename=filename,
            now=clock.now(),
            settings=settings,
        )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/warning-batches/{batch.id}"
    return await _batch_out(session, batch)


@router.get("", response_model=list[WarningBatchOut])
async def list_batches(
    principal: CurrentPrincipal,
    session: SessionDep,
    since: Annotated[date | None, Query(alias="from")] = None,
    limit: int = Query(50, ge=1, le=200),
) -> list[WarningBatchOut]:
    """Batches newest first: a department's own; all of them for the city."""
    permit(principal, Permission.warning_batch_read)
    batches = await repository.batches(
        session,
        principal.area,
        sender=principal.department if principal.role == Role.department else None,
        # uploaded on that day in Asia/Shanghai or later
        since=start_of_local_day(since) if since is not None else None,
        limit=limit,
    )
    counts = await service.summary(session, [b.id for b in batches])  # one query for all
    return [await _batch_out(session, b, counts[b.id]) for b in batches]


@router.get("/{batch_id}", response_model=WarningBatchOut)
async def get_batch(
    batch_id: str, principal: CurrentPrincipal, session: SessionDep
) -> WarningBatchOut:
    batch = await service.visible_batch(session, principal, batch_id)
    permit(principal, Permission.warning_batch_read)
    return await _batch_out(session, batch)


@router.get("/{batch_id}/rows", response_model=RowPage)
async def batch_rows(
    batch_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    status: Literal["accepted", "rejected"] | None = None,
    after: int = Query(0, ge=0, le=MAX_INT),
    limit: int = Query(500, ge=1, le=5000),
) -> RowPage:
    """The per-row report, by line: accepted (and matched to a registered household or an
    open case) or rejected with every reason."""
    batch = await service.visible_batch(session, principal, batch_id)
    permit(principal, Permission.warning_batch_read)
    rows = await repository.rows(session, batch.id, status=status, after=after, limit=limit + 1)
    more = len(rows) > limit
    return RowPage(
        items=[_row_out(w) for w in rows[:limit]], next_after=rows[limit - 1].line if more else None
    )


@router.post(
    "/{batch_id}/dispositions",
    response_model=list[DispositionOut],
    status_code=status.HTTP_201_CREATED,
)
async def dispose(
    batch_id: str,
    body: DispositionsIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> list[DispositionOut]:
    """The city classifies accepted warnings: ``distribute`` opens a ``department_flagged`` case
    for the person's household (registering it from the warning if it is not yet) and sends it
    to the township of its village, or reports the warning to the household's open case;
    ``dismiss`` closes the warning with a reason. All items or none."""
    batch = await service.visible_batch(session, principal, batch_id)
    permit(principal, Permission.warning_batch_distribute)
    items = [
        {
            **i.model_dump(mode="json"),
            "decision": i.decision + "d" if i.decision == "distribute" else "dismissed",
        }
        for i in body.items
    ]
    done = await service.dispose(session, principal, batch, items, clock.now(), settings)
    return [
        DispositionOut(
            line=d.line,
            decision=d.decision,
            risk_type=d.risk_type,
            township_code=d.township_code,
            reason=d.reason,
            case_id=d.case_id,
            attached=d.attached,
            decided_by=d.decided_by,
            decided_at=d.decided_at,
        )
        for d in done
    ]


@router.get("/{batch_id}/feedback", response_model=FeedbackPage)
async def feedback(
    batch_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    after: int = Query(0, ge=0, le=MAX_INT),
    limit: int = Query(500, ge=1, le=5000),
) -> FeedbackPage:
    """Per accepted warning: whether the city has distributed it, where its verification
    stands, and — once determined — whether the household became a monitored household."""
    batch = await service.visible_batch(session, principal, batch_id)
    permit(principal, Permission.warning_batch_read)
    rows = await repository.feedback(session, batch.id, after, limit + 1)
    items = [_feedback(w, d, state, kind) for w, d, state, kind in rows[:limit]]
    more = len(rows) > limit
    return FeedbackPage(items=items, next_after=rows[limit - 1][0].line if more else None)


def _feedback(
    w: DepartmentWarning, d: WarningDisposition | None, state: str | None, kind: str | None
) -> FeedbackOut:
    if d is None:
        outcome, became = "awaiting_distribution", None
    elif d.decision == "dismissed":
        outcome, became = "dismissed", False
    else:
        outcome = PUBLIC_STAGES[state or "new"]
        became = (
            True
            if outcome in ("monitored", "risk_eliminated")
            else False
            if outcome in ("not_included", "withdrawn")
            else None
        )
    return FeedbackOut(
        line=w.line,
        name=w.name,
        id_number_masked=_shown(w.id_masked),
        village_code=w.village_code,
        risk_type=w.risk_type,
        disposition="pending" if d is None else d.decision,
        dismissal_reason=d.reason if d and d.decision == "dismissed" else None,
        outcome=outcome,
        became_monitored=became,
        monitoring_type=kind if became else None,
    )

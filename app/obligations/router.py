"""The obligations calendar: recurring duties per township and department, their
completions, and what is overdue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query, status
from pydantic import BaseModel, ConfigDict, StringConstraints

from app.areas import repository as areas
from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.auth.errors import RoleRefused
from app.auth.permissions import permit
from app.auth.tokens import Principal
from app.core.db import ReadSessionDep, SessionDep
from app.core.routing import api_router
from app.obligations import derived, repository
from app.obligations.calendar import BY_KIND, DEPARTMENTS, DUTIES, overdue_from, periods
from app.obligations.errors import (
    AlreadyCompleted,
    CompletedByRecords,
    PeriodNotBegun,
    PeriodUnknown,
)
from app.obligations.models import Completion
from app.warning_lists import repository as warning_lists
from workflows.calendar import local_date
from workflows.permissions import Permission
from workflows.vocabulary import Role

router = api_router(prefix="/api/v1/obligations", tags=["obligations"])

Kind = Literal[
    "concentrated_screening",
    "township_warning_list",
    "elimination_assessment",
    "township_study",
    "department_study",
    "department_risk_assessment",
]


PERIOD = r"^[1-9]\d{3}(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?$"
"""A year, a month (2026-04), a quarter (2026-Q2) or a half (2026-H1)."""


class CompletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind
    period: Annotated[
        str, StringConstraints(pattern=r"^[1-9]\d{3}(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?$")
    ]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    evidence_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    """The study's or assessment's minutes (SHA-256 of the scanned document)."""


class CompletionOut(BaseModel):
    id: str
    kind: str
    period: str
    party: str
    completed_by: str
    completed_at: datetime


class ObligationOut(BaseModel):
    kind: str
    title: str
    period: str
    party: str
    """A township's area code or a department."""
    party_name: str
    due_at: datetime
    """Overdue from this moment (00:00 Asia/Shanghai after the period's last day)."""
    completed_at: datetime | None
    overdue: bool
    """Past due with nothing recorded."""


def _party(principal: Principal, kind: str) -> str:
    duty = BY_KIND[kind]
    if duty.party == "township":
        if principal.role != Role.township_official or len(principal.area) != 9:
            raise RoleRefused(f"{duty.title} is a township's duty.")
        return principal.area
    if principal.role != Role.department or not principal.department:
        raise RoleRefused(f"{duty.title} is a department's duty.")
    return principal.department


@router.post("/completions", status_code=status.HTTP_201_CREATED, response_model=CompletionOut)
async def complete(
    body: CompletionIn, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> CompletionOut:
    """Record that your township or department did a duty for a period (the warning list
    counts by being submitted, not here)."""
    permit(principal, Permission.obligation_complete)
    derived = BY_KIND[body.kind].derived_from
    if derived:
        raise CompletedByRecords(BY_KIND[body.kind].title, derived)
    party = _party(principal, body.kind)
    now = clock.now()
    year = int(body.period[:4])
    known = {p for p, _, _ in periods(BY_KIND[body.kind], year)}
    if body.period not in known:
        raise PeriodUnknown(BY_KIND[body.kind].title, known)
    first = next(start for p, start, _ in periods(BY_KIND[body.kind], year) if p == body.period)
    if local_date(now) < first:
        raise PeriodNotBegun(body.period)
    done = await repository.completed_at(session, body.kind, body.period, party)
    if done is not None:
        raise AlreadyCompleted(BY_KIND[body.kind].title, body.period, done)
    row = Completion(
        id=str(uuid.uuid4()),
        kind=body.kind,
        period=body.period,
        party=party,
        note=body.note,
        evidence_sha256=body.evidence_sha256,
        completed_by=principal.sub,
        completed_at=now,
    )
    session.add(row)
    return CompletionOut(
        id=row.id,
        kind=row.kind,
        period=row.period,
        party=row.party,
        completed_by=row.completed_by,
        completed_at=row.completed_at,
    )


@router.get("", response_model=list[ObligationOut])
async def calendar(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    clock: ClockDep,
    year: Annotated[int | None, Query(ge=2020, le=2100)] = None,
    overdue: bool = False,
) -> list[ObligationOut]:
    """Every duty of the year for the townships of your area (a department: its own duties),
    with its due time and completion; ``overdue=true`` keeps the overdue ones."""
    permit(principal, Permission.obligation_read)
    now = clock.now()
    chosen = year or local_date(now).year
    townships: list[tuple[str, str]] = []
    departments: list[str] = []
    if principal.role == Role.department:
        departments = [principal.department] if principal.department else []
    else:
        townships = await areas.townships(session, principal.area)
        if len(principal.area) <= 6:
            departments = list(DEPARTMENTS)
    done = await repository.completions(session, chosen)
    for (period, party), at in (await warning_lists.first_submitted(session, str(chosen))).items():
        done[("township_warning_list", period, party)] = at
    codes = [code for code, _ in townships]
    done.update(await derived.screened(session, chosen, codes))
    done.update(await derived.assessed(session, chosen, codes))
    out = []
    for duty in DUTIES:
        parties = townships if duty.party == "township" else [(d, d) for d in departments]
        for period, _, day_after in periods(duty, chosen):
            due = overdue_from(day_after)
            for code, name in parties:
                completed = done.get((duty.kind, period, code))
                late = completed is None and now >= due
                if overdue and not late:
                    continue
                out.append(
                    ObligationOut(
                        kind=duty.kind,
                        title=duty.title,
                        period=period,
                        party=code,
                        party_name=name,
                        due_at=due,
                        completed_at=completed,
                        overdue=late,
                    )
                )
    return out

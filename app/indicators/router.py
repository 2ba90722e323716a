"""科学制定预警指标: the city's warning indicators, their evaluation, and the alerts they propose.

* ``department_threshold``: in the newest snapshot of a department dataset, the registered
  households with a member whose attribute passes the threshold (e.g. medical spending above
  20,000 yuan), counted per village or township; an area with at least ``min_households``
  of them is proposed.
* ``disaster_area``: the areas a disaster struck (as the emergency department reports them):
  each is proposed.

A proposal is confirmed by the city (a regional alert opens over its area, and every
registered household there becomes screening work) or dismissed with a reason.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.auth.permissions import permit
from app.auth.tokens import Principal
from app.core import blind
from app.core.db import ReadSessionDep, SessionDep
from app.core.routing import api_router
from app.department_data import repository as department_data
from app.households import repository as households
from app.indicators import repository
from app.indicators.errors import (
    AlertPeriodReversed,
    IndicatorNotFound,
    ProposalDecided,
    ProposalNotFound,
)
from app.indicators.models import AlertProposal, WarningIndicator
from app.national_sheet.labels import REGIONAL_RISK
from app.screening import service as screening
from workflows.calendar import local_date
from workflows.comparison import DATASETS
from workflows.permissions import Permission
from workflows.vocabulary import RegionalRisk

router = api_router(prefix="/api/v1", tags=["warning-indicators"])

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AreaCode = Annotated[str, StringConstraints(pattern=r"^\d{9}$|^\d{12}$")]
Operator = Literal[">", ">=", "<", "<=", "=="]


class ThresholdRule(BaseModel):
    """A department dataset's attribute past a threshold, in enough households of an area."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["department_threshold"]
    dataset: str = Field(examples=["medical_spending"])
    attribute: str = Field(examples=["out_of_pocket"])
    operator: Operator
    value: Decimal | bool | str = Field(examples=["20000"])
    level: Literal["village", "township"] = "village"
    min_households: int = Field(default=1, ge=1, le=10000)

    @model_validator(mode="after")
    def _known(self) -> ThresholdRule:
        spec = DATASETS.get(self.dataset)
        if spec is None:
            raise ValueError(f"unknown dataset; one of {', '.join(sorted(DATASETS))}")
        fields = spec.attributes.model_fields
        if self.attribute not in fields:
            raise ValueError(f"{self.dataset} has the attributes {', '.join(fields)}")
        annotation = fields[self.attribute].annotation
        numeric = annotation in (int, Decimal)
        if numeric:
            try:
                number = Decimal(str(self.value))
            except ArithmeticError:
                raise ValueError(f"{self.attribute} is a number: give a number") from None
            if isinstance(self.value, bool) or not number.is_finite():
                raise ValueError(f"{self.attribute} is a number: give a number")
            self.value = number
        elif self.operator != "==":
            raise ValueError(f"{self.attribute} is not a number: only == compares it")
        return self


class DisasterRule(BaseModel):
    """The areas a disaster struck: each is proposed."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["disaster_area"]
    area_codes: list[AreaCode] = Field(min_length=1, max_length=200)


class IndicatorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    cause: RegionalRisk
    rule: ThresholdRule | DisasterRule = Field(discriminator="kind")


class IndicatorOut(BaseModel):
    id: str
    name: str
    cause: RegionalRisk
    rule: dict[str, Any]
    created_by: str
    created_at: datetime


class ProposalOut(BaseModel):
    id: str
    indicator_id: str
    cause: RegionalRisk
    area_code: str
    evidence: dict[str, Any]
    proposed_at: datetime
    status: Literal["proposed", "confirmed", "dismissed"]
    alert_id: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["confirm", "dismiss"]
    starts_on: date | None = None
    """The alert's first day (default: today)."""
    ends_on: date | None = None
    description: Text | None = None
    """The alert's description (default: what the indicator found)."""
    reason: Text | None = None
    """Why a proposal is dismissed (required then)."""

    @model_validator(mode="after")
    def _reasoned(self) -> DecisionIn:
        if self.decision == "dismiss" and not self.reason:
            raise ValueError("a dismissal states its reason")
        return self


STATUSES: dict[str, Literal["proposed", "confirmed", "dismissed"]] = {
    "proposed": "proposed",
    "confirmed": "confirmed",
    "dismissed": "dismissed",
}


def _indicator_out(row: WarningIndicator) -> IndicatorOut:
    return IndicatorOut(
        id=row.id,
        name=row.name,
        cause=RegionalRisk(row.cause),
        rule=row.rule,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _proposal_out(row: AlertProposal, cause: str) -> ProposalOut:
    return ProposalOut(
        id=row.id,
        indicator_id=row.indicator_id,
        cause=RegionalRisk(cause),
        area_code=row.area_code,
        evidence=row.evidence,
        proposed_at=row.proposed_at,
        status=STATUSES[row.status],
        alert_id=row.alert_id,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        reason=row.reason,
    )


@router.post("/warning-indicators", response_model=IndicatorOut, status_code=201)
async def define_indicator(
    body: IndicatorIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
) -> IndicatorOut:
    """The city defines a warning indicator (its areas checked against the register)."""
    permit(principal, Permission.warning_indicator_define)
    if isinstance(body.rule, DisasterRule):
        await screening.check_areas(session, principal, body.rule.area_codes)
    row = WarningIndicator(
        id=str(uuid.uuid4()),
        name=body.name,
        cause=body.cause.value,
        kind=body.rule.kind,
        rule=body.rule.model_dump(mode="json"),
        created_by=principal.sub,
        created_at=clock.now(),
    )
    session.add(row)
    response.headers["Location"] = f"/api/v1/warning-indicators/{row.id}"
    return _indicator_out(row)


@router.get("/warning-indicators", response_model=list[IndicatorOut])
async def list_indicators(
    principal: CurrentPrincipal, session: ReadSessionDep
) -> list[IndicatorOut]:
    permit(principal, Permission.warning_indicator_read)
    return [_indicator_out(r) for r in await repository.indicators(session)]


async def _found(
    session: AsyncSession, principal: Principal, indicator: WarningIndicator
) -> dict[str, dict[str, Any]]:
    """What an indicator finds now, per area of the caller's: the evidence of each."""
    rule = indicator.rule
    if indicator.kind == "disaster_area":
        return {
            code: {"reported_area": code}
            for code in rule["area_codes"]
            if code.startswith(principal.area)
        }
    snapshot = await department_data.newest_snapshot(session, rule["dataset"])
    if snapshot is None:
        return {}
    spec = DATASETS[rule["dataset"]]
    records = await department_data.records_of(session, snapshot.id)
    passing = {
        digest
        for digest, attributes in records
        if _passes(
            getattr(spec.attributes.model_validate(attributes), rule["attribute"]),
            rule["operator"],
            rule["value"],
        )
    }
    if not passing:
        return {}
    length = 12 if rule["level"] == "village" else 9
    digests = await blind.equivalents(session, passing)
    counted = await households.households_per_area(session, digests, principal.area, length)
    return {
        code: {
            "households": count,
            "dataset": rule["dataset"],
            "snapshot_id": snapshot.id,
            "snapshot_imported_at": snapshot.imported_at.isoformat(),
        }
        for code, count in counted
        if count >= rule["min_households"]
    }


def _passes(actual: Any, operator: str, value: Any) -> bool:
    if operator == "==":
        return str(actual).lower() == str(value).lower()
    left, right = Decimal(str(actual)), Decimal(str(value))
    compared = {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}
    return compared[operator]


@router.post(
    "/warning-indicators/{indicator_id}/evaluations",
    response_model=list[ProposalOut],
    status_code=201,
)
async def evaluate(
    indicator_id: Annotated[str, Path(max_length=36)],
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> list[ProposalOut]:
    """Evaluate an indicator now: a proposal for each area it finds that has none pending
    (answers the new ones)."""
    permit(principal, Permission.warning_indicator_define)
    now = clock.now()
    indicator = await session.get(WarningIndicator, indicator_id)
    if indicator is None:
        raise IndicatorNotFound(indicator_id)
    found = await _found(session, principal, indicator)
    pending = await repository.pending_areas(session, indicator.id)
    new = [
        AlertProposal(
            id=str(uuid.uuid4()),
            indicator_id=indicator.id,
            area_code=code,
            evidence=evidence,
            proposed_at=now,
            status="proposed",
        )
        for code, evidence in sorted(found.items())
        if code not in pending
    ]
    session.add_all(new)
    return [_proposal_out(p, indicator.cause) for p in new]


@router.get("/alert-proposals", response_model=list[ProposalOut])
async def list_proposals(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    status_: Annotated[
        Literal["proposed", "confirmed", "dismissed"] | None, Query(alias="status")
    ] = None,
) -> list[ProposalOut]:
    """Proposals in your area, newest first."""
    permit(principal, Permission.warning_indicator_read)
    found = await repository.proposals(session, principal.area, status_)
    return [_proposal_out(p, cause) for p, cause in found]


@router.post("/alert-proposals/{proposal_id}/decision", response_model=ProposalOut)
async def decide(
    proposal_id: Annotated[str, Path(max_length=36)],
    body: DecisionIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
) -> ProposalOut:
    """Confirm a proposal (a regional alert opens over its area) or dismiss it, once."""
    now = clock.now()
    found = await repository.proposal_locked(session, proposal_id, principal.area)
    if found is None:
        raise ProposalNotFound(proposal_id)
    permit(principal, Permission.warning_indicator_define)
    proposal, indicator = found
    if proposal.status != "proposed":
        raise ProposalDecided(proposal.status)
    if body.decision == "confirm":
        starts = body.starts_on or local_date(now)
        if body.ends_on is not None and body.ends_on < starts:
            raise AlertPeriodReversed()
        codes = await screening.check_areas(session, principal, [proposal.area_code])
        described = body.description or f"{indicator.name}: {_evidence(proposal.evidence)}"
        alert = await screening.open_round(
            session,
            principal,
            now,
            kind="regional_alert",
            cause=indicator.cause,
            title=f"{REGIONAL_RISK[indicator.cause]}风险排查",
            area_codes=codes,
            description=described,
            starts_on=starts,
            ends_on=body.ends_on,
        )
        proposal.status, proposal.alert_id = "confirmed", alert.id
    else:
        proposal.status, proposal.reason = "dismissed", body.reason
    proposal.decided_by, proposal.decided_at = principal.sub, now
    return _proposal_out(proposal, indicator.cause)


def _evidence(evidence: dict[str, Any]) -> str:
    if "households" in evidence:
        return f"{evidence['households']} households past the threshold"
    return "a disaster area"

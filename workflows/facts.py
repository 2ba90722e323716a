"""Facts recorded on a case, their payloads, and the reducer that folds events into facts.

The facts document stored on a case is always ``fold(events)``: replay recomputes it from the
trail and compares, and the rules read only this document (plus the clock and the policy).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from workflows.money import Yuan
from workflows.vocabulary import (
    MeasureCategory,
    MeasureStatus,
    MonitoringType,
    NaturalDisasterKind,
    ObjectionOutcome,
    Procedure,
    RiskType,
)

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
CoveredIdNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^\d{17}[\dX]$")
]


class FactPayload(BaseModel):
    """Base of every fact payload: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CommitmentForm(FactPayload):
    """承诺授权书: the household vouches for its facts and authorizes lawful asset queries."""

    signatory_name: Name
    signatory_is_proxy: StrictBool = False
    """True when someone signs for a member who cannot write (代签)."""
    proxy_for_name: Name | None = None
    """The member the proxy signs for; required when ``signatory_is_proxy``."""
    signed_on: date
    document_sha256: Sha256
    covered_member_id_numbers: list[CoveredIdNumber] = Field(min_length=1, max_length=30)
    """ID numbers of the registered members the form covers: every member aged 18 or over on
    ``signed_on`` (minors are covered through the guardian who signs). Checked against the
    household's register and stored only as digests."""

    @model_validator(mode="after")
    def _proxy_named(self) -> CommitmentForm:
        if self.signatory_is_proxy and not self.proxy_for_name:
            raise ValueError("proxy_for_name is required when the form is signed by a proxy")
        if not self.signatory_is_proxy and self.proxy_for_name:
            raise ValueError("proxy_for_name is only given when the form is signed by a proxy")
        return self


class Guarantees(FactPayload):
    """两不愁三保障 and safe drinking water: each secure or not, as verified."""

    food_and_clothing: StrictBool
    """不愁吃、不愁穿."""
    compulsory_education: StrictBool
    """义务教育有保障."""
    basic_medical_care: StrictBool
    """基本医疗有保障."""
    housing_safety: StrictBool
    """住房安全有保障."""
    drinking_water: StrictBool
    """饮水安全."""
    notes: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class HouseholdVerification(FactPayload):
    """村级核实: the household's income and spending over the last 12 months, and its guarantees.

    Amounts are yuan per household per year, as decimal strings ("6000.00"); the service
    computes the net income per person from them.
    """

    verified_on: date
    verified_by: list[Name] = Field(min_length=1, max_length=20)
    household_size: int = Field(ge=1, le=30)
    wage_income: Yuan
    """工资性收入."""
    business_income: Yuan
    """生产经营性收入."""
    property_income: Yuan
    """财产性收入."""
    transfer_income: Yuan
    """转移性收入."""
    business_expense: Yuan
    """生产经营性支出."""
    compliant_out_of_pocket: Yuan
    """合规自付支出 (e.g. medical costs after insurance)."""
    insurance_claims: Yuan | None = None
    """理赔收入: insurance payouts in the period (crop, accident, illness insurance), which the
    national sheet lists beside the incomes; not part of the net income as the forms count it."""
    large_rigid_spending: StrictBool = False
    """刚性支出较大: spending the household cannot avoid weighs heavily."""
    collector_phone: Annotated[str, StringConstraints(pattern=r"^\+?\d[\d-]{6,18}$")] | None = None
    """信息采集人联系电话: the work phone of whoever collected the figures, as the national sheet
    asks (an official's, never the household's)."""
    guarantees: Guarantees


class DataComparisonRequest(FactPayload):
    """Run the comparison again (after new department data); the service fills in findings."""


class ComparisonResolution(FactPayload):
    """How the city settled one finding of the data comparison (e.g. the car is for work)."""

    finding_id: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    reason: Text


class PlanNotice(FactPayload):
    """The assistance plan's notice (帮扶计划公示), published after its village review."""

    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class MeasureResponsible(FactPayload):
    name: Name
    sub: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    """The user who reports the measure's progress (a village or township user), if any."""


class MeasurePlan(FactPayload):
    """One assistance measure of the plan (帮扶措施), planned by the city."""

    category: MeasureCategory
    content: Text
    national_item: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)] | None
    ) = None
    """The national item the measure is (产业帮扶: 种植业 …), which the national sheet's column
    for the category carries; one of the category's items in the code lists (checked at the
    door, since the city may correct the list)."""
    responsible_unit: Name
    responsible_person: MeasureResponsible
    starts_on: date
    ends_on: date | None = None
    evidence_sha256: list[Sha256] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _ordered(self) -> MeasurePlan:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class MeasureProgress(FactPayload):
    """A measure starts, is done, or stops (with a reason)."""

    measure_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    status: Literal[MeasureStatus.in_progress, MeasureStatus.done, MeasureStatus.stopped]
    happened_on: date | None = None
    """The day the measure actually started, was completed or stopped (not after today)."""
    note: Text | None = None
    evidence_sha256: list[Sha256] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _stop_has_reason(self) -> MeasureProgress:
        if self.status == MeasureStatus.stopped and not self.note:
            raise ValueError("a stopped measure needs a note saying why")
        return self


class ReturnResponse(FactPayload):
    """How the level a case was returned to addressed the reason (退回整改情况)."""

    response: Text
    documents_sha256: list[Sha256] = Field(default_factory=list, max_length=20)


class Review(FactPayload):
    """民主评议: the village meeting's record."""

    held_on: date
    eligible_members: int = Field(ge=1, le=10000)
    present: int = Field(ge=0, le=10000)
    votes_for: int = Field(ge=0, le=10000)
    votes_against: int = Field(ge=0, le=10000)
    abstentions: int = Field(ge=0, le=10000)
    minutes_sha256: Sha256

    @model_validator(mode="after")
    def _counts_consistent(self) -> Review:
        if self.present > self.eligible_members:
            raise ValueError("present cannot exceed eligible_members")
        if self.votes_for + self.votes_against + self.abstentions != self.present:
            raise ValueError("votes_for + votes_against + abstentions must equal present")
        return self


class Objection(FactPayload):
    """异议 lodged by a villager while a notice runs."""

    lodged_by_name: Name
    statement: Text


class ObjectionResolution(FactPayload):
    """The township's finding on an objection."""

    objection_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    outcome: ObjectionOutcome
    reason: Text


class HomeVisit(FactPayload):
    """入户核实 by the township."""

    visited_by: list[Name] = Field(min_length=1, max_length=20)
    visited_on: date
    findings: Text
    opinion: Text


class ResponsiblePerson(FactPayload):
    """帮扶责任人."""

    name: Name
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None


class Classification(FactPayload):
    """县级确定: monitoring type, risk types and the responsible person.

    Partial classifications are accepted (the city may fill them in over time); ``confirm``
    refuses until each part is complete, listing what is missing.
    """

    monitoring_type: MonitoringType | None = None
    risk_types: list[RiskType] = Field(default_factory=list, max_length=11)
    responsible_person: ResponsiblePerson | None = None
    override_reason: Text | None = None
    """Why the city chose another monitoring type than the one the facts suggest."""
    natural_disaster_kind: NaturalDisasterKind | None = None
    """因自然灾害子项: which disaster, with the risk type ``natural_disaster`` only."""

    @model_validator(mode="after")
    def _disaster_named_with_its_risk(self) -> Classification:
        if self.natural_disaster_kind and RiskType.natural_disaster not in self.risk_types:
            raise ValueError("natural_disaster_kind is given with the risk type natural_disaster")
        return self


class CommitteeStudy(FactPayload):
    """村"两委"研究: the village two committees study the warning (a cadre-found or department-
    flagged case) before the democratic review."""

    studied_on: date
    participants: list[Name] = Field(min_length=1, max_length=30)
    conclusion: Text
    minutes_sha256: Sha256 | None = None


class AnnouncementPosting(FactPayload):
    """Where and when the city's announcement (公告) of the determination was posted."""

    posted_on: date
    location: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def empty_procedure() -> dict[str, Any]:
    return {
        "verification": None,
        "review": None,
        "notice": None,
        "home_visit": None,
        "objections": {},
    }


def initial_facts() -> dict[str, Any]:
    """Facts of a case before its first event."""
    return {
        "channel": None,
        "household_type": None,
        "opened_at": None,
        "township_code": None,
        "commitment_form": None,
        "procedures": {p.value: empty_procedure() for p in Procedure},
        "classification": None,
        "confirmed_at": None,
        "measures": {},
        "reports": [],
        "last_return": None,
        "identification_escalated_at": None,
        "comparison": None,
        "assessments": [],
        "elimination": None,
        "previous_case_ids": [],
        "weak_stability": None,
        "acceptance_due_at": None,
        "acceptance": None,
    }


# Which procedure an action's notice, review and visit belong to.
NOTICE_OPENED_BY = {
    "publish_notice": Procedure.identification,
    "publish_elimination_notice": Procedure.elimination,
}


Reducer = Callable[..., dict[str, Any]]
"""A fold of one event into a case's facts: ``(facts, name, payload, occurred_at, *,
from_state, notice_days) -> facts`` (:func:`evolve`)."""


def evolve(
    facts: dict[str, Any],
    name: str,
    payload: dict[str, Any],
    occurred_at: datetime,
    *,
    from_state: str,
    notice_days: int,
) -> dict[str, Any]:
    """Fold one event into the facts; returns a new document, the input is left alone.

    Copy on write: the document and each object or list the event changes are copied
    (:func:`_own`), the rest is shared with the input, which nothing here changes. (A deep
    copy of the whole document, 3 KB of JSON through orjson and back, was 7% of the
    instructions of a rule-checked write: ``bench/RESULTS.md``, 2026-12-03.)"""
    facts = dict(facts)
    at = occurred_at.isoformat()

    if name.startswith("open_"):
        facts["channel"] = name.removeprefix("open_")
        facts["opened_at"] = at
        facts["household_type"] = payload.get("household_type", "ordinary")
        facts["previous_case_ids"] = payload.get("previous_case_ids", [])
        facts["acceptance_due_at"] = payload.get("acceptance_due_at")
        _own(facts, "reports").append(
            {
                "channel": facts["channel"],
                "reported_at": at,
                "source": payload.get("source"),
                "risk_type": payload.get("risk_type"),
            }
        )
    elif name == "report":
        _own(facts, "reports").append(
            {
                "channel": payload["channel"],
                "reported_at": at,
                "source": payload.get("source"),
                "risk_type": payload.get("risk_type"),
            }
        )
    elif name == "commitment_form":
        facts["commitment_form"] = {**payload, "recorded_at": at}
    elif name == "review":
        procedure = _procedure(facts, payload["procedure"])
        if procedure["review"]:
            # A vote that failed is held again (case-v2): every vote kept, the latest counts.
            earlier = procedure.get("earlier_reviews", [])
            procedure["earlier_reviews"] = [*earlier, procedure["review"]]
        procedure["review"] = {**payload, "recorded_at": at}
    elif name == "home_visit":
        _procedure(facts, payload["procedure"])[name] = {**payload, "recorded_at": at}
    elif name == "committee_study":
        facts["committee_study"] = {**payload, "recorded_at": at}
    elif name == "announcement_posting":
        facts["announcement_posting"] = {**payload, "recorded_at": at}
    elif name == "household_verification":
        _procedure(facts, payload["procedure"])["verification"] = {**payload, "recorded_at": at}
        _own(facts, "assessments").append({**payload, "recorded_at": at})
    elif name == "income_assessment":
        _own(facts, "assessments").append({**payload, "recorded_at": at})
    elif name == "objection":
        objections = _own(_procedure(facts, payload["procedure"]), "objections")
        objections[payload["objection_id"]] = {**payload, "lodged_at": at, "resolution": None}
    elif name == "objection_resolution":
        objections = _own(_procedure(facts, payload["procedure"]), "objections")
        _own(objections, payload["objection_id"])["resolution"] = {**payload, "resolved_at": at}
        if payload["procedure"] == Procedure.plan and payload["outcome"] == ObjectionOutcome.upheld:
            # The plan goes back to the village: its review and notice are held again.
            plan = _procedure(facts, Procedure.plan)
            plan["review"] = plan["notice"] = None
            plan.pop("earlier_reviews", None)
    elif name == "plan_notice":
        _procedure(facts, Procedure.plan)["notice"] = {
            "published_at": at,
            "days": notice_days,
            "location": payload.get("location"),
        }
    elif name == "measure_planned":
        _own(facts, "measures")[payload["measure_id"]] = {
            **payload,
            "status": MeasureStatus.planned.value,
            "planned_at": at,
            "progress": [],
        }
    elif name == "measure_progress":
        measure = _own(_own(facts, "measures"), payload["measure_id"])
        measure["status"] = payload["status"]
        _own(measure, "progress").append({**payload, "at": at})
    elif name == "classification":
        facts["classification"] = {**payload, "recorded_at": at}
    elif name == "start_village_review" and facts.get("acceptance_due_at"):
        # 受理: a 12317 declaration accepted late is flagged, never refused
        late = occurred_at >= datetime.fromisoformat(facts["acceptance_due_at"])
        facts["acceptance"] = {"accepted_at": at, "late": late}
    elif name == "distribute":
        facts["township_code"] = payload.get("township_code")
    elif name in NOTICE_OPENED_BY:
        _procedure(facts, NOTICE_OPENED_BY[name])["notice"] = {
            "published_at": at,
            "days": notice_days,
            "location": payload.get("location"),
        }
    elif name == "confirm":
        facts["confirmed_at"] = at
    elif name == "mark_risk_eliminated":
        latest = facts["assessments"][-1] if facts["assessments"] else {}
        facts["elimination"] = {
            "method": payload.get("method"),
            "eliminated_at": at,
            # 风险消除后: the income the decision rested on
            "income_after": {
                k: latest.get(k)
                for k in (
                    "verified_on",
                    "net_income",
                    "net_income_per_person",
                    "net_income_per_person_after_spending",
                )
            },
        }
    elif name == "roll_back_elimination":
        facts["elimination"] = None
    elif name == "data_comparison":
        findings = {f["id"]: {**f, "resolution": None} for f in payload["findings"]}
        facts["comparison"] = {
            "ran_at": at,
            "snapshots": payload["snapshots"],
            "findings": findings,
        }
    elif name == "comparison_resolution":
        findings = _own(_own(facts, "comparison"), "findings")
        _own(findings, payload["finding_id"])["resolution"] = {**payload, "resolved_at": at}
    elif name == "return_response":
        _own(facts, "last_return")["response"] = {**payload, "recorded_at": at}
    elif name == "deadline_escalation":
        facts["identification_escalated_at"] = at
    if name in ("return_to_village", "return_to_township", "continue_assistance"):
        # The latest return, for the step that answers it; every return stays in the trail.
        facts["last_return"] = {
            "action": name,
            "from_state": from_state,
            "reason": payload.get("reason"),
            "at": at,
        }
    if name == "return_to_village":
        # 退回村级: that procedure's review and notice are void and are done again.
        voided = _procedure(facts, Procedure.identification)
        voided["review"], voided["notice"], voided["objections"] = None, None, {}
        voided.pop("earlier_reviews", None)
    if name == "continue_assistance":
        facts["weak_stability"] = (
            {"causes": payload["weak_stability"], "reason": payload.get("reason"), "at": at}
            if payload.get("weak_stability")
            else None
        )
        # Back to assistance: the elimination procedure starts afresh next time.
        _own(facts, "procedures")[Procedure.elimination] = empty_procedure()
    return facts


def _own(owner: dict[str, Any], key: str) -> Any:
    """``owner[key]``, an object or a list, replaced in ``owner`` (a copy :func:`evolve`
    made) by a shallow copy of it, which :func:`evolve` may then change: what it holds is
    still shared with the input, and is itself copied before it is changed."""
    value = owner[key]
    owner[key] = copy = dict(value) if type(value) is dict else list(value)
    return copy


def _procedure(facts: dict[str, Any], procedure: str) -> dict[str, Any]:
    """One procedure's record (a copy :func:`evolve` may change), in a copy of the
    procedures."""
    copy: dict[str, Any] = _own(_own(facts, "procedures"), procedure)
    return copy

"""Request and response shapes of the cases API."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.households.schemas import HouseholdIn, HouseholdSummary
from workflows.case import OPEN_ACTIONS, STATES, WORKFLOWS
from workflows.rule_codes import RULE_CODES
from workflows.vocabulary import Channel, MonitoringType, RiskType, Role

CaseState = StrEnum("CaseState", [(state, state) for state in STATES])  # type: ignore[misc]
"""Every state of every workflow version (the OpenAPI document's enum)."""
ActionName = StrEnum(  # type: ignore[misc]
    "ActionName",
    [
        (a, a)
        for a in dict.fromkeys(s.action for f in WORKFLOWS.values() for s in f.steps)
        if a not in OPEN_ACTIONS.values()
    ],
)
"""Every action a client may fire, in any workflow version."""
RuleCode = StrEnum("RuleCode", [(code, code) for code in sorted(RULE_CODES)])  # type: ignore[misc]
"""Every code a rule can answer (:mod:`workflows.rule_codes`)."""

Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class OpenCaseIn(BaseModel):
    """A report of a household at risk, through one of the three channels."""

    model_config = ConfigDict(extra="forbid")

    channel: Channel
    household: HouseholdIn
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    """The hardship as reported (困难描述)."""
    risk_type: RiskType | None = None
    """The risk the reporter names; the city's classification decides."""
    source: Short | None = None
    """Where the report came from: a 12317 tracking number, a department, a campaign."""
    application_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    """The scanned written application (书面申请) a cadre enters a self-declaration from."""


class Deadlines(BaseModel):
    identification_due_at: datetime
    """From 00:00 Asia/Shanghai on this moment an unconfirmed case is overdue (识别时限)."""
    identification_overdue: bool
    notice_ends_at: datetime | None
    """When the running public notice may be left, if one runs."""
    elimination_due_at: datetime | None
    """An assisted or watched case: monitored long enough for an elimination assessment
    from this moment (the other criteria are an elimination round's to check)."""
    measures_due_at: datetime | None
    """A confirmed case must have its first measure planned before this (措施落实时限)."""
    measures_overdue: bool
    acceptance_due_at: datetime | None
    """A 12317 self-declaration not accepted by the village before this is late (受理时限)."""
    acceptance_overdue: bool


class SuggestedClassification(BaseModel):
    monitoring_type: str
    reason: str


class CaseOut(BaseModel):
    id: str
    state: CaseState
    version: int
    channel: Channel
    area_code: str
    is_open: bool
    monitoring_type: MonitoringType | None
    workflow_version: str
    policy_version: str
    opened_at: datetime
    updated_at: datetime
    household: HouseholdSummary
    deadlines: Deadlines
    suggested_classification: SuggestedClassification | None
    """The monitoring type the verified facts suggest; the city confirms or overrides it."""
    facts: dict[str, Any]


class CaseOpened(CaseOut):
    attached: bool = Field(description="True when the report joined the household's open case.")


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None
    total: int | None = None
    """Every case the filters match, when the request asked with ``total=true``."""


DueKind = Literal["notice_end", "acceptance", "identification", "measures", "elimination"]


class InboxItem(CaseOut):
    due_at: datetime | None
    """The case's nearest deadline: a running notice's end when it comes first; the 12317
    acceptance or identification limit while it is identified; the first measure once
    confirmed; then the elimination assessment."""
    due_kind: DueKind | None
    """Which deadline ``due_at`` is."""
    overdue: bool
    my_actions: list[ActionName]
    """What the caller's role may fire from the case's state (rules may still be unmet: the
    case's ``/actions`` says which)."""


class InboxPage(BaseModel):
    items: list[InboxItem]
    total: int
    """Every case of the caller's work that the filters match (the page shows ``limit``)."""


class AreaCount(BaseModel):
    code: str
    name: str | None
    count: int


class Dashboard(BaseModel):
    """Open cases of an area, counted: what a township's or the city's overview shows."""

    area: str
    open: int
    by_state: dict[CaseState, int]
    by_monitoring_type: dict[MonitoringType, int]
    by_channel: dict[Channel, int]
    by_village: list[AreaCount]
    identification_overdue: int
    """Not confirmed within the identification limit (识别时限)."""
    measures_overdue: int
    """Confirmed, and no measure planned within a month (措施落实时限)."""
    acceptance_overdue: int
    """12317 self-declarations the village has not accepted in time (受理时限)."""
    by_risk_type: dict[RiskType, int]
    """Open cases naming each risk type in their classification (a case may name several)."""
    measures_due: int
    """Confirmed cases still waiting for their first planned measure (late or not yet)."""
    notices_ended: int
    """Cases whose public notice has run and that have not left it yet."""
    elimination_due: int
    """Assisted or watched cases monitored long enough for an elimination assessment
    (监测满规定期限): the candidates an elimination round then checks in full."""


class UnmetOut(BaseModel):
    code: RuleCode
    message: str
    met_at: datetime | None


class ActionOut(BaseModel):
    name: ActionName
    title: str
    to_state: CaseState
    allowed: bool
    unmet: list[UnmetOut]
    requires: list[str] = []
    """Payload fields the action's rules need (``reason``): without them the POST answers
    409 with the rule's code, though ``allowed`` is true."""
    payload_schema: dict[str, Any]


class ActorOut(BaseModel):
    sub: str
    role: Role
    area: str


class EventOut(BaseModel):
    seq: int
    name: str
    """The action fired, or the fact recorded (``review``, ``objection`` …)."""
    from_state: str
    to_state: str
    actor: ActorOut
    occurred_at: datetime
    workflow_version: str
    policy_version: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ReplayStep(BaseModel):
    """States here are as stored or replayed: an altered trail may hold any text, and the
    replay must still answer, so they are not held to :data:`CaseState`."""

    seq: int
    event: str
    from_state: str
    to_state: str
    hash_valid: bool
    legal: bool
    """The step was allowed by the pinned workflow under the facts and time it happened at."""
    unmet: list[str]


class ReplayOut(BaseModel):
    stored_state: str
    replayed_state: str | None
    matches: bool
    facts_match: bool
    chain_valid: bool
    broken_at_seq: int | None
    all_steps_legal: bool
    steps: list[ReplayStep]

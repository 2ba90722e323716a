"""A case as one transaction sees it (:class:`Snapshot`), and the columns the write path
derives from its state and facts with every event: the next deadline and its kind, a running
notice's end, when the elimination assessment falls due, the risk types as the dashboard
counts them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from app.cases.models import Case
from workflows.calendar import after_months
from workflows.case import (
    IDENTIFICATION_STATES,
    NOTICES,
    Workflow,
    workflow,
)
from workflows.policy import PolicyParameters
from workflows.rules import (
    notice_ends_at,
)


@dataclass
class Snapshot:
    """The case as this transaction sees it; updated as events are appended."""

    id: str
    household_id: str
    area_code: str
    channel: str
    state: str
    version: int
    workflow_version: str
    policy_version: str
    is_open: bool
    monitoring_type: str | None
    facts: dict[str, Any]
    last_hash: str
    opened_at: datetime
    identification_due_at: datetime
    measures_due_at: datetime | None
    acceptance_due_at: datetime | None
    updated_at: datetime
    notice_ends_at: datetime | None = None
    elimination_due_at: datetime | None = None
    risk_types: str | None = None
    due_at: datetime | None = None
    due_kind: str | None = None

    @classmethod
    def of(cls, case: Case) -> Snapshot:
        return cls(**{name: getattr(case, name) for name in cls.__dataclass_fields__})

    @property
    def workflow(self) -> Workflow:
        return workflow(self.workflow_version)


SNAPSHOT_FIELDS = tuple(f.name for f in fields(Snapshot))
"""The case's columns a snapshot holds, in order (the write path's lock selects these)."""


NOTICE_STATES = {notice.runs_in: notice.procedure for notice in NOTICES}
"""The states in which a public notice runs, and whose notice it is."""
MONITORED_STATES = ("assisted", "kept_under_watch")
"""The states from which an elimination procedure may be proposed."""


def next_deadline(snap: Snapshot) -> tuple[datetime | None, str | None]:
    """When the case's next deadline falls, and which it is: a running notice's end when it
    comes first; the 12317 acceptance or the identification limit while the case is being
    identified; the first measure once it is confirmed; then the elimination assessment."""
    identifying = snap.state in IDENTIFICATION_STATES
    limit = snap.acceptance_due_at or snap.identification_due_at
    notice = snap.notice_ends_at
    if notice is not None and (not identifying or (limit is not None and notice < limit)):
        return notice, "notice_end"
    if identifying:
        return limit, "acceptance" if snap.acceptance_due_at is not None else "identification"
    if snap.measures_due_at is not None:
        return snap.measures_due_at, "measures"
    if snap.elimination_due_at is not None:
        return snap.elimination_due_at, "elimination"
    return None, None


def notice_end(state: str, facts: dict[str, Any]) -> datetime | None:
    """While a notice runs: when the case may leave it."""
    procedure = NOTICE_STATES.get(state)
    if procedure is None or not facts["procedures"][procedure]["notice"]:
        return None
    return notice_ends_at(facts["procedures"][procedure]["notice"])


def elimination_due(state: str, facts: dict[str, Any], params: PolicyParameters) -> datetime | None:
    """From this moment an assisted case has been monitored long enough to be assessed."""
    if state not in MONITORED_STATES or not facts.get("confirmed_at"):
        return None
    confirmed = datetime.fromisoformat(facts["confirmed_at"])
    return after_months(confirmed, params.elimination_min_months)


def risk_types_column(facts: dict[str, Any]) -> str | None:
    """The classification's risk types between commas, as the dashboard counts them."""
    risks = (facts.get("classification") or {}).get("risk_types") or []
    return "," + ",".join(risks) + "," if risks else None

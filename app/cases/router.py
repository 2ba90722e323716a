"""The cases API: open, read, list, act, record facts, read the trail and replay it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, Header, Path, Query, Response, status
from pydantic import BaseModel, Field, ValidationError

from app.areas import repository as areas
from app.auth.dependencies import ClockDep, CurrentPrincipal, SettingsDep
from app.auth.permissions import permit, scope_within
from app.auth.tokens import Principal
from app.cases import opening, service
from app.cases import replay as case_replay
from app.cases import repository as repo
from app.cases import snapshot as case_snapshot
from app.cases import views as case_views
from app.cases.schemas import (
    ActionOut,
    ActorOut,
    AreaCount,
    CaseOpened,
    CaseOut,
    CasePage,
    CaseState,
    Dashboard,
    EventOut,
    InboxItem,
    InboxPage,
    OpenCaseIn,
    ReplayOut,
)
from app.core.blind import blind_of
from app.core.config import Settings
from app.core.db import SessionDep, when_settled
from app.core.errors import (
    Forbidden,
    ProblemError,
    Unprocessable,
    declares,
    validation_problem,
)
from app.core.observability import TRANSITIONS
from app.core.routing import api_router
from app.households import idnumber
from app.households.card import HouseholdCard
from app.policies import service as policies
from workflows.case import CURRENT as CURRENT_WORKFLOW
from workflows.case import OPEN_ACTIONS, WORKFLOWS
from workflows.facts import (
    AnnouncementPosting,
    Classification,
    CommitmentForm,
    CommitteeStudy,
    ComparisonResolution,
    DataComparisonRequest,
    FactPayload,
    HomeVisit,
    HouseholdVerification,
    MeasurePlan,
    MeasureProgress,
    Objection,
    ObjectionResolution,
    PlanNotice,
    ReturnResponse,
    Review,
    Sha256,
    Text,
)
from workflows.permissions import Permission
from workflows.rule_codes import ROLE_NOT_PERMITTED
from workflows.vocabulary import Channel, MonitoringType, ObjectionOutcome

router = api_router(prefix="/api/v1/cases", tags=["cases"])

IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='The case version you read, as a strong ETag: "7".'),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseOpened,
    responses={200: {"model": CaseOpened, "description": "Attached to the open case."}},
)
async def open_case(
    body: OpenCaseIn,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Open a case through a channel, or attach the report to the household's open case."""
    now = clock.now()
    snap, household, attached = await opening.open_case(
        session, principal, body, now, settings, only_write=True
    )
    return case_views.case_answer(
        snap,
        household,
        now,
        CaseOpened,
        status_code=status.HTTP_200_OK if attached else status.HTTP_201_CREATED,
        headers=None if attached else {"Location": f"/api/v1/cases/{snap.id}"},
        attached=attached,
    )


@router.get("", response_model=CasePage)
async def list_cases(
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    state: CaseState | None = None,
    area: Annotated[str | None, Query(pattern=r"^\d{1,12}$")] = None,
    channel: Channel | None = None,
    monitoring_type: MonitoringType | None = None,
    overdue: bool | None = None,
    measures_overdue: bool | None = None,
    acceptance_overdue: bool | None = None,
    measures_due: Annotated[
        bool | None,
        Query(description="Confirmed cases still waiting for their first planned measure."),
    ] = None,
    elimination_due: Annotated[
        bool | None,
        Query(
            description="Assisted or watched cases monitored long enough to be assessed "
            "for elimination (监测满规定期限)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=50,
            description="The start of the household head's or a member's name (姓名前缀).",
        ),
    ] = None,
    id_number: Annotated[
        str | None,
        Query(
            pattern=r"^\d{17}[\dXx]$",
            description="A member's full ID number: an exact "
            "match through the blind index; numbers are never searched in part.",
        ),
    ] = None,
    total: Annotated[
        bool, Query(description="Also count every case the filters match (`total`).")
    ] = False,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Cases in your area, oldest first; ``overdue=true`` lists the late identifications,
    ``measures_overdue=true`` the confirmed cases still without a planned measure,
    ``acceptance_overdue=true`` the 12317 declarations the village has not accepted in time,
    ``measures_due=true`` the confirmed cases waiting for their first measure,
    ``elimination_due=true`` the cases monitored long enough for an elimination assessment.
    ``name`` and ``id_number`` search the household's members; ``total=true`` adds the
    number of matching cases to the page."""
    permit(principal, Permission.case_read)
    now = clock.now()
    if False in (overdue, measures_overdue, acceptance_overdue, measures_due, elimination_due):
        raise Unprocessable("invalid_filter", "Use =true or leave the overdue filters out.")
    digests = _digests(settings, id_number)
    rows, next_cursor, count = await repo.list_cases(
        session,
        caller_area=principal.area,
        area=area,
        state=state.value if state else None,
        name=name.strip() or None if name else None,
        id_digests=digests,
        with_total=total,
        channel=channel.value if channel else None,
        monitoring_type=monitoring_type.value if monitoring_type else None,
        overdue_at=now if overdue else None,
        measures_overdue_at=now if measures_overdue else None,
        acceptance_overdue_at=now if acceptance_overdue else None,
        measures_due=bool(measures_due),
        elimination_due_at=now if elimination_due else None,
        cursor=cursor,
        limit=min(limit, settings.max_page_size),
    )
    await policies.ensure_loaded(session, {snap.policy_version for snap, _ in rows})
    items = [case_views.case_json(snap, household, now) for snap, household in rows]
    return case_views.page_answer(CasePage(items=[], next_cursor=next_cursor, total=count), items)


def _digests(settings: Settings, id_number: str | None) -> list[str] | None:
    """A searched ID number as the registry keeps it: its keyed digests (never in part)."""
    if not id_number:
        return None
    return blind_of(settings).candidates(idnumber.normalize(id_number))


inbox_router = api_router(prefix="/api/v1/inbox", tags=["cases"])


@inbox_router.get("", response_model=InboxPage)
async def inbox(
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    state: CaseState | None = None,
    area: Annotated[str | None, Query(pattern=r"^\d{6,12}$")] = None,
    channel: Channel | None = None,
    monitoring_type: MonitoringType | None = None,
    name: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    id_number: Annotated[str | None, Query(pattern=r"^\d{17}[\dXx]$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """待办: open cases of your area whose state lets your role act (role x state), the nearest
    deadline first, overdue ones marked; filters as the case list's. Rules may still be unmet:
    a case's ``/actions`` says which, and when a time rule will be met."""
    permit(principal, Permission.case_read)
    now = clock.now()
    digests = _digests(settings, id_number)
    rows, total = await repo.inbox(
        session,
        caller_area=principal.area,
        role=principal.role.value,
        area=area,
        state=state.value if state else None,
        channel=channel.value if channel else None,
        monitoring_type=monitoring_type.value if monitoring_type else None,
        name=name.strip() or None if name else None,
        id_digests=digests,
        limit=limit,
    )
    await policies.ensure_loaded(session, {snap.policy_version for snap, _ in rows})
    items = []
    for snap, household in rows:
        mine = [s.action for s in snap.workflow.steps_from(snap.state) if principal.role in s.roles]
        due = snap.due_at
        items.append(
            case_views.case_json(
                snap,
                household,
                now,
                InboxItem,
                due_at=due,
                due_kind=snap.due_kind,
                overdue=bool(due and due <= now),
                my_actions=list(dict.fromkeys(mine)),
            )
        )
    return case_views.page_answer(InboxPage(items=[], total=total), items)


dashboard_router = api_router(prefix="/api/v1/dashboard", tags=["cases"])


@dashboard_router.get("", response_model=Dashboard, responses=declares(404))
async def dashboard(
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    area: Annotated[str | None, Query(pattern=r"^\d{6,12}$")] = None,
) -> Dashboard:
    """Open cases of your area (or a part of it) by state, monitoring type, channel and
    village, and the late ones of each kind; the lists behind the numbers are the case list's
    filters (``overdue``, ``measures_overdue``, ``acceptance_overdue``)."""
    permit(principal, Permission.case_read)
    scope_within(principal, area)
    numbers = await repo.counts(session, principal.area, area, clock.now())
    names = await areas.names(session, list(numbers["by_village"]))
    villages = [
        AreaCount(code=code, name=names.get(code), count=n)
        for code, n in sorted(numbers.pop("by_village").items())
    ]
    return Dashboard(area=area or principal.area, by_village=villages, **numbers)


@router.get("/{case_id}", response_model=CaseOut)
async def get_case(
    case_id: str, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> Response:
    snap, household = await case_views.read_case(session, principal, case_id)
    return case_views.case_answer(snap, household, clock.now())


@router.get("/{case_id}/actions", response_model=list[ActionOut])
async def list_actions(
    case_id: str, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> Response:
    """Every action leaving the current state, whether you may fire it now, and what is unmet."""
    answer = await service.actions_for(session, principal, case_id, clock.now())
    return Response(answer, media_type="application/json")


async def _fire(
    case_id: str,
    action: str,
    principal: Principal,
    session: SessionDep,
    clock: ClockDep,
    if_match: str | None,
    payload: Any,
) -> Response:
    now = clock.now()
    label = action if action in CURRENT_WORKFLOW.actions else "unknown"
    try:
        snap, household = await service.fire_action(
            session, principal, case_id, action, payload, if_match, now
        )
    except ProblemError as refused:
        TRANSITIONS.labels(label, refused.code).inc()
        raise
    when_settled(session, lambda refused: TRANSITIONS.labels(label, refused or "fired").inc())
    return case_views.case_answer(snap, household, now)


RequiredIfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The case version you read, as a strong ETag: "7". Without it: 428.',
        json_schema_extra={"pattern": r'^"\d+"$'},
    ),
]
ActionBody = Annotated[dict[str, Any] | None, Body()]


def _action_route(action: str) -> None:
    """One operation per action, so a generated client has one typed function each. The body
    is checked by the service against the step's payload model (after 404 and 403, in the
    API's order); the OpenAPI document shows that model (``app.contract``)."""

    async def fire(
        case_id: str,
        principal: CurrentPrincipal,
        session: SessionDep,
        clock: ClockDep,
        if_match: RequiredIfMatch = None,
        payload: ActionBody = None,
    ) -> Response:
        return await _fire(case_id, action, principal, session, clock, if_match, payload)

    steps = [s for s in CURRENT_WORKFLOW.steps if s.action == action]
    titles = "、".join(dict.fromkeys(s.title for s in steps if s.title))
    sources = ", ".join(dict.fromkeys(src for s in steps for src in s.sources))
    fire.__doc__ = (
        f"{titles or action}: fire ``{action}`` (from {sources}). Requires ``If-Match`` with "
        "the version you read; ``GET …/actions`` says whether it is allowed now and what it "
        "requires."
    )
    router.post(
        f"/{{case_id}}/actions/{action}",
        response_model=CaseOut,
        name=f"fire_{action}",
        summary=f"{titles or action} ({action})",
        openapi_extra={"x-action": action},
    )(fire)


FIREABLE_ACTIONS = tuple(
    dict.fromkeys(
        step.action
        for flow in WORKFLOWS.values()
        for step in flow.steps
        if step.action not in OPEN_ACTIONS.values()
    )
)
for _action in FIREABLE_ACTIONS:
    _action_route(_action)


@router.post("/{case_id}/actions/{action}", response_model=CaseOut, include_in_schema=False)
async def fire_action(
    case_id: str,
    action: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    clock: ClockDep,
    if_match: IfMatch = None,
    payload: ActionBody = None,
) -> Response:
    """An action name no workflow has: answered 404 ``action_not_found`` by the service."""
    return await _fire(case_id, action, principal, session, clock, if_match, payload)


@router.get("/{case_id}/events", response_model=list[EventOut])
async def list_events(
    case_id: str, principal: CurrentPrincipal, session: SessionDep
) -> list[EventOut]:
    """The case's append-only events, oldest first."""
    return [
        EventOut(
            seq=e.seq,
            name=e.name,
            from_state=e.from_state,
            to_state=e.to_state,
            actor=ActorOut(sub=e.actor_sub, role=e.actor_role, area=e.actor_area),
            occurred_at=e.occurred_at,
            workflow_version=e.workflow_version,
            policy_version=e.policy_version,
            payload=case_views.redacted(e.payload),
            prev_hash=e.prev_hash,
            hash=e.hash,
        )
        for e in await case_replay.events(session, principal, case_id)
    ]


@router.get("/{case_id}/replay", response_model=ReplayOut)
async def replay_case(case_id: str, principal: CurrentPrincipal, session: SessionDep) -> ReplayOut:
    """Recompute the case from its events under its pinned workflow and check the chain."""
    return await case_replay.replay(session, principal, case_id)


# --- facts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gated:
    """A fact's caller who passed the gate, and the case the gate locked for the request."""

    principal: Principal
    locked: tuple[case_snapshot.Snapshot, HouseholdCard]


def fact_gate(kind: str) -> Any:
    """Check existence and role before the body is validated (API order: 404, 403, 422). The
    case is locked here, in the request's transaction, and recorded on without reading it
    again."""

    async def gate(
        case_id: str, principal: CurrentPrincipal, session: SessionDep, if_match: IfMatch = None
    ) -> Gated:
        snap, household = await service.lock_case(session, principal, case_id, if_match)
        if principal.role not in service.fact_spec(snap, kind).roles:
            raise Forbidden(ROLE_NOT_PERMITTED, f"A {principal.role} does not record {kind}.")
        return Gated(principal, (snap, household))

    return Depends(gate)


async def _record(
    kind: str,
    case_id: str,
    body: BaseModel,
    gated: Gated,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    if_match: str | None,
) -> Response:
    now = clock.now()
    snap, household = await service.record_fact(
        session, gated.principal, case_id, kind, body, if_match, now, settings, gated.locked
    )
    return case_views.case_answer(snap, household, now, status_code=status.HTTP_201_CREATED)


# Facts recorded with a body and nothing else: one route each, from this table.
FACT_ROUTES: tuple[tuple[str, str, type[BaseModel], str], ...] = (
    (
        "commitment-forms",
        "commitment_form",
        CommitmentForm,
        "承诺授权书: recorded by a village cadre before nomination.",
    ),
    (
        "household-verifications",
        "household_verification",
        HouseholdVerification,
        "村级核实: income by component, compliant spending, 两不愁三保障 and water, verified by a "
        "village cadre; the net income per person is computed from them. A new one replaces it.",
    ),
    (
        "reviews",
        "review",
        Review,
        "民主评议: the village committee's meeting record, one per procedure.",
    ),
    (
        "objections",
        "objection",
        Objection,
        "异议: lodged (through a village cadre) while the notice runs.",
    ),
    ("home-visits", "home_visit", HomeVisit, "入户核实: the township's home visit and opinion."),
    (
        "classification",
        "classification",
        Classification,
        "县级确定: monitoring type, risk types and responsible person (replaces the previous); "
        "a type other than the suggested one needs override_reason.",
    ),
    (
        "comparison-resolutions",
        "comparison_resolution",
        ComparisonResolution,
        "The city's reasoned answer to a finding that contradicts the declared facts.",
    ),
    (
        "income-assessments",
        "income_assessment",
        HouseholdVerification,
        "收入核查: a later assessment of the household's income, spending and guarantees while "
        "monitored; the two latest decide whether the income is stable above the line.",
    ),
    (
        "measures",
        "measure_planned",
        MeasurePlan,
        "帮扶措施: a measure of the household's assistance plan, planned by the city bureau. It "
        "starts only once the plan has passed the village review and its notice.",
    ),
    (
        "plan-notices",
        "plan_notice",
        PlanNotice,
        "帮扶计划公示: the village committee publishes the plan after its democratic review.",
    ),
    (
        "return-responses",
        "return_response",
        ReturnResponse,
        "退回整改: how the village or township addressed the reason it was returned for; the "
        "step that resubmits the case is refused until then.",
    ),
    (
        "committee-studies",
        "committee_study",
        CommitteeStudy,
        '村"两委"研究: the village two committees study a cadre-found or department-flagged '
        "case before its democratic review (case-v2).",
    ),
    (
        "announcement-postings",
        "announcement_posting",
        AnnouncementPosting,
        "公告: where and when the city's announcement of the determination was posted (case-v2).",
    ),
)


OPERATION_NAMES = {"objection": "lodge_objection", "comparison_resolution": "resolve_finding"}


def _fact_route(path: str, kind: str, model: type[BaseModel], summary: str) -> None:
    async def record(
        case_id: str,
        body: BaseModel,
        session: SessionDep,
        clock: ClockDep,
        settings: SettingsDep,
        if_match: IfMatch = None,
        gated: Gated = fact_gate(kind),
    ) -> Response:
        return await _record(kind, case_id, body, gated, session, clock, settings, if_match)

    record.__annotations__["body"] = model  # each route validates its own fact's shape
    record.__doc__ = summary
    # operation ids are part of the contract: keep the names generated clients already use
    name = OPERATION_NAMES.get(kind, f"record_{kind}")
    router.post(f"/{{case_id}}/{path}", response_model=CaseOut, status_code=201, name=name)(record)


for route in FACT_ROUTES:
    _fact_route(*route)


@router.post("/{case_id}/comparisons", response_model=CaseOut, status_code=201)
async def run_comparison(
    case_id: str,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
    gated: Gated = fact_gate("data_comparison"),
) -> Response:
    """数据比对 again, against the newest department data (it also runs by itself when the
    case reaches the city). Its findings replace the previous ones."""
    return await _record(
        "data_comparison",
        case_id,
        DataComparisonRequest(),
        gated,
        session,
        clock,
        settings,
        if_match,
    )


class ObjectionResolutionIn(FactPayload):
    """The township's finding on one objection."""

    outcome: ObjectionOutcome
    reason: Text


@router.post(
    "/{case_id}/objections/{objection_id}/resolution", response_model=CaseOut, status_code=201
)
async def resolve_objection(
    case_id: str,
    objection_id: Annotated[str, Path(max_length=64)],
    body: ObjectionResolutionIn,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
    gated: Gated = fact_gate("objection_resolution"),
) -> Response:
    """The township's finding; an upheld objection returns the case to the village."""
    resolution = ObjectionResolution(objection_id=objection_id, **body.model_dump())
    return await _record(
        "objection_resolution",
        case_id,
        resolution,
        gated,
        session,
        clock,
        settings,
        if_match,
    )


class MeasureProgressIn(FactPayload):
    """A measure starts, is done, or stops (a note saying why)."""

    status: Literal["in_progress", "done", "stopped"]
    happened_on: date | None = None
    """The day it actually started, was completed or stopped: not after today."""
    note: Text | None = None
    evidence_sha256: list[Sha256] = Field(default_factory=list, max_length=20)


@router.post("/{case_id}/measures/{measure_id}/progress", response_model=CaseOut, status_code=201)
async def report_measure_progress(
    case_id: str,
    measure_id: Annotated[str, Path(max_length=64)],
    body: MeasureProgressIn,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
    gated: Gated = fact_gate("measure_progress"),
) -> Response:
    """Progress of a measure, by its responsible person or the city bureau. A measure starts
    only after the plan's review and notice (plan_not_approved)."""
    try:
        progress = MeasureProgress(measure_id=measure_id, **body.model_dump())
    except ValidationError as exc:
        raise validation_problem([dict(e) for e in exc.errors()]) from exc
    return await _record(
        "measure_progress",
        case_id,
        progress,
        gated,
        session,
        clock,
        settings,
        if_match,
    )

"""The case service: the one write path of every transition and every recorded fact.

A write is one transaction: lock the case (``FOR UPDATE`` on PostgreSQL; on SQLite the
transaction began ``IMMEDIATE``), check who may act and what the rules say, run the pinned
machine, append the chained event and move the case's version — only if it is still the version
that was read. Any refusal raises before anything is written, and the transaction rolls back.
A step that names the version it read takes the lock when its transaction begins, or sends its
move alone (:func:`lock_case`).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from statemachine.exceptions import TransitionNotAllowed

from app.auth.tokens import SYSTEM_TIMER, Principal
from app.cases import door, hooks
from app.cases import repository as repo
from app.cases.errors import (
    ActionNotFound,
    CaseNotFound,
    GuardFailed,
    NoTransition,
    NotRecordableInState,
    NotRecordableInWorkflow,
    StateCorrupt,
    TownshipMismatch,
    VersionMismatch,
    VersionRequired,
)
from app.cases.models import CaseEvent, chained_fields
from app.cases.replay import observed_fields
from app.cases.snapshot import (
    Snapshot,
    elimination_due,
    next_deadline,
    notice_end,
    risk_types_column,
)
from app.cases.views import read_case
from app.core import blind
from app.core.canonical import event_hash, utc_iso
from app.core.config import Settings
from app.core.direct import DirectInsert, may_defer_lock
from app.core.errors import (
    Conflict,
    Forbidden,
    validation_problem,
)
from app.core.language import LANGUAGE
from app.department_data import repository as department_data
from app.households import repository as households
from app.households.card import HouseholdCard, HouseholdFacts
from app.households.models import Household
from app.national_sheet import corrections, labels
from app.policies import service as policies
from app.timers import repository as timers
from workflows.calendar import after_months, local_date
from workflows.case import (
    CLOSED_STATES,
    IDENTIFICATION_STATES,
    NOTICE_OF_PROCEDURE,
    NOTICE_RUNNING_IN,
    OPEN_ACTIONS,
    Effect,
    FactSpec,
    Step,
    Workflow,
)
from workflows.comparison import compare
from workflows.income import income_figures
from workflows.policy import PolicyParameters, policy
from workflows.rule_codes import ROLE_NOT_PERMITTED, message
from workflows.rules import (
    RuleContext,
    Unmet,
    evaluate,
    has_labour_capacity,
    household_has_no_other_open_case,
    income_stable,
    lacks_labour_capacity,
    met,
    notice_ends_at,
    open_objections,
    verdicts,
)
from workflows.vocabulary import ObjectionOutcome, Procedure, Role

SYSTEM_COMPARISON = Principal(sub="system:comparison", role=Role.system, area="")


# --- the write path --------------------------------------------------------------------------


async def append_event(
    session: AsyncSession,
    snap: Snapshot,
    *,
    name: str,
    payload: dict[str, Any],
    to_state: str,
    actor: Principal,
    now: datetime,
    new: bool = False,
    timer: dict[str, Any] | None = None,
    along: Sequence[tuple[DirectInsert, dict[str, Any]]] = (),
    alone: bool = False,
) -> None:
    """Append one chained event and move the case to it, if nobody moved it first. ``new``:
    the case (``snap``, as it is before its first event) was never written, and is inserted
    in the state the event moves it to, with the event (and ``timer``, its first timer's row:
    ``app.timers.repository.timer_row``, and ``along``, other rows that come with it: its new
    household's): one statement where the database allows
    (:func:`~app.cases.repository.insert_with_event`), and what inserting ``snap`` and then
    moving it would leave; ``alone``: that statement as its own transaction."""
    assert (timer is None and not along and not alone) or new, "only with a new case"
    moved, event = await _next_event(session, snap, name, payload, to_state, actor, now)
    if new:
        fields = Snapshot.__dataclass_fields__
        also = [*along] if timer is None else [*along, (timers.INSERT_TIMER, timer)]
        await repo.insert_with_event(
            session, {f: getattr(moved, f) for f in fields}, event, also=also, alone=alone
        )
    elif not await repo.move_with_event(
        session, snap.id, snap.version, {name: getattr(moved, name) for name in MOVING}, event
    ):
        raise VersionMismatch()
    await hooks.case_moved(session, moved)
    for field in Snapshot.__dataclass_fields__:
        setattr(snap, field, getattr(moved, field))


async def _next_event(
    session: AsyncSession,
    snap: Snapshot,
    name: str,
    payload: dict[str, Any],
    to_state: str,
    actor: Principal,
    now: datetime,
) -> tuple[Snapshot, dict[str, Any]]:
    """The case as the event leaves it, and the event's row (its hash chained to the case's
    last one); nothing is written."""
    # the case's pinned version, loaded in this process if no read of the request did it
    await policies.ensure_loaded(session, [snap.policy_version])
    params = policy(snap.policy_version)
    seq = snap.version + 1
    facts = snap.workflow.reducer(
        snap.facts, name, payload, now, from_state=snap.state, notice_days=params.notice_days
    )
    event = event_row(snap, name, payload, to_state, actor, now)
    digest = event_hash(chained_fields(event.__getitem__), snap.last_hash)
    classification = facts.get("classification") or {}
    moved = replace(
        snap,
        state=to_state,
        version=seq,
        facts=facts,
        last_hash=digest,
        is_open=to_state not in CLOSED_STATES,
        monitoring_type=classification.get("monitoring_type"),
        measures_due_at=_measures_due(facts, params),
        notice_ends_at=notice_end(to_state, facts),
        elimination_due_at=elimination_due(to_state, facts, params),
        risk_types=risk_types_column(facts),
        acceptance_due_at=(
            datetime.fromisoformat(facts["acceptance_due_at"])
            if facts.get("acceptance_due_at") and to_state == "self_declared"
            else None
        ),
        updated_at=now,
    )
    moved.due_at, moved.due_kind = next_deadline(moved)
    return moved, event | {"hash": digest}


def event_row(
    snap: Snapshot,
    name: str,
    payload: dict[str, Any],
    to_state: str,
    actor: Principal,
    now: datetime,
) -> dict[str, Any]:
    """The case's next event as its row is inserted (:data:`WRITTEN`, all but its hash): a
    plain row, no ORM object, as nothing reads it back."""
    return {
        "case_id": snap.id,
        "seq": snap.version + 1,
        "name": name,
        "from_state": snap.state,
        "to_state": to_state,
        "actor_sub": actor.sub,
        "actor_role": actor.role.value,
        "actor_area": actor.area,
        "occurred_at": now,
        "workflow_version": snap.workflow_version,
        "policy_version": snap.policy_version,
        "payload": payload,
        "prev_hash": snap.last_hash,
    }


FIXED_AT_OPENING = frozenset(
    {
        "id",
        "household_id",
        "area_code",
        "channel",
        "workflow_version",
        "policy_version",
        "opened_at",
        "identification_due_at",
    }
)
"""What a case keeps from its opening; every other column of it moves with each event."""
MOVING = tuple(name for name in Snapshot.__dataclass_fields__ if name not in FIXED_AT_OPENING)
"""The case's columns an append writes (derived: a new column moves unless declared fixed)."""
WRITTEN = tuple(c.name for c in CaseEvent.__table__.columns if c.name not in ("id", "hash", "txid"))
"""An event's columns as the service writes them: the id is the database's, the hash is
computed over them, and the log order key (txid) is the database trigger's."""


def _measures_due(facts: dict[str, Any], params: PolicyParameters) -> datetime | None:
    """A confirmed case is late from this moment until its first measure is planned."""
    if not facts.get("confirmed_at") or facts.get("measures"):
        return None
    return after_months(datetime.fromisoformat(facts["confirmed_at"]), params.measures_months)


def rule_context(
    snap: Snapshot,
    step: Step,
    now: datetime,
    payload: dict[str, Any],
    observed: dict[str, Any] | None = None,
) -> RuleContext:
    return RuleContext(
        facts=snap.facts,
        now=now,
        policy=policy(snap.policy_version),
        procedure=step.procedure,
        payload=payload,
        state=snap.state,
        **observed_fields(observed or {}),
    )


async def _observations(
    session: AsyncSession,
    snap: Snapshot,
    step: Step,
    now: datetime,
    in_effect: PolicyParameters | None = None,
) -> dict[str, Any]:
    """Facts from outside the case that a step's rules read; stored with the event for replay."""
    observed: dict[str, Any] = {}
    if household_has_no_other_open_case in step.rules:
        observed["other_open_cases"] = await repo.other_open_cases(
            session, snap.household_id, snap.id
        )
    if has_labour_capacity in step.rules or lacks_labour_capacity in step.rules:
        labour, unknown = await households.labour_counts(session, snap.household_id)
        observed.update(members_with_labour=labour, members_labour_unknown=unknown)
    if income_stable in step.rules:
        # Lines are published year by year; a year the pinned version lacks is read as
        # published since, and recorded with the event so replay reads the same line.
        pinned = policy(snap.policy_version)
        current = in_effect or await policies.in_effect(session, now)
        later = {
            str(year): str(line)
            for year, line in current.income_lines.items()
            if pinned.income_line(year) is None
        }
        if later:
            observed["income_lines"] = later
    return observed


def guard_failed(unmet: list[Unmet]) -> GuardFailed:
    return GuardFailed(unmet)


async def _transition(
    session: AsyncSession,
    snap: Snapshot,
    step: Step,
    payload: dict[str, Any],
    actor: Principal,
    now: datetime,
) -> None:
    """Check the step's rules, run the machine and append the event (the lock is held)."""
    if actor.role not in step.roles:
        raise guard_failed([Unmet(ROLE_NOT_PERMITTED, f"A {actor.role} may not do this here.")])
    observed = await _observations(session, snap, step, now)
    ctx = rule_context(snap, step, now, payload, observed)
    to_state = decide(snap.workflow, snap.state, step, ctx)
    stored = {**payload, "observed": observed} if observed else payload
    await append_event(
        session, snap, name=step.action, payload=stored, to_state=to_state, actor=actor, now=now
    )
    for effect in step.effects:  # declared in the definition, run after the event
        await EFFECTS[effect](session, snap, step, now)


def decide(flow: Workflow, state: str, step: Step, ctx: RuleContext) -> str:
    """The state ``step`` moves a case standing in ``state`` to: each of the step's rules asked
    once, every unmet one refused together, then the machine sent the step on those verdicts
    (``Workflow.run`` keeps its answer for the same state, step and verdicts)."""
    found = verdicts(step.rules, ctx, with_payload=True)
    unmet = [refusal for refusal in found.values() if refusal is not None]
    if unmet:
        raise guard_failed(unmet)
    try:
        return flow.run(state, step.action, ctx, met(found))
    except TransitionNotAllowed as exc:  # our evaluation and the machine disagree: refuse
        raise GuardFailed([], refused=step.action) from exc


async def _schedule_notice_end(
    session: AsyncSession, snap: Snapshot, step: Step, now: datetime
) -> None:
    """When the notice just published has run, the case moves on by itself (actor
    system:timer, :func:`fire_timer`)."""
    assert step.procedure is not None, f"{step.action} publishes no procedure's notice"
    notice = snap.facts["procedures"][step.procedure]["notice"]
    await timers.schedule(
        session, snap.id, timers.NOTICE_END, notice_ends_at(notice), now, step.procedure.value
    )


async def _compare_with_departments(
    session: AsyncSession, snap: Snapshot, _: Step, now: datetime
) -> None:
    """数据比对 as the case reaches the city, recorded as its own event."""
    household: HouseholdFacts | None = repo.held_household(session, snap.household_id)
    if household is None:  # the lock read it in this transaction; else read it now
        household = await session.get(Household, snap.household_id)
    assert household is not None
    comparison = await _comparison(session, snap, household)
    await append_event(
        session,
        snap,
        name="data_comparison",
        payload=comparison,
        to_state=snap.state,
        actor=SYSTEM_COMPARISON,
        now=now,
    )


EFFECTS: dict[Effect, Callable[[AsyncSession, Snapshot, Step, datetime], Awaitable[None]]] = {
    Effect.schedule_notice_end: _schedule_notice_end,
    Effect.compare_with_departments: _compare_with_departments,
}
"""Each effect a step may declare (``workflows.case.Effect``), and what runs it."""


async def fire_on_held(
    session: AsyncSession,
    snap: Snapshot,
    action: str,
    raw_payload: dict[str, Any],
    actor: Principal,
    now: datetime,
) -> None:
    """Fire a transition on a case this transaction has just opened or locked."""
    step = snap.workflow.step(action, snap.state)
    if step is None:
        raise NoTransition(action, snap.state)
    payload = _completed(snap, action, _validated(step.payload, raw_payload))
    await _transition(session, snap, step, payload, actor, now)


def _completed(snap: Snapshot, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What an action's payload says once the case fills it in: a warning is distributed to
    the township of the household's village (named or not), never to another."""
    if action != "distribute":
        return payload
    township = snap.area_code[:9]
    named = payload.get("township_code")
    if named is not None and named != township:
        raise TownshipMismatch(snap.area_code, township, named)
    return {**payload, "township_code": township}


def parse_if_match(header: str | None) -> int | None:
    """The version an ``If-Match`` names; a weak or malformed tag matches nothing."""
    if header is None:
        return None
    tag = header.strip()
    if tag.startswith('"') and tag.endswith('"') and len(tag) >= 2:
        tag = tag[1:-1]
    return int(tag) if tag.isdigit() else -1


def _check_version(snap: Snapshot, if_match: str | None, *, required: bool) -> None:
    expected = parse_if_match(if_match)
    if expected is None:
        if required:
            raise VersionRequired()
        return
    if expected != snap.version:
        raise VersionMismatch(snap.version, if_match)


def _validated(model: type[BaseModel], raw: Any) -> dict[str, Any]:
    try:
        return model.model_validate(raw if raw is not None else {}).model_dump(
            mode="json", exclude_none=True
        )
    except ValidationError as exc:
        raise validation_problem([dict(e) for e in exc.errors()]) from exc


async def lock_case(
    session: AsyncSession, principal: Principal, case_id: str, if_match: str | None = None
) -> tuple[Snapshot, HouseholdCard]:
    """The case (404 outside the caller's area) and its household, its row locked until the
    request's transaction ends.

    When the request names the version it read (``if_match``), a concurrent move answers it
    412 whether it waits for the lock or not; so on a request's own session the case is read
    without the lock, and the lock, guarded by the version read, is the first
    statement of the transaction whenever it begins (``repo.lock_when_begun``): a step whose
    only write is its move sends that move alone, as its own transaction, in place of
    ``BEGIN``, the lock and ``COMMIT``. Every transaction that writes still holds the case's
    lock before anything else, as before."""
    later = if_match is not None and may_defer_lock(session)
    found = await repo.case_in_area(session, case_id, principal.area, lock=not later)
    if found is None:
        raise CaseNotFound(case_id)
    snap, household = found
    if later:
        repo.lock_when_begun(session, snap.id, snap.version)
    await policies.ensure_loaded(session, [snap.policy_version])
    if snap.state not in snap.workflow.machine.states_map:
        raise StateCorrupt(snap.state)
    return snap, household


async def fire_action(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    action: str,
    raw_payload: Any,
    if_match: str | None,
    now: datetime,
) -> tuple[Snapshot, HouseholdCard]:
    """Fire one transition; checks answer in the API's order (404, 403, 422, 428, 412, 409)."""
    snap, household = await lock_case(session, principal, case_id, if_match)
    flow = snap.workflow
    if action not in flow.actions or action in OPEN_ACTIONS.values():
        raise ActionNotFound(action)
    if principal.role not in flow.roles_for(action):
        raise Forbidden(ROLE_NOT_PERMITTED, f"A {principal.role} never fires {action}.")
    step = flow.step(action, snap.state)
    model = (step or next(s for s in flow.steps if s.action == action)).payload
    payload = _completed(snap, action, _validated(model, raw_payload))
    _check_version(snap, if_match, required=True)
    if step is None:
        raise NoTransition(action, snap.state)
    await _transition(session, snap, step, payload, principal, now)
    return snap, household


async def _comparison(
    session: AsyncSession, snap: Snapshot, household: HouseholdFacts
) -> dict[str, Any]:
    """Findings for the household head and every member the commitment form covers."""
    covered = (snap.facts.get("commitment_form") or {}).get("covered_members", [])
    people = {household.head_id_digest, *(m["id_number_digest"] for m in covered)}
    records, snapshots = await department_data.latest_records(session, people)
    verification = snap.facts["procedures"][Procedure.identification]["verification"]
    return {"findings": compare(records, verification), "snapshots": snapshots}


async def record_fact(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    kind: str,
    payload_in: BaseModel,
    if_match: str | None,
    now: datetime,
    settings: Settings,
    locked: tuple[Snapshot, HouseholdCard] | None = None,
) -> tuple[Snapshot, HouseholdCard]:
    """Record a fact (form, review, objection …) as an event; may trigger a return. ``locked``:
    the case as this transaction already locked it (:func:`lock_case`)."""
    snap, household = locked or await lock_case(session, principal, case_id)
    spec = fact_spec(snap, kind)
    if principal.role not in spec.roles:
        raise Forbidden(ROLE_NOT_PERMITTED, f"A {principal.role} does not record {kind}.")
    if kind == "measure_progress":  # who may report is a 403, and 403 precedes 412
        early = snap.workflow.fact_rules(
            kind,
            _fact_context(
                snap, None, payload_in.model_dump(mode="json", exclude_none=True), principal, now
            ),
        )
        if early is not None and early.code == "not_the_responsible_person":
            raise Forbidden(early.code, early.message)
    _check_version(snap, if_match, required=False)
    if snap.state not in spec.states:
        raise NotRecordableInState(kind, snap.state)
    procedure = spec.states[snap.state]
    payload = payload_in.model_dump(mode="json", exclude_none=True)
    await _check_at_door(session, snap, household, kind, procedure, payload, now, settings)
    if procedure is not None and kind != "commitment_form":
        payload["procedure"] = procedure.value
    if kind == "objection":
        payload["objection_id"] = uuid.uuid4().hex
    if kind == "measure_planned":
        payload["measure_id"] = uuid.uuid4().hex
    if kind in ("household_verification", "income_assessment"):
        payload.update(income_figures(payload))
        payload["recorded_by"] = principal.display_name  # 信息采集人 in the national sheet
    if kind == "data_comparison":
        payload = await _comparison(session, snap, household)
    if kind == "commitment_form":
        # the trail keeps the digests only: a masked number in a chained payload could
        # never be re-masked at rest
        index, numbers = blind.blind_of(settings), payload.pop("covered_member_id_numbers")
        payload["covered_members"] = [{"id_number_digest": index.digest(n)} for n in numbers]
        await blind.remember(session, index, numbers)
    await _recorded(session, snap, spec, kind, procedure, payload, principal, now)
    return snap, household


def _fact_context(
    snap: Snapshot,
    procedure: Procedure | None,
    payload: dict[str, Any],
    principal: Principal,
    now: datetime,
) -> RuleContext:
    """What a fact's rules read: the case, the clock, the pinned policy, the fact and who
    records it."""
    return RuleContext(
        facts=snap.facts,
        now=now,
        policy=policy(snap.policy_version),
        procedure=procedure,
        payload=payload,
        state=snap.state,
        actor_sub=principal.sub,
        actor_role=principal.role.value,
    )


async def _recorded(
    session: AsyncSession,
    snap: Snapshot,
    spec: FactSpec,
    kind: str,
    procedure: Procedure | None,
    payload: dict[str, Any],
    principal: Principal,
    now: datetime,
) -> None:
    """The one way a fact joins a case's trail, once who records it and where are checked:
    the fact's own rules, its event, then the effects its definition declares."""
    # the rules read the case's pinned policy, which this process may not have read yet
    await policies.ensure_loaded(session, [snap.policy_version])
    refusal = snap.workflow.fact_rules(
        kind, _fact_context(snap, procedure, payload, principal, now)
    )
    if refusal is not None:
        if refusal.code == "not_the_responsible_person":
            raise Forbidden(refusal.code, refusal.message)
        raise guard_failed([refusal])
    await append_event(
        session, snap, name=kind, payload=payload, to_state=snap.state, actor=principal, now=now
    )
    for effect in spec.effects:  # declared in the definition, run after the event
        await FACT_EFFECTS[effect](session, snap, procedure, payload, principal, now)


async def _settle_objection(
    session: AsyncSession,
    snap: Snapshot,
    procedure: Procedure | None,
    payload: dict[str, Any],
    principal: Principal,
    now: datetime,
) -> None:
    """An objection resolved while its procedure's notice runs or has run."""
    notice = procedure and snap.facts["procedures"][procedure]["notice"]
    if (
        payload["outcome"] == ObjectionOutcome.dismissed
        and notice
        and procedure in NOTICE_OF_PROCEDURE
        and now >= notice_ends_at(notice)
        and not open_objections(snap.facts["procedures"][procedure])
    ):
        # The notice timer found this objection open and stood down: the case may go on now.
        await timers.schedule(session, snap.id, timers.NOTICE_END, now, now, procedure)
    if payload["outcome"] == ObjectionOutcome.upheld and snap.state in NOTICE_RUNNING_IN:
        # 异议成立: the nomination goes back to the village, the elimination back to
        # assistance (its notice and review void), in the same transaction.
        running = NOTICE_RUNNING_IN[snap.state]
        step = snap.workflow.step(running.upheld, snap.state)
        assert step is not None
        reason = running.upheld_reason
        stated = {"reason": f"{reason}: {payload['reason']}" if reason else payload["reason"]}
        await _transition(session, snap, step, stated, principal, now)


FACT_EFFECTS: dict[
    Effect,
    Callable[
        [AsyncSession, Snapshot, Procedure | None, dict[str, Any], Principal, datetime],
        Awaitable[None],
    ],
] = {Effect.settle_objection: _settle_objection}
"""Each effect a fact may declare, and what runs it (a step's are in :data:`EFFECTS`)."""


def fact_spec(snap: Snapshot, kind: str) -> FactSpec:
    """Who records ``kind`` on this case and where; 409 when its workflow has no such fact."""
    spec = snap.workflow.facts.get(kind)
    if spec is None:
        raise NotRecordableInWorkflow(kind, snap.workflow_version)
    return spec


async def _check_at_door(
    session: AsyncSession,
    snap: Snapshot,
    household: HouseholdFacts,
    kind: str,
    procedure: Procedure | None,
    payload: dict[str, Any],
    now: datetime,
    settings: Settings,
) -> None:
    """The dates of what happened, and whom a commitment form covers (422, nothing written)."""
    today = local_date(now)
    earliest, began = await door.began_on(
        session, snap.id, snap.opened_at, snap.facts, kind, procedure, payload
    )
    problems = door.date_problems(kind, payload, today, earliest, began)
    if kind == "commitment_form":
        members = await households.members_of(session, household.id)
        problems += door.commitment_form_problems(payload, members, blind.blind_of(settings), today)
    if kind == "measure_planned" and payload.get("national_item"):
        await corrections.ensure_current(session, fresh=False)  # the city may rename items
        problems += door.measure_item_problems(payload, labels.MEASURE_ITEMS)
    if problems:
        raise door.refuse(problems)


@cache
def payload_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A step's payload model as JSON Schema, for ``GET …/actions``: generated once per model
    (pydantic builds it anew on every call, which was half of that request's CPU). Callers
    must not change it."""
    return model.model_json_schema()


def requires(step: Step) -> list[str]:
    """The payload fields the step's rules need: refused with a rule's 409 when absent, so
    a console asks for them before it fires the action."""
    return sorted({name for rule in step.rules for name in rule.requires})


def available_actions(
    snap: Snapshot,
    principal: Principal,
    now: datetime,
    observations: dict[str, dict[str, Any]] | None = None,
) -> bytes:
    """Every action leaving the current state, with what stands in the caller's way: a list
    of :class:`~app.cases.schemas.ActionOut` as its model writes it, written by orjson
    without building the models. What a step always shows (its name, title, target, the
    fields it requires and its payload's schema, the bulk of the answer) is written once a
    process (:func:`_action_text`); a request writes only whether it is allowed and what is
    unmet. ``tests/test_rules_api.py`` holds the answer to what the models write."""
    language = LANGUAGE.get()
    written = []
    for step in snap.workflow.steps_from(snap.state):
        unmet: list[Unmet] = []
        if principal.role not in step.roles:
            unmet.append(Unmet(ROLE_NOT_PERMITTED, f"A {principal.role} may not do this here."))
        ctx = rule_context(snap, step, now, {}, (observations or {}).get(step.action))
        unmet += evaluate(step.rules, ctx, with_payload=False)
        shown = [
            {"code": u.code, "message": message(u.code, u.message, language), "met_at": u.met_at}
            for u in unmet
        ]
        head, tail = _action_text(step)
        allowed = b"false" if unmet else b"true"
        unmet_text = orjson.dumps(shown, option=orjson.OPT_UTC_Z)
        written.append(b"".join((head, allowed, b',"unmet":', unmet_text, tail)))
    return b"[" + b",".join(written) + b"]"


def _action_text(step: Step) -> tuple[bytes, bytes]:
    """What an action's answer always holds, around ``allowed`` and ``unmet``: its text up
    to ``"allowed":``, and from ``"requires"`` to its end, in its model's order. Written
    once a step, kept by the step's identity: a step's hash walks its rules and payload on
    every call (1% of a read of actions, under callgrind)."""
    kept = _ACTION_TEXTS.get(id(step))
    if kept is not None and kept[0] is step:
        return kept[1]
    head = orjson.dumps({"name": step.action, "title": step.title, "to_state": step.target})
    tail = orjson.dumps(
        {"requires": requires(step), "payload_schema": payload_schema(step.payload)}
    )
    text = head[:-1] + b',"allowed":', b"," + tail[1:]
    _ACTION_TEXTS[id(step)] = (step, text)
    return text


_ACTION_TEXTS: dict[int, tuple[Step, tuple[bytes, bytes]]] = {}
""":func:`_action_text`'s, by the step's ``id``; each entry holds its step, so that no other
object takes that ``id`` while it is kept (the workflows' steps live as long as the process)."""


async def actions_for(
    session: AsyncSession, principal: Principal, case_id: str, now: datetime
) -> bytes:
    """The answer to ``GET …/actions`` (:func:`available_actions`)."""
    snap, _ = await read_case(session, principal, case_id)
    observations = {
        step.action: await _observations(session, snap, step, now)
        for step in snap.workflow.steps_from(snap.state)
    }
    return available_actions(snap, principal, now, observations)


# --- the household registry ------------------------------------------------------------------


async def append_fact(
    session: AsyncSession,
    snap: Snapshot,
    principal: Principal,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    refused: str,
) -> None:
    """A fact another domain records on a case it holds (a registry change, a fund event),
    checked as every fact is: who records it, in which state (else 409 ``refused``), and the
    fact's own rules (:func:`_recorded`)."""
    spec = snap.workflow.facts[kind]
    if principal.role not in spec.roles or snap.state not in spec.states:
        raise Conflict(refused, f"No {kind} is recorded on a case in {snap.state}.")
    await _recorded(session, snap, spec, kind, spec.states[snap.state], payload, principal, now)


async def record_household_change(
    session: AsyncSession,
    principal: Principal,
    household_id: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """A registry change is an event on the household's open case, if it has one (call it in
    the transaction that makes the change)."""
    case = await repo.open_case_of(session, household_id)
    if case is not None:
        await append_fact(
            session,
            Snapshot.of(case),
            principal,
            "household_change",
            payload,
            now,
            "not_recordable_in_state",
        )


async def elimination_unmet(
    session: AsyncSession, snap: Snapshot, now: datetime, in_effect: PolicyParameters
) -> list[str]:
    """The elimination criteria a monitored case misses now (as propose_elimination reads them);
    ``in_effect`` is the policy in effect now, looked up once by the caller for many cases."""
    step = snap.workflow.step("propose_elimination", snap.state)
    if step is None:
        return []
    observed = await _observations(session, snap, step, now, in_effect)
    return [
        u.code
        for u in evaluate(
            step.rules, rule_context(snap, step, now, {}, observed), with_payload=True
        )
    ]


async def record_fund_event(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """A fund disbursement or reversal is an event of the case's trail (same transaction)."""
    snap, _ = await lock_case(session, principal, case_id)
    await append_fact(session, snap, principal, kind, payload, now, "case_not_assisted")


# --- timers ------------------------------------------------------------------------------------


async def fire_timer(
    session: AsyncSession, case_id: str, kind: str, procedure: str | None, now: datetime
) -> str:
    """Do what a due timer calls for, through the same write path as any caller."""
    snap, _ = await lock_case(session, SYSTEM_TIMER, case_id)
    if kind == timers.NOTICE_END:
        notice = NOTICE_OF_PROCEDURE[Procedure(procedure or "")]
        state, action = notice.runs_in, notice.ends_with
        if snap.state != state:
            return f"skipped: the case is {snap.state}"
        step = snap.workflow.step(action, state)
        assert step is not None
        await _transition(session, snap, step, {}, SYSTEM_TIMER, now)
        return "moved"
    if kind == timers.IDENTIFICATION_DEADLINE:
        if snap.state not in IDENTIFICATION_STATES:
            return f"skipped: the case is {snap.state}"
        await append_event(
            session,
            snap,
            name="deadline_escalation",
            payload={"due_at": utc_iso(snap.identification_due_at)},
            to_state=snap.state,
            actor=SYSTEM_TIMER,
            now=now,
        )
        return "escalated"
    raise ValueError(f"unknown timer kind {kind!r}")

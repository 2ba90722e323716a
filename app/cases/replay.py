"""Replay: every step of a case recomputed from its pinned workflow, under the facts and the
time it happened at, and the hash chain checked; a case's state and facts as of a moment,
folded from its events. What the write path observed outside the case (other open cases,
labour, income lines) is stored with the event and read back here (:func:`observed_fields`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from statemachine.exceptions import TransitionNotAllowed

from app.auth.tokens import Principal
from app.cases import repository as repo
from app.cases.models import CaseEvent
from app.cases.schemas import (
    ReplayOut,
    ReplayStep,
)
from app.cases.views import read_case
from app.core.canonical import GENESIS_HASH, event_hash
from app.policies import service as policies
from workflows.case import (
    Workflow,
    workflow,
)
from workflows.facts import initial_facts
from workflows.policy import policy
from workflows.rules import (
    RuleContext,
    met,
    verdicts,
)


def observed_fields(observed: dict[str, Any]) -> dict[str, Any]:
    """The rule context's fields for what was observed outside the case (as stored)."""
    return {
        "other_open_cases": observed.get("other_open_cases", 0),
        "members_with_labour": observed.get("members_with_labour", 0),
        "members_labour_unknown": observed.get("members_labour_unknown", 0),
        "income_lines": {int(y): v for y, v in observed.get("income_lines", {}).items()},
    }


def _replay_step(
    flow: Workflow, state: str, facts: dict[str, Any], event: CaseEvent
) -> tuple[str | None, bool, list[str], dict[str, Any]]:
    """One event under the pinned workflow: the state it leads to, whether it was legal."""
    legal, unmet_codes = True, list[str]()
    if event.name in flow.actions:
        step = flow.step(event.name, state)
        if step is None or event.actor_role not in step.roles:
            return None, False, [], facts
        payload = {k: v for k, v in event.payload.items() if k != "observed"}
        observed = event.payload.get("observed", {})
        ctx = RuleContext(
            facts=facts,
            now=event.occurred_at,
            policy=policy(event.policy_version),
            procedure=step.procedure,
            payload=payload,
            state=state,
            **observed_fields(observed),
        )
        found = verdicts(step.rules, ctx, with_payload=True)  # each rule once
        unmet_codes = [u.code for u in found.values() if u is not None]
        try:
            new_state = flow.run(state, event.name, ctx, met(found))
        except TransitionNotAllowed:
            return None, False, unmet_codes, facts
    elif event.name in flow.facts or event.name == "report":
        spec = flow.facts.get(event.name)
        if spec is not None and (state not in spec.states or event.actor_role not in spec.roles):
            legal = False
        elif spec is not None:
            # the fact's own rules, as they stood when it was recorded
            refusal = flow.fact_rules(
                event.name,
                RuleContext(
                    facts=facts,
                    now=event.occurred_at,
                    policy=policy(event.policy_version),
                    procedure=spec.states[state],
                    payload=event.payload,
                    state=state,
                    actor_sub=event.actor_sub,
                    actor_role=event.actor_role,
                ),
            )
            if refusal is not None:
                legal, unmet_codes = False, [refusal.code]
        new_state = state
    else:
        return None, False, [], facts
    facts = flow.reducer(
        facts,
        event.name,
        event.payload,
        event.occurred_at,
        from_state=state,
        notice_days=policy(event.policy_version).notice_days,
    )
    return new_state, legal and not unmet_codes, unmet_codes, facts


def replay_events(
    stored_state: str, stored_facts: dict[str, Any], events: list[CaseEvent], workflow_version: str
) -> ReplayOut:
    """Recompute every step from the pinned workflow and check the hash chain.

    States come from running the machine from ``new``, never from an event's stored
    ``to_state``; each transition is re-checked under the facts and time it happened at.
    """
    flow = workflow(workflow_version)
    state: str | None = "new"
    facts = initial_facts()
    prev_hash = GENESIS_HASH
    chain_valid, broken_at = True, None
    steps: list[ReplayStep] = []
    for expected_seq, event in enumerate(events, start=1):
        fields = event.hashed_fields()
        hash_ok = (
            event.seq == expected_seq
            and event.prev_hash == prev_hash
            and event_hash(fields, prev_hash) == event.hash
        )
        if not hash_ok and chain_valid:
            chain_valid, broken_at = False, event.seq
        prev_hash = event.hash
        from_state = state
        legal, unmet_codes = True, list[str]()
        if state is None:
            legal = False
        else:
            try:
                state, legal, unmet_codes, facts = _replay_step(flow, state, facts, event)
            except (KeyError, TypeError, ValueError, AttributeError):
                # A payload no legal write could have produced (the trail was edited).
                legal, unmet_codes, state = False, ["payload_malformed"], None
        steps.append(
            ReplayStep(
                seq=event.seq,
                event=event.name,
                from_state=from_state or "?",
                to_state=state or "?",
                hash_valid=hash_ok,
                legal=legal and not unmet_codes,
                unmet=unmet_codes,
            )
        )
    return ReplayOut(
        stored_state=stored_state,
        replayed_state=state,
        matches=state == stored_state,
        facts_match=facts == stored_facts,
        chain_valid=chain_valid,
        broken_at_seq=broken_at,
        all_steps_legal=all(s.legal for s in steps),
        steps=steps,
    )


async def replay(session: AsyncSession, principal: Principal, case_id: str) -> ReplayOut:
    snap, _ = await read_case(session, principal, case_id)
    events = list(await repo.events_of(session, case_id))
    await policies.ensure_loaded(
        session, {snap.policy_version, *(e.policy_version for e in events)}
    )
    return replay_events(snap.state, snap.facts, events, snap.workflow_version)


async def events(session: AsyncSession, principal: Principal, case_id: str) -> list[CaseEvent]:
    await read_case(session, principal, case_id)
    return list(await repo.events_of(session, case_id))


async def as_of(
    session: AsyncSession, principal: Principal, case_id: str, at: datetime
) -> tuple[str | None, int, dict[str, Any]]:
    """The case's state, version and facts at ``at``, folded from the events recorded by then
    (state None: the case did not exist yet)."""
    snap, _ = await read_case(session, principal, case_id)
    events = [e for e in await repo.events_of(session, case_id) if e.occurred_at <= at]
    await policies.ensure_loaded(session, {e.policy_version for e in events})
    facts = initial_facts()
    for event in events:
        facts = snap.workflow.reducer(
            facts,
            event.name,
            event.payload,
            event.occurred_at,
            from_state=event.from_state,
            notice_days=policy(event.policy_version).notice_days,
        )
    return (events[-1].to_state if events else None), len(events), facts

"""Opening a case: a report on a household (self-declared, cadre-found, department-flagged,
or from the 12317 platform), which registers the household when it is new and becomes a new
case in the channel's state, or an event of the household's open case. Every opening goes
through :func:`report_on_household`, in the caller's transaction, so what led to the report
(a screening visit, a distributed warning, an entry of a warning list) commits with it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.access_log.record import registry_probe
from app.auth.tokens import Principal
from app.cases import repository as repo
from app.cases.errors import ApplicationFormMissing, HouseholdInAnotherVillage
from app.cases.schemas import OpenCaseIn
from app.cases.service import append_event, decide, rule_context
from app.cases.snapshot import Snapshot
from app.core import blind
from app.core.canonical import GENESIS_HASH
from app.core.config import Settings
from app.core.direct import DirectInsert, DirectRow, may_write_alone
from app.core.errors import Forbidden
from app.households import hooks as registry_hooks
from app.households import registry
from app.households import repository as households
from app.households.card import HouseholdFacts
from app.households.errors import UnknownVillage, VillageOutsideArea
from app.policies import service as policies
from app.timers import repository as timers
from workflows.calendar import after_full_days, local_date
from workflows.case import CURRENT as CURRENT_WORKFLOW
from workflows.case import OPEN_ACTIONS, Step, Workflow
from workflows.facts import initial_facts
from workflows.policy import PolicyParameters
from workflows.rule_codes import ROLE_NOT_PERMITTED
from workflows.vocabulary import Role

WithCase = Callable[[str], Sequence[tuple[DirectInsert, dict[str, Any]]]]
"""Rows a caller writes with the case it opens or reports on, given the case's id."""


async def open_case(
    session: AsyncSession,
    principal: Principal,
    body: OpenCaseIn,
    now: datetime,
    settings: Settings,
    *,
    only_write: bool = False,
    with_case: WithCase | None = None,
) -> tuple[Snapshot, HouseholdFacts, bool]:
    """Open a case, or attach the report to the household's open case. ``only_write``: the
    caller writes nothing else in the request (``POST /cases``, the 12317 intake), so a new
    household's opening may be one statement, committed alone (:func:`_open_or_attach`); a
    caller that writes more after it leaves it False, and all commits in one transaction.
    ``with_case``: rows of the caller's that name the case (the intake's receipt), written
    with it: in the new case's statement, or after the report's event when it attaches."""
    flow = CURRENT_WORKFLOW
    open_step = flow.step(OPEN_ACTIONS[body.channel], "new")
    assert open_step is not None
    if principal.role not in open_step.roles:
        raise Forbidden(ROLE_NOT_PERMITTED, f"A {principal.role} does not open {body.channel}.")
    village = body.household.village_code
    if not principal.covers(village):
        raise VillageOutsideArea(village)
    if (
        body.channel == "self_declared"
        and principal.role == Role.village_cadre
        and not body.application_sha256
    ):
        raise ApplicationFormMissing()
    for attempt in range(2):
        # A concurrent report may create the household or its case first: the opening is
        # undone and tried again, which then attaches. Inside a transaction already begun
        # (the idempotency middleware's) a savepoint undoes it; a session that began nothing
        # yet rolls its transaction back instead, which undoes the same and spares the
        # savepoint's two round trips.
        alone = not session.in_transaction()
        try:
            async with nullcontext() if alone else session.begin_nested():
                return await _open_or_attach(
                    session, principal, body, flow, open_step, now, settings, only_write, with_case
                )
        except IntegrityError:
            if attempt:
                raise
            if alone:
                await session.rollback()
    raise AssertionError("unreachable")


async def _open_or_attach(
    session: AsyncSession,
    principal: Principal,
    body: OpenCaseIn,
    flow: Workflow,
    open_step: Step,
    now: datetime,
    settings: Settings,
    only_write: bool,
    with_case: WithCase | None,
) -> tuple[Snapshot, HouseholdFacts, bool]:
    """Open the case (or attach the report) inside the caller's transaction, so that what
    led to the report (a screening visit, a distributed warning) commits with it; or, when
    it is the request's ``only_write`` and registers a new household, as one statement
    alone."""
    village = body.household.village_code
    report = {
        "channel": body.channel.value,
        "source": body.source,
        "description": body.description or None,
        "risk_type": body.risk_type.value if body.risk_type else None,
        "application_sha256": body.application_sha256,
    }
    report = {k: v for k, v in report.items() if v is not None}
    index = blind.blind_of(settings)
    # the declarant may be any registered member (a spouse, a grown child): their household;
    # and the policy in effect, which a new case is opened under: one round trip
    digests = index.candidates(body.household.head_id_number)
    row = await _intake().first(
        session, {"code": village, "digests": digests, "day": local_date(now)}
    )
    known, found = households.village_and_household(row)
    if not known:
        raise UnknownVillage(village)
    household: HouseholdFacts | None = found
    assert row is not None
    *_, version, registration_writes = row
    in_effect = None if version is None else await policies.parameters_of(session, version)
    if household is not None and household.village_code != village:
        # named only to those whose area holds it; the probe itself is in the access log
        where = (
            f"in village {household.village_code}"
            if principal.covers(household.village_code)
            else "in another village"
        )
        refusal = HouseholdInAnotherVillage(where)
        why = "opening a case: household_village_mismatch"
        refusal.kept.append(registry_probe(principal, household.id, now, why))
        raise refusal
    registered_now = household is None
    along: list[tuple[DirectInsert, dict[str, Any]]] = []
    card = None
    # the caller writes nothing else, and nothing began the request's transaction
    alone = only_write and may_write_alone(session)
    if household is None:
        digest = index.digest(body.household.head_id_number)
        if alone and not registration_writes and not index.rotating:
            # nothing but the household, its head and its case is written (no listener of
            # the registration writes, no key is re-keyed): one statement, its own transaction
            card, values, head = registry.household_rows(body.household, digest, now, settings)
            household = card
            along = households.rows_along(values, head)
        else:
            alone = False
            household = await registry.insert_household(
                session, body.household, digest, now, settings
            )
    snap, attached = await report_on_household(
        session,
        principal,
        household,
        report,
        flow,
        open_step,
        now,
        household_type=body.household.household_type,
        registered_now=registered_now,
        in_effect=in_effect,
        along=along,
        with_case=with_case,
        alone=alone,
    )
    if card is not None:  # written with the case: what follows a registration, now
        await registry.registered(session, card, body.household.head_id_number, now, settings)
    return snap, household, attached


@cache
def _intake() -> DirectRow:
    """An opening's first read, compiled once: the village, the household of the person, the
    policy version in effect, and whether registering a household now would write anything
    but its rows (a listener of ``household_registered``, such as a running screening round:
    the last two columns). Built at the first opening, once ``app.wiring`` has connected the
    hook's listeners."""
    writes = registry_hooks.household_registered.writes_when().label("registration_writes")
    return DirectRow(
        households.village_and_person(arrays=True).add_columns(
            policies.version_in_effect(), writes
        ),
        elsewhere=households.village_and_person(arrays=False).add_columns(
            policies.version_in_effect(), writes
        ),
    )


async def report_on_household(
    session: AsyncSession,
    principal: Principal,
    household: HouseholdFacts,
    report: dict[str, Any],
    flow: Workflow,
    open_step: Step,
    now: datetime,
    *,
    household_type: str | None = None,
    registered_now: bool = False,
    in_effect: PolicyParameters | None = None,
    along: list[tuple[DirectInsert, dict[str, Any]]] | None = None,
    with_case: WithCase | None = None,
    alone: bool = False,
) -> tuple[Snapshot, bool]:
    """Report a registered household's risk (``report`` names the channel): a new case in the
    channel's state, or, when the household has an open case, an event of it (attached). A
    household ``registered_now``, in this transaction, has no case anyone could have opened:
    its earlier cases and its open one are not asked for (two round trips of an opening).
    ``in_effect``: the policy in effect now, when the caller has read it already. ``along``:
    the rows of a household registered now and not yet written, which the new case's
    statement writes with it. ``with_case``: the caller's rows that name the case, written
    with the new case's statement, or after the report's event. ``alone``: the request
    writes nothing else (:func:`~app.core.direct.may_write_alone`), so a new case's
    statement is its own transaction; a household registered earlier then has its cases
    read outside any transaction, and only an open one is locked (in a transaction, which
    the report's event joins). Two openings of a household with no open case both insert
    one; the database's one open case a household refuses the second, whose retry attaches
    (:func:`open_case`)."""
    assert not along or (registered_now and alone)
    if registered_now:
        previous, existing = [], None
    elif alone:
        cases = await repo.cases_of_household(session, household.id)
        previous = [case_id for case_id, _ in cases]
        has_open = any(is_open for _, is_open in cases)
        existing = await repo.open_case_of(session, household.id) if has_open else None
        alone = not has_open  # its lock began the transaction
    else:
        previous = await repo.case_ids_of(session, household.id)
        existing = await repo.open_case_of(session, household.id)
    if existing is not None:
        snap = Snapshot.of(existing)
        await append_event(
            session,
            snap,
            name="report",
            payload=report,
            to_state=snap.state,
            actor=principal,
            now=now,
        )
        for insert_, row in with_case(snap.id) if with_case else ():
            await insert_.run(session, row)
        return snap, True
    params = in_effect or await policies.in_effect(session, now)
    snap = Snapshot(
        id=str(uuid.uuid4()),
        household_id=household.id,
        area_code=household.village_code,
        channel=report["channel"],
        state="new",
        version=0,
        workflow_version=flow.version,
        policy_version=params.version,
        is_open=True,
        monitoring_type=None,
        facts=initial_facts(),
        last_hash=GENESIS_HASH,
        opened_at=now,
        identification_due_at=after_full_days(now, params.identification_days),
        measures_due_at=None,
        acceptance_due_at=None,
        updated_at=now,
    )
    kind = household_type or "ordinary"
    payload: dict[str, Any] = {"household_id": household.id, "household_type": kind, **report}
    payload.pop("channel")
    if principal.role == Role.platform_12317:
        # the village accepts a declaration from the app within a set time (受理时限)
        due = after_full_days(now, params.acceptance_days)
        payload["acceptance_due_at"] = due.isoformat()
    if previous:
        payload["previous_case_ids"] = previous  # a re-entry stays linked to its history
    to_state = decide(flow, "new", open_step, rule_context(snap, open_step, now, payload))
    deadline = timers.timer_row(
        snap.id, timers.IDENTIFICATION_DEADLINE, snap.identification_due_at, now
    )
    await append_event(
        session,
        snap,
        name=open_step.action,
        payload=payload,
        to_state=to_state,
        actor=principal,
        now=now,
        new=True,
        timer=deadline,
        along=[*(along or ()), *(with_case(snap.id) if with_case else ())],
        alone=alone,
    )
    return snap, False

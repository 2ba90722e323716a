"""Reading a case: the caller's area and permission checked, and the case as answers show
it (deadlines, household, suggested classification, facts with every number masked)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import orjson
from fastapi import Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import permit
from app.auth.tokens import Principal
from app.cases import repository as repo
from app.cases.errors import CaseNotFound
from app.cases.schemas import CaseOut
from app.cases.snapshot import Snapshot
from app.core.db import json_bytes
from app.households import idnumber
from app.households.card import HouseholdCard, HouseholdFacts
from app.policies import service as policies
from workflows.case import (
    IDENTIFICATION_STATES,
)
from workflows.classification import suggest
from workflows.permissions import Permission
from workflows.policy import policy


def deadlines(snap: Snapshot, now: datetime) -> dict[str, Any]:
    """The case's :class:`~app.cases.schemas.Deadlines`, as its answer writes them."""
    return {
        "identification_due_at": snap.identification_due_at,
        "identification_overdue": snap.state in IDENTIFICATION_STATES
        and now >= snap.identification_due_at,
        "notice_ends_at": snap.notice_ends_at,
        "elimination_due_at": snap.elimination_due_at,
        "measures_due_at": snap.measures_due_at,
        "measures_overdue": snap.measures_due_at is not None and now >= snap.measures_due_at,
        "acceptance_due_at": snap.acceptance_due_at,
        "acceptance_overdue": snap.acceptance_due_at is not None and now >= snap.acceptance_due_at,
    }


def household_summary(household: HouseholdFacts) -> dict[str, Any]:
    """The household's :class:`~app.households.schemas.HouseholdSummary`, as answers write it."""
    return {
        "id": household.id,
        "head_name": household.head_name,
        "head_id_number_masked": idnumber.shown(household.head_id_number_masked),
        "village_code": household.village_code,
        "village_group": household.village_group,
        "size": household.size,
    }


def suggestion(snap: Snapshot) -> dict[str, str] | None:
    """The case's :class:`~app.cases.schemas.SuggestedClassification`, if its facts make one."""
    suggested = suggest(snap.facts, policy(snap.policy_version))
    if suggested is None:
        return None
    return {"monitoring_type": suggested[0], "reason": suggested[1]}


def redacted(document: dict[str, Any]) -> dict[str, Any]:
    """Facts or a payload as answers show them: every masked number re-masked."""
    shown: dict[str, Any] = idnumber.redact(document)  # type: ignore[assignment]
    return shown


def case_answer(
    snap: Snapshot,
    household: HouseholdFacts,
    now: datetime,
    shape: type[CaseOut] = CaseOut,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **more: Any,
) -> Response:
    """The answer to a request about one case (:func:`case_json`), its ETag the case's
    version. The route keeps ``shape`` as its response model, for the contract."""
    return Response(
        case_json(snap, household, now, shape, **more),
        status_code=status_code,
        headers={**(headers or {}), "ETag": f'"{snap.version}"'},
        media_type="application/json",
    )


def case_json(
    snap: Snapshot,
    household: HouseholdFacts,
    now: datetime,
    shape: type[CaseOut] = CaseOut,
    **more: Any,
) -> bytes:
    """The case as answers show it, as JSON: ``shape`` (a richer answer built in the same
    one pass, an inbox item or an opening, with its own fields in ``more``) as its model
    writes it, written by orjson without building the model.

    The model stays the contract (the route's response model, the OpenAPI document); the
    answer is the document it writes, field for field and in its order but for the facts,
    written last, datetimes in UTC as ``Z`` as pydantic writes them
    (``tests/test_personal_data.py`` holds every kind of case answer to it). Building the
    model validated what this module had just derived from a snapshot the database had
    checked: 8% of a read's instructions, about 2.4% of its time (``bench/RESULTS.md``,
    2026-12-05). The facts, the bulk of it, go in as
    the database is sent them (``app.core.db.json_bytes``, kept as they are when they hold
    nothing to re-mask: ``idnumber.redacted_json``), after the other fields."""
    head = {
        "id": snap.id,
        "state": snap.state,
        "version": snap.version,
        "channel": snap.channel,
        "area_code": snap.area_code,
        "is_open": snap.is_open,
        "monitoring_type": snap.monitoring_type,
        "workflow_version": snap.workflow_version,
        "policy_version": snap.policy_version,
        "opened_at": snap.opened_at,
        "updated_at": snap.updated_at,
        "household": household_summary(household),
        "deadlines": deadlines(snap, now),
        "suggested_classification": suggestion(snap),
    }
    for name in _own_fields(shape):
        head[name] = more[name]
    text = orjson.dumps(head, option=orjson.OPT_UTC_Z)
    facts = idnumber.redacted_json(snap.facts, json_bytes)
    return b"".join((text[:-1], b',"facts":', facts, b"}"))


@functools.cache
def _own_fields(shape: type[CaseOut]) -> tuple[str, ...]:
    """The fields a richer answer adds to :class:`CaseOut`'s, in its model's order (facts,
    the last of CaseOut's, are written after them)."""
    return tuple(name for name in shape.model_fields if name not in CaseOut.model_fields)


def page_answer(page: BaseModel, items: list[bytes]) -> Response:
    """A page of cases as its answer: ``page`` (its ``items`` left empty, its other fields
    set) written by pydantic, the cases' JSON (:func:`case_json`) as its items. The route
    keeps the page's model as its response model, for the contract."""
    rest = page.__pydantic_serializer__.to_json(page, exclude=_ITEMS)
    tail = b"}" if rest == b"{}" else b"," + rest[1:]
    return Response(
        b"".join((b'{"items":[', b",".join(items), b"]", tail)), media_type="application/json"
    )


_ITEMS = {"items"}


async def read_case(
    session: AsyncSession,
    principal: Principal,
    case_id: str,
    permission: Permission = Permission.case_read,
) -> tuple[Snapshot, HouseholdCard]:
    """A case the caller may read: 404 outside their area, then 403 without ``permission``."""
    found = await get_case(session, principal, case_id)
    permit(principal, permission)
    return found


async def get_case(
    session: AsyncSession, principal: Principal, case_id: str
) -> tuple[Snapshot, HouseholdCard]:
    found = await repo.case_in_area(session, case_id, principal.area)
    if found is None:
        raise CaseNotFound(case_id)
    await policies.ensure_loaded(session, [found[0].policy_version])
    return found

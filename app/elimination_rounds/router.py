"""Elimination assessment rounds: who is ready, who misses what, and how each one is doing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import status
from pydantic import BaseModel, ConfigDict, StringConstraints

from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.auth.errors import AreaOutside
from app.auth.permissions import permit
from app.cases import repository as cases_repo
from app.cases import service as cases
from app.cases import snapshot as case_snapshot
from app.core.db import SessionDep
from app.core.routing import api_router
from app.elimination_rounds.errors import EliminationRoundNotFound
from app.elimination_rounds.models import EliminationRound
from app.policies import service as policies
from workflows.case import ELIMINATION_STATES
from workflows.permissions import Permission

router = api_router(prefix="/api/v1/elimination-rounds", tags=["elimination-rounds"])
IN_SCOPE = ("assisted", "kept_under_watch", *ELIMINATION_STATES, "risk_eliminated")


class RoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area: Annotated[str, StringConstraints(pattern=r"^\d{6,12}$")]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RoundHousehold(BaseModel):
    case_id: str
    head_name: str
    village_code: str
    state: str
    standing: str
    """``ready`` (every criterion met), ``not_ready``, ``in_procedure`` or ``eliminated``."""
    unmet: list[str]


class EliminationRoundOut(BaseModel):
    id: str
    area_code: str
    opened_at: datetime
    opened_by: str
    reason: str
    households: list[RoundHousehold] | None = None
    counts: dict[str, int] | None = None


def _out(row: EliminationRound) -> EliminationRoundOut:
    return EliminationRoundOut(
        id=row.id,
        area_code=row.area_code,
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        reason=row.reason,
    )


@router.post("", response_model=EliminationRoundOut, status_code=status.HTTP_201_CREATED)
async def open_round(
    body: RoundIn, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> EliminationRoundOut:
    """The city bureau opens an assessment round over an area within its own."""
    permit(principal, Permission.elimination_round_open)
    if not principal.covers(body.area):
        raise AreaOutside(f"{body.area} is outside your area.")
    row = EliminationRound(
        id=str(uuid.uuid4()),
        area_code=body.area,
        opened_at=clock.now(),
        opened_by=principal.sub,
        reason=body.reason,
    )
    session.add(row)
    return _out(row)


@router.get("/{round_id}", response_model=EliminationRoundOut)
async def get_round(
    round_id: str, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> EliminationRoundOut:
    """Every monitored household of the round's area (within yours): ready, not ready with the
    criteria it misses, already in the elimination procedure, or eliminated since it opened."""
    now = clock.now()
    row = await session.get(EliminationRound, round_id)
    if row is None or not (
        row.area_code.startswith(principal.area) or principal.area.startswith(row.area_code)
    ):
        raise EliminationRoundNotFound(round_id)
    permit(principal, Permission.elimination_round_read)
    households = []
    rows = await cases_repo.cases_in_states(session, (row.area_code, principal.area), IN_SCOPE)
    # one policy lookup for the whole round; each case's pinned version loaded once
    in_effect = await policies.in_effect(session, now)
    await policies.ensure_loaded(session, {case.policy_version for case, _ in rows})
    for case, household in rows:
        snap = case_snapshot.Snapshot.of(case)
        unmet: list[str] = []
        if case.state == "risk_eliminated":
            eliminated_at = (snap.facts.get("elimination") or {}).get("eliminated_at")
            if not eliminated_at or datetime.fromisoformat(eliminated_at) < row.opened_at:
                continue  # eliminated before the round: not part of it
            standing = "eliminated"
        elif case.state in ELIMINATION_STATES:
            standing = "in_procedure"
        else:
            unmet = await cases.elimination_unmet(session, snap, now, in_effect)
            standing = "not_ready" if unmet else "ready"
        households.append(
            RoundHousehold(
                case_id=case.id,
                head_name=household.head_name,
                village_code=case.area_code,
                state=case.state,
                standing=standing,
                unmet=unmet,
            )
        )
    out = _out(row)
    out.households = households
    out.counts = {
        s: sum(h.standing == s for h in households)
        for s in ("ready", "not_ready", "in_procedure", "eliminated")
    }
    return out

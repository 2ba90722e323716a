"""Policy parameters: read by everyone, changed by the city bureau or an administrator."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import status
from pydantic import BaseModel

from app.auth.dependencies import ClockDep, CurrentPrincipal
from app.auth.permissions import permit
from app.core.db import SessionDep
from app.core.routing import api_router
from app.policies import service
from app.policies.errors import PolicyNotFound
from app.policies.models import PolicyVersion
from workflows.permissions import Permission

router = api_router(prefix="/api/v1/policies", tags=["policies"])


class PolicyOut(BaseModel):
    version: str
    effective_from: date
    parameters: dict[str, Any]
    created_at: datetime
    created_by: str
    reason: str


def _out(row: PolicyVersion) -> PolicyOut:
    return PolicyOut(
        version=row.version,
        effective_from=row.effective_from,
        parameters=row.parameters,
        created_at=row.created_at,
        created_by=row.created_by,
        reason=row.reason,
    )


@router.get("", response_model=list[PolicyOut])
async def list_policies(principal: CurrentPrincipal, session: SessionDep) -> list[PolicyOut]:
    """Every version, oldest first; each case names the one it runs under."""
    permit(principal, Permission.policy_read)
    return [_out(row) for row in await service.all_versions(session)]


@router.get("/{version}", response_model=PolicyOut)
async def get_policy(version: str, principal: CurrentPrincipal, session: SessionDep) -> PolicyOut:
    permit(principal, Permission.policy_read)
    row = await session.get(PolicyVersion, version)
    if row is None:
        raise PolicyNotFound(version)
    return _out(row)


@router.post("", response_model=PolicyOut, status_code=status.HTTP_201_CREATED)
async def create_policy(
    change: service.PolicyChange, principal: CurrentPrincipal, session: SessionDep, clock: ClockDep
) -> PolicyOut:
    """A new version from a date on (today or later), with a reason; what is not given is kept
    from the version in effect then. Cases already open keep the version they pinned."""
    return _out(await service.create(session, principal, change, clock.now()))

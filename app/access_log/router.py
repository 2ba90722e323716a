"""The access log, for auditors: who read which personal data, when and why."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from app.access_log import record
from app.auth.dependencies import CurrentPrincipal
from app.auth.permissions import permit
from app.core.db import SessionDep
from app.core.routing import api_router
from workflows.permissions import Permission

router = api_router(prefix="/api/v1", tags=["personal-data"])


class AccessLogOut(BaseModel):
    id: int
    at: datetime
    actor_sub: str
    actor_role: str
    actor_area: str
    record_type: str
    record_id: str
    fields: list[str]
    purpose: str


@router.get("/access-log", response_model=list[AccessLogOut])
async def access_log(
    principal: CurrentPrincipal,
    session: SessionDep,
    record_id: str | None = None,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AccessLogOut]:
    """Who read which personal data in full, when and why; newest first (auditors)."""
    permit(principal, Permission.access_log_read)
    rows = await record.entries(session, record_id=record_id, actor=actor, limit=limit)
    return [
        AccessLogOut(
            id=r.id,
            at=r.at,
            actor_sub=r.actor_sub,
            actor_role=r.actor_role,
            actor_area=r.actor_area,
            record_type=r.record_type,
            record_id=r.record_id,
            fields=list(r.fields),
            purpose=r.purpose,
        )
        for r in rows
    ]

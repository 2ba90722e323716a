"""Every entry of the access log is made here: a read of personal data (a household's
identities, a national export, an audit bundle), a read of a ledger, a refused registry
probe. Each is committed with the request before the data is answered; a refused registry
probe is logged although the refusal writes nothing else. The auditors read them back
through :func:`entries`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access_log.models import AccessLogEntry
from app.auth.tokens import Principal

Actor = Principal | tuple[str, str, str]
"""Who read: a request's principal, or (subject, role, area) for the command line."""


def entry(
    actor: Actor,
    record_type: str,
    record_id: str,
    *,
    fields: Sequence[str] = (),
    purpose: str,
    at: datetime,
) -> AccessLogEntry:
    """One entry of the access log: who read which fields of what, when, and why."""
    sub, role, area = (
        (actor.sub, actor.role.value, actor.area) if isinstance(actor, Principal) else actor
    )
    return AccessLogEntry(
        at=at,
        actor_sub=sub[:200],
        actor_role=role,
        actor_area=area,
        record_type=record_type,
        record_id=record_id,
        fields=list(fields),
        purpose=purpose,
    )


def record(
    session: AsyncSession,
    actor: Actor,
    record_type: str,
    record_id: str,
    *,
    fields: Sequence[str] = (),
    purpose: str,
    at: datetime,
) -> None:
    """Add the entry to the request's transaction (:func:`entry`)."""
    session.add(entry(actor, record_type, record_id, fields=fields, purpose=purpose, at=at))


async def log_ledger_read(
    session: AsyncSession,
    principal: Principal,
    record_id: str,
    now: datetime,
    purpose: str = "台账",
) -> None:
    record(session, principal, "ledger", record_id, purpose=purpose, at=now)


def registry_probe(
    principal: Principal, household_id: str, now: datetime, why: str
) -> AccessLogEntry:
    """The access log's record of a request that ran into a person registered in a
    household: the request is refused without naming the household's area, and this entry
    travels on the refusal (``ProblemError.kept``) to commit after the rollback."""
    return entry(principal, "registry_probe", household_id, purpose=why, at=now)


async def entries(
    session: AsyncSession, *, record_id: str | None, actor: str | None, limit: int
) -> Sequence[AccessLogEntry]:
    """The log's entries, newest first, of one record or one actor when asked."""
    query = select(AccessLogEntry).order_by(AccessLogEntry.id.desc()).limit(limit)
    if record_id:
        query = query.where(AccessLogEntry.record_id == record_id)
    if actor:
        query = query.where(AccessLogEntry.actor_sub == actor)
    return (await session.execute(query)).scalars().all()

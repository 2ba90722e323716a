"""Each read of a ledger is in the access log, written before the ledger is answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.access_log.models import AccessLogEntry
from app.auth.tokens import Principal


async def log_ledger_read(
    session: AsyncSession, principal: Principal, record_id: str, now: datetime,
    purpose: str = "台账",
) -> None:  # fmt: skip
    async with session.begin():
        session.add(AccessLogEntry(at=now, actor_sub=principal.sub,
                                   actor_role=principal.role.value, actor_area=principal.area,
                                   record_type="ledger", record_id=record_id, fields=[],
                                   purpose=purpose))  # fmt: skip


async def log_registry_probe(
    session: AsyncSession, principal: Principal, household_id: str, now: datetime, why: str
) -> None:
    """A request that ran into a person registered in a household: it is answered without
    naming the household's area, and the probe is in the access log for auditors."""
    async with session.begin():
        session.add(AccessLogEntry(at=now, actor_sub=principal.sub,
                                   actor_role=principal.role.value, actor_area=principal.area,
                                   record_type="registry_probe", record_id=household_id,
                                   fields=[], purpose=why))  # fmt: skip

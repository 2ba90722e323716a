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

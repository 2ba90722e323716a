"""Each read of a ledger is in the access log, committed with the request before the ledger
is answered; a refused registry probe is logged although the refusal writes nothing else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.access_log.models import AccessLogEntry
from app.auth.tokens import Principal


async def log_ledger_read(
    session: AsyncSession, principal: Principal, record_id: str, now: datetime,
    purpose: str = "台账",
) -> None:  # fmt: skip
    session.add(AccessLogEntry(at=now, actor_sub=principal.sub,
                               actor_role=principal.role.value, actor_area=principal.area,
                               record_type="ledger", record_id=record_id, fields=[],
                               purpose=purpose))  # fmt: skip


def registry_probe(principal: Principal, household_id: str, now: datetime, why: str
                   ) -> AccessLogEntry:  # fmt: skip
    """The access log's record of a request that ran into a person registered in a
    household: the request is refused without naming the household's area, and this entry
    travels on the refusal (``ProblemError.kept``) to commit after the rollback."""
    return AccessLogEntry(at=now, actor_sub=principal.sub, actor_role=principal.role.value,
                          actor_area=principal.area, record_type="registry_probe",
                          record_id=household_id, fields=[], purpose=why)  # fmt: skip

"""The timer worker: fires due timers, each in its own transaction, exactly once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.clock import Clock
from app.core.errors import ProblemError
from app.timers import repository as repo

log = logging.getLogger(__name__)

Fire = Callable[[AsyncSession, str, str, str | None, datetime], Awaitable[str]]
"""What a due timer calls for, done by the domain whose timer it is (the case's write path:
``app.cases.service.fire_timer``); answers what became of it. The entry points pass it in, so
the timer table knows no domain above it."""


async def process_due(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, fire: Fire, *, limit: int = 500
) -> int:
    """Fire the timers due now (at most ``limit``); answers how many were fired."""
    fired = 0
    while fired < limit:
        now = clock.now()
        async with sessionmaker() as session, session.begin():
            timer = await repo.claim_due(session, now)
            if timer is None:
                break
            try:
                async with session.begin_nested():
                    timer.outcome = await fire(
                        session, timer.case_id, timer.kind, timer.procedure, now
                    )
            except ProblemError as error:
                # The rules refuse (an open objection, say): recorded, and the timer is done.
                codes = [u["code"] for u in error.extra.get("unmet", [])] or [error.code]
                timer.outcome = "refused: " + ", ".join(codes)
            timer.fired_at = now
        fired += 1
        log.info("timer %s (%s) on case %s: %s", timer.id, timer.kind, timer.case_id, timer.outcome)
    return fired

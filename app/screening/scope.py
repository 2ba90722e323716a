"""Which rounds a household belongs to: every round over its village that still runs.

A round's tasks are written when it opens, for the households registered then; a household
registered later while the round runs (不留死角) becomes a task of it in the transaction that
registers it, so visits, the task list and progress all count it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import bindparam, exists, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.direct import DirectRow
from app.screening.models import ScreeningRound, ScreeningTask


def _running(day: str) -> Any:
    """Rounds still running on the date bound as ``day``."""
    return or_(ScreeningRound.ends_on.is_(None), ScreeningRound.ends_on >= bindparam(day))


_RUNNING = DirectRow(select(ScreeningRound.id, ScreeningRound.area_codes).where(_running("today")))
"""The rounds still running on a day: compiled once, as every new household asks it."""


def any_round_running() -> Any:
    """Whether any round, over any area, still runs on the date bound as ``day``: when none
    does, :func:`join_running_rounds` writes nothing (its condition on the registry's hook,
    ``app.wiring``)."""
    return exists().where(_running("day"))


async def join_running_rounds(
    session: AsyncSession, household_id: str, village_code: str, today: date
) -> list[str]:
    """Make a new household a task of every round over its village still running on
    ``today``; answers those rounds' ids."""
    rounds = [
        round_id
        for round_id, codes in await _RUNNING.all(session, {"today": today})
        if any(village_code.startswith(code) for code in codes)
    ]
    if rounds:
        await session.execute(
            insert(ScreeningTask),
            [
                {"round_id": r, "household_id": household_id, "village_code": village_code}
                for r in rounds
            ],
        )
    return rounds

"""What other domains keep in step with the registry (connected in ``app.wiring``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.hooks import Hook

household_registered: Hook[[AsyncSession, str, str, date]] = Hook(
    "household registered",
    """A household entered the registry (its id, its village, the local date), in the
    registering transaction: the screening rounds running over its village take it as a
    task (不留死角, app.screening.scope). A listener's ``writes_when`` condition is over the
    local date bound as ``day``.""",
)
